#!/bin/sh
# Runs inside the test/boot container, as a oneshot unit after
# skytools.target, and writes TAP to $1.  Waits poll with a generous limit;
# nothing asserts how long anything took.

out=$1
n=0
: > "$out"

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2" >> "$out"
	else echo "not ok $n - $2" >> "$out"; fi
}
check() {	# check DESCRIPTION COMMAND...
	desc=$1; shift
	"$@" > /dev/null 2>&1; ok $? "$desc"
}
wait_for() {	# wait_for COMMAND...: true once COMMAND succeeds, within 60 s
	i=0
	while [ $i -lt 600 ]; do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
active() { [ "$(systemctl is-active "$1")" = active ]; }
inactive() { [ "$(systemctl is-active "$1")" = inactive ]; }
main_pid() { systemctl show -p MainPID --value "$1"; }
pid_changed() { p=$(main_pid "$1"); [ "$p" != 0 ] && [ "$p" != "$2" ]; }
log_has() { grep -q "$2" "/var/log/skytools/$1.log"; }

gen=/run/systemd/generator
check 'the generator wrote a drop-in for alpha' test -f "$gen/skytools@alpha.service.d/50-skytools.conf"
check 'and linked it into skytools.target' test -L "$gen/skytools.target.wants/skytools@alpha.service"
check 'nothing for the disabled job' test ! -e "$gen/skytools@off.service.d"
check 'alpha runs after boot' wait_for active skytools@alpha.service
check 'beta runs after boot' wait_for active skytools@beta.service
check 'alpha works (its log has work lines)' wait_for log_has alpha 'work marker=alpha'
check 'the disabled job does not run' inactive skytools@off.service

pid=$(main_pid skytools@alpha.service)
check 'the main process is the job itself' grep -q framework_probe "/proc/$pid/cmdline"
check 'the job runs as skytools' test "$(ps -o user= -p "$pid")" = skytools
check 'the job wrote its pidfile' test "$(cat /run/skytools/alpha.pid 2>/dev/null)" = "$pid"
scriptmgr /etc/skytools.ini status > /tmp/status 2>> "$out.err"
sed 's/^/# /' /tmp/status >> "$out"
check 'scriptmgr status: alpha OK with its unit active' \
	grep -qxF ' OK       [framework_probe] alpha  (skytools@alpha.service active)' /tmp/status

systemctl reload skytools@alpha.service
check 'systemctl reload reaches the job (SIGHUP)' wait_for log_has alpha 'Config reloaded'

kill -9 "$pid"
check 'a job killed with -9 is restarted (Restart=on-failure)' \
	wait_for pid_changed skytools@alpha.service "$pid"
check 'and runs again' wait_for active skytools@alpha.service

scriptmgr /etc/skytools.ini stop alpha 2>> "$out.err"
ok $? 'scriptmgr stop alpha: exit 0 (through systemctl)'
check 'alpha is stopped, not failed' inactive skytools@alpha.service
check 'systemd did the stop (a stop job in the journal)' \
	sh -c "journalctl --no-pager -u skytools@alpha.service | grep -q 'Stopping skytools@alpha.service'"
check 'alpha stopped cleanly (SIGINT: its log says stopping)' log_has alpha 'stopping'
check 'alpha removed its pidfile' test ! -e /run/skytools/alpha.pid
check 'beta still runs' active skytools@beta.service

scriptmgr /etc/skytools.ini start alpha 2>> "$out.err"
ok $? 'scriptmgr start alpha: exit 0'
check 'alpha runs again' wait_for active skytools@alpha.service

systemctl stop skytools.target
check 'stopping skytools.target stops alpha' inactive skytools@alpha.service
check 'and beta' inactive skytools@beta.service

echo "1..$n" >> "$out"
sed 's/^/# /' "$out.err" >> "$out" 2>/dev/null
