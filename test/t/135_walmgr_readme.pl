# The README's two walmgr walk-throughs, "One machine" and "Two hosts",
# run as README.md writes them: the ini files and commands are read from
# it, so they cannot drift apart from what is tested.  Each must end with a
# standby that followed its primary and, once the primary is lost, is
# promoted by "boot --finish" with every committed row and no error in its
# log.
#
# What differs from a real Debian machine is supplied around the README's
# text, not by changing it: HOME is a directory of this test (one per
# host), the README's data directories and ports are replaced by this
# test's clusters, and stand-ins for Debian's pg_createcluster and
# pg_ctlcluster, for ssh (which runs the command here, in the other host's
# environment) and for ssh-keygen come first on the PATH, then the directory
# of the installed walmgr (make installcheck puts PostgreSQL's bindir, where
# an earlier build may have left a walmgr, first).  Lines for root
# (the network and authentication settings of "Two hosts") are skipped: the
# test clusters trust local connections already.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Path qw(make_path);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalmgrTest;

# Debian's clusters belong to the role postgres, whoever runs the test
local $ENV{PGUSER} = 'postgres';

my $readme = slurp("$ENV{TESTDIR}/README.md");
my @to_stop;    # daemons and servers the test itself did not start

# The commands of a README section: indented lines after a prompt ("$",
# "db1$", "arch#"), each with the lines of its here-document.
sub readme_steps
{
	my ($title) = @_;
	my ($section) = $readme =~ /^### \Q$title\E\n(.*?)(?=^#{1,3} )/ms
	  or die "README.md has no section \"$title\"";
	my (@steps, $heredoc);

	foreach my $line (grep { s/^    // } split /\n/, $section)
	{
		if (defined $heredoc)
		{
			$steps[-1]{cmd} .= "\n$line";
			undef $heredoc if $line eq $heredoc;
			next;
		}
		my ($host, $prompt, $cmd) = $line =~ /^(\w*)([\$#]) +(.*)$/
		  or die "README.md, \"$title\": not a command: $line";
		push @steps, { host => $host, root => $prompt eq '#', cmd => $cmd };
		($heredoc) = $cmd =~ /<<'(\w+)'/;
	}
	return @steps;
}

# Stand-ins for Debian's cluster tools, for the clusters given as
# { host, name, node, confdir }: a cluster is found by the host the command
# runs on (WALMGR_TEST_HOST) and its name.  pg_createcluster keeps the
# configuration apart from the data directory, as Debian does, so that a
# restored data directory comes up with the standby's port.
sub write_debian_stand_ins
{
	my ($bin, @clusters) = @_;
	my $find = "case \"\${WALMGR_TEST_HOST:-}:\$2\" in\n";

	foreach my $c (@clusters)
	{
		$find .= sprintf("%s:%s) conf='%s' data='%s' log='%s' port=%d ;;\n",
			$c->{host}, $c->{name}, $c->{confdir}, $c->{node}->data_dir,
			$c->{node}->logfile, $c->{node}->port);
	}
	$find .= "*) echo \"\$0: no cluster \$1/\$2 here\" >&2; exit 1 ;;\nesac\n";

	write_file("$bin/pg_ctlcluster",
		"#!/bin/sh\n# test stand-in for Debian's pg_ctlcluster VERSION NAME ACTION\n"
		  . $find
		  . "exec pg_ctl -D \"\$conf\" -l \"\$log\" -w \"\$3\"\n");
	write_file("$bin/pg_createcluster",
		"#!/bin/sh\n# test stand-in for Debian's pg_createcluster VERSION NAME\n" . $find . <<'SH');
initdb -D "$data" -U postgres -A trust -N >/dev/null || exit 1
mkdir -p "$conf" || exit 1
mv "$data/postgresql.conf" "$data/pg_hba.conf" "$data/pg_ident.conf" "$conf/" || exit 1
cat >>"$conf/postgresql.conf" <<EOF
data_directory = '$data'
hba_file = '$conf/pg_hba.conf'
ident_file = '$conf/pg_ident.conf'
port = $port
listen_addresses = ''
unix_socket_directories = '$PGHOST'
fsync = off
EOF
SH
	write_file("$bin/ssh-keygen", <<'SH');
#!/bin/sh
# test stand-in for ssh-keygen: a key pair the stand-in ssh never reads,
# in a directory made as ssh-keygen makes ~/.ssh
while [ $# -gt 0 ]; do [ "$1" = -f ] && file=$2; shift; done
mkdir -p -m 700 "$(dirname "$file")" &&
	echo "test key" >"$file" && echo "ssh-ed25519 AAAA test" >"$file.pub"
SH
	chmod 0755, map { "$bin/$_" } qw(pg_ctlcluster pg_createcluster ssh-keygen);
	return;
}

# A stand-in for ssh: runs the command here in the environment of the host
# it names ("export VAR=value" lines per host in %$hosts).
sub write_ssh_stand_in
{
	my ($bin, $hosts) = @_;
	my $body = "#!/bin/sh\n# test stand-in for ssh: [OPTION]... HOST COMMAND, run here as on HOST\n"
	  . "while :; do case \"\$1\" in -o) shift 2 ;; -*) shift ;; *) break ;; esac; done\n"
	  . "host=\$1; shift\ncase \"\$host\" in\n";
	foreach my $host (sort keys %$hosts)
	{
		$body .= "$host)";
		$body .= " export $_='$hosts->{$host}{env}{$_}';" foreach sort keys %{ $hosts->{$host}{env} };
		$body .= " ;;\n";
	}
	$body .= "*) echo \"ssh: unknown host \$host\" >&2; exit 255 ;;\nesac\nexec /bin/sh -c \"\$*\"\n";
	write_file("$bin/ssh", $body);
	chmod 0755, "$bin/ssh";
	return;
}

# Run a README command with /bin/sh as the host's postgres user would.
sub run_step
{
	my ($cmd, $env) = @_;
	my ($out, $err) = ('', '');
	local %ENV = (%ENV, %$env);
	IPC::Run::run([ '/bin/sh', '-c', $cmd ], '<', \'', '>', \$out, '2>', \$err);
	return { rc => $? >> 8, stdout => $out, stderr => $err };
}

# Run the section's steps on $primary and $standby, with $hosts giving
# each prompt's environment and replacements; check the result.
sub walk_through
{
	my ($title, $hosts, $primary, $standby) = @_;
	my (%seen, $rows, $boot_log);

	foreach my $step (readme_steps($title))
	{
		next if $step->{root};
		my $host = $hosts->{ $step->{host} } or die "no host \"$step->{host}\"";
		my $cmd = $step->{cmd};
		my ($name) = $cmd =~ /^(.*)/;
		my $r;

		$cmd =~ s/\Q$_->[0]\E/$_->[1]/g foreach @{ $host->{subst} };
		if ($cmd =~ /\bboot --finish\b/)
		{
			$rows = lose_primary($title, $primary, $standby);
			$boot_log = log_of_reload($standby, sub { $r = run_step($cmd, $host->{env}) });
		}
		else
		{
			$r = run_step($cmd, $host->{env});
		}
		is($r->{rc}, 0, "$title: $step->{host}\$ $name") or diag($r->{stderr});

		$seen{$_} = 1 foreach grep { $cmd =~ /^walmgr\b.* \Q$_\E\b/ } qw(setup restore receive boot);
		if ($cmd =~ /^walmgr -d (\S+) receive/)
		{
			push @to_stop, [ "walmgr -k $1", $host->{env} ];
		}
		if ($cmd =~ /^walmgr \S+ restore/)
		{
			ok($standby->poll_query_until('postgres', 'select pg_is_in_recovery()'),
				"$title: the restored standby is up, in recovery");
		}
	}
	ok($seen{$_}, "$title: the README has walmgr $_") foreach qw(setup restore receive boot);

	is($standby->safe_psql('postgres', 'select pg_is_in_recovery()'), 'f', "$title: the standby is promoted");
	is($standby->safe_psql('postgres', 'select count(*), sum(x) from t'), $rows,
		"$title: with every row the primary committed");
	ok(defined $boot_log, "$title: boot reloaded the configuration");
	unlike($boot_log // '', qr/contains errors|cannot be changed without restarting/,
		"$title: ... without an error");
	return;
}

# Write rows the standby follows, then crash the primary.  Returns what the
# standby must have once promoted.
sub lose_primary
{
	my ($title, $primary, $standby) = @_;
	my $rows;

	$primary->safe_psql('postgres', 'create table t (x int); insert into t select generate_series(1, 1000)');
	$rows = $primary->safe_psql('postgres', 'select count(*), sum(x) from t');
	ok($standby->poll_query_until('postgres', 'select count(*) = 1000 from t'),
		"$title: the standby follows the primary");
	$primary->stop('immediate');
	return $rows;
}

# What both walk-throughs start from: a directory for the hosts' HOMEs, a
# bin directory of stand-ins, a running primary and a standby yet to be
# created, each given as [ host, Debian cluster name, node name ].
sub start_machines
{
	my ($primary_at, $standby_at) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my $bin = "$dir/bin";
	my $primary = PostgreSQL::Test::Cluster->new($primary_at->[2]);
	my $standby = PostgreSQL::Test::Cluster->new($standby_at->[2]);

	mkdir $bin;
	$primary->init(allows_streaming => 1, extra => [ '-U', 'postgres' ]);
	$primary->start;
	write_debian_stand_ins(
		$bin,
		{ host => $primary_at->[0], name => $primary_at->[1], node => $primary, confdir => $primary->data_dir },
		{
			host    => $standby_at->[0],
			name    => $standby_at->[1],
			node    => $standby,
			confdir => $standby->basedir . '/etc'
		});
	return ($dir, $bin, $primary, $standby);
}

END
{
	local $?;    # the test's exit status

	foreach (@to_stop)
	{
		my ($cmd, $env) = @$_;
		run_step($cmd, $env);
	}
}

#### One machine

{
	my ($dir, $bin, $primary, $standby) = start_machines([ '', 'main', 'main' ], [ '', 'standby', 'standby' ]);
	my %hosts = (
		'' => {
			env   => { HOME => $dir, PATH => "$bin:" . dirname($WALMGR) . ":$ENV{PATH}" },
			subst => [
				[ '/var/lib/postgresql/15/main',    $primary->data_dir ],
				[ '/var/lib/postgresql/15/standby', $standby->data_dir ],
				[ 'port=5432', 'port=' . $primary->port ],
				[ 'port=5433', 'port=' . $standby->port ],
			],
		});
	push @to_stop, [ "pg_ctlcluster 15 standby stop", $hosts{''}{env} ];

	walk_through('One machine', \%hosts, $primary, $standby);
	ok(-e "$dir/walshipping/ARCHIVE_ID", 'One machine: the archive is ~/walshipping');
	is(run_step('pg_ctlcluster 15 standby stop', $hosts{''}{env})->{rc}, 0, 'One machine: standby stopped');
}

#### Two hosts

{
	my ($dir, $bin, $primary, $standby) = start_machines([ 'db1', 'main', 'db1' ], [ 'arch', 'main', 'arch' ]);
	my %hosts;
	foreach my $node ($primary, $standby)
	{
		my $name = $node->name;
		make_path("$dir/$name");
		$hosts{$name} = {
			env => {
				HOME             => "$dir/$name",
				PATH             => "$bin:" . dirname($WALMGR) . ":$ENV{PATH}",
				PGPORT           => $node->port,
				WALMGR_TEST_HOST => $name,
			},
			subst => [
				[ '/var/lib/postgresql/15/main', $node->data_dir ],
				[ 'host=db1', "host=$ENV{PGHOST} port=" . $primary->port ],
			],
		};
	}
	write_ssh_stand_in($bin, \%hosts);

	# Debian's 15/main on arch, running; restore replaces it by the standby
	is(run_step('pg_createcluster 15 main && pg_ctlcluster 15 main start', $hosts{arch}{env})->{rc},
		0, 'Two hosts: arch has its own 15/main running');
	push @to_stop, [ "pg_ctlcluster 15 main stop", $hosts{arch}{env} ];

	walk_through('Two hosts', \%hosts, $primary, $standby);
	ok(-e "$dir/arch/walshipping/ARCHIVE_ID", 'Two hosts: the archive is ~/walshipping on arch');
	ok(!-e "$dir/db1/walshipping", 'Two hosts: ... and nothing of it on db1');
	is(run_step('pg_ctlcluster 15 main stop', $hosts{arch}{env})->{rc}, 0, 'Two hosts: standby stopped');
}

done_testing();
