/*-------------------------------------------------------------------------
 *
 * main.c
 *	  walmgr: WAL archiving, base backups and standbys for PostgreSQL 15.
 *
 *	  walmgr [OPTION]... INI COMMAND [ARG]...
 *
 * One program with one ini file per host, as walmgr3: the primary's ini
 * (it has master_data) and the archive host's ini.  PostgreSQL itself runs
 * it as archive_command (xarchive) and restore_command (xrestore); the
 * primary runs it on the archive host through ssh_command for the x*
 * commands there.  The one-shot commands take no pidfile, so any number of
 * them can run at once.
 *
 * src/walmgr/main.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <limits.h>
#include <unistd.h>

#include "compress.h"
#include "framework/log.h"
#include "walmgr.h"

typedef struct Command
{
	const char *name;
	int			(*run) (Walmgr *wm);
	int			config_error_exit;	/* exit status of a config error */
} Command;

/*
 * A config error in archive_command is a transient failure (PostgreSQL
 * retries and the admin fixes the file); in restore_command it must be
 * fatal (see restore.c); in admin commands it is a usage error.
 */
static const Command commands[] = {
	{"setup", cmd_setup, WALMGR_EXIT_USAGE},
	{"stop", cmd_stop, WALMGR_EXIT_USAGE},
	{"periodic", cmd_periodic, WALMGR_EXIT_USAGE},
	{"status", cmd_status, WALMGR_EXIT_USAGE},
	{"sync", cmd_sync, WALMGR_EXIT_USAGE},
	{"syncdaemon", cmd_syncdaemon, WALMGR_EXIT_USAGE},
	{"synch-standby", cmd_synch_standby, WALMGR_EXIT_USAGE},
	{"xpartialsync", cmd_xreceive, WALMGR_EXIT_FAIL},
	{"xarchive", cmd_xarchive, WALMGR_EXIT_FAIL},
	{"xreceive", cmd_xreceive, WALMGR_EXIT_FAIL},
	{"xrestore", cmd_xrestore, WALMGR_EXIT_RESTORE_ERROR},
	{"xsetup", cmd_xsetup, WALMGR_EXIT_USAGE},
	{"backup", cmd_backup, WALMGR_EXIT_USAGE},
	{"listbackups", cmd_listbackups, WALMGR_EXIT_USAGE},
	{"verify", cmd_verify, WALMGR_EXIT_USAGE},
	{"receive", cmd_receive, WALMGR_EXIT_FAIL},
	{"restore", cmd_restore, WALMGR_EXIT_USAGE},
	{"createslave", cmd_createslave, WALMGR_EXIT_USAGE},
	{"boot", cmd_boot, WALMGR_EXIT_USAGE},
	{"pause", cmd_pause, WALMGR_EXIT_USAGE},
	{"continue", cmd_continue, WALMGR_EXIT_USAGE},
	{"cleanup", cmd_cleanup, WALMGR_EXIT_USAGE},
	{"xlock", cmd_xlock, WALMGR_EXIT_USAGE},
	{"xrelease", cmd_xrelease, WALMGR_EXIT_USAGE},
	{"xrotate", cmd_xrotate, WALMGR_EXIT_USAGE},
	{"xpurgewals", cmd_xpurgewals, WALMGR_EXIT_USAGE},
	{NULL, NULL, 0}
};

static const char *const service_names[] = {"walmgr", NULL};

static const char ini_template[] =
"[walmgr]\n"
"# job_name = wal-master\n"
"logfile = ~/log/%(job_name)s.log\n"
"# pidfile = ~/pid/%(job_name)s.pid\n"
"\n"
"### primary side (the presence of master_data makes this a primary ini)\n"
"# master_db = dbname=postgres\n"
"# master_data = /var/lib/postgresql/15/main\n"
"# master_bin = /usr/lib/postgresql/15/bin\n"
"# master_restart_cmd = pg_ctlcluster 15 main restart\n"
"# archive host: an ssh destination, or empty/local for this host\n"
"# slave = archive-host\n"
"# slave_config = /var/lib/postgresql/conf/wal-slave.ini\n"
"# ssh_command = ssh -o BatchMode=yes\n"
"# walmgr's path on the archive host (default: the path of this walmgr)\n"
"# remote_walmgr = /usr/local/bin/walmgr\n"
"# command_interval = 600\n"
"# periodic_command = /var/lib/postgresql/walshipping/periodic.sh\n"
"# state_dir = ~/.walmgr/%(job_name)s\n"
"\n"
"### archive side (paths on the archive host)\n"
"walmgr_data = ~/walshipping\n"
"completed_wals = %(walmgr_data)s/logs.complete\n"
"partial_wals = %(walmgr_data)s/logs.partial\n"
"full_backup = %(walmgr_data)s/data.master\n"
"config_backup = %(walmgr_data)s/config.backup\n"
"# slave_data = /var/lib/postgresql/15/main\n"
"# slave_bin = /usr/lib/postgresql/15/bin\n"
"# slave_stop_cmd = pg_ctlcluster 15 main stop\n"
"# slave_start_cmd = pg_ctlcluster 15 main start\n"
"# primary_conninfo = host=primary user=replicator\n"
"# keep_backups = 0\n"
"# store segments compressed: none, gzip, lz4 or zstd\n"
"# compression = none\n"
"# restore_error_exit = fatal\n"
"# archive_cleanup = off\n";

static void usage(void);
static bool archive_has_own_ini(Walmgr *wm);

static void
usage(void)
{
	printf("walmgr manages a WAL archive, base backups and standbys of a PostgreSQL 15 cluster.\n\n");
	printf("Usage:\n  walmgr [OPTION]... INI COMMAND [ARG]...\n\n");
	printf("Primary commands:\n");
	printf("  setup                  enable archiving into the archive (ALTER SYSTEM)\n");
	printf("  stop [--discard]       stop archiving (--discard: throw WAL away)\n");
	printf("  backup                 take a base backup on the archive host\n");
	printf("  listbackups            list the backups on the archive host\n");
	printf("  periodic               run periodic_command if command_interval has passed\n");
	printf("  status [--check]       archiver state, WAL waiting, the archive host's state\n");
	printf("                         (--check: one line, exit 0 OK, 1 WARNING, 2 CRITICAL)\n");
	printf("  sync                   copy the segment being written to the archive's logs.partial\n");
	printf("  syncdaemon             sync every loop_delay seconds (use -d to detach)\n");
	printf("  synch-standby NAMES    set synchronous_standby_names ('' for none)\n");
	printf("  xarchive %%p %%f         archive one file (archive_command)\n");
	printf("\nArchive host commands:\n");
	printf("  setup                  create the archive directories\n");
	printf("  status                 what the archive holds\n");
	printf("  backup                 take a verified base backup from primary_conninfo\n");
	printf("  listbackups            list backups: start time, start and stop WAL, label\n");
	printf("  verify                 check every backup and the WAL from the oldest to the newest\n");
	printf("  receive                supervise pg_receivewal into the archive (use -d to detach)\n");
	printf("  restore [SET [DST]] [TARGET]\n");
	printf("                         copy a backup into slave_data (or DST) as a standby,\n");
	printf("                         or for recovery to TARGET\n");
	printf("  createslave            make slave_data a streaming standby with pg_basebackup\n");
	printf("  boot [--finish]        promote the standby (--finish: replay logs.partial first)\n");
	printf("  pause | continue       pause or resume replay on the standby\n");
	printf("  cleanup --force        remove the archive, all backups and old data directories\n");
	printf("  xlock [PID] | xrelease take or release the backup lock\n");
	printf("  xrotate                remove backups beyond keep_backups\n");
	printf("  xpurgewals             remove WAL older than the oldest kept backup\n");
	printf("  xrestore %%f %%p [%%r]    restore one file (restore_command)\n");
	printf("  xreceive NAME SIZE SHA256   far end of a remote xarchive\n");
	printf("  xpartialsync NAME SIZE SHA256   far end of a remote sync\n");
	printf("  xsetup SYSID SEGSIZE PGVERSION   far end of a remote setup\n");
	printf("\nOptions:\n");
	printf("  -n, --dry-run          say what would be done, change nothing\n");
	printf("      --not-really       same as --dry-run (walmgr3 name)\n");
	printf("      --force            allow destructive commands\n");
	printf("      --discard          stop: discard WAL instead of keeping it\n");
	printf("      --no-standby       restore: recover to the end of the archive and promote\n");
	printf("      --finish           boot: serve logs.partial to the standby before promoting\n");
	printf("      --target-time=TIME, --target-lsn=LSN, --target-xid=XID, --target-name=NAME,\n");
	printf("      --immediate        restore: recover to this point (recovery.signal)\n");
	printf("      --target-action=promote|pause|shutdown   what to do there (PostgreSQL: pause)\n");
	printf("      --target-timeline=latest|current|N       timeline to follow (default latest)\n");
	printf(SKY_SCRIPT_HELP);
	printf("  -V, --version          output version information, then exit\n");
	printf("  -?, --help             show this help, then exit\n");
	printf("\nConnection settings come from the ini (master_db); --set master_db=... overrides.\n");
	printf("\nExit status: 0 done; 1 failed (xrestore: not in archive); 2 usage or config error;\n"
		   "3 xarchive: different file already archived; 4 xarchive: invalid input;\n"
		   "255 xrestore: error other than \"not found\".\n");
	printf("\nReport bugs to the pgq project issue tracker.\n");
}

/*
 * On another host the archive side always has its own ini.  On this host
 * it has one when a primary's ini names one in slave_config: then, as on
 * another host, the archive's keys (walmgr_data, compression, keep_backups,
 * primary_conninfo, ...) are read from that ini, and so in the same place
 * as by the commands run with it directly.  A slave_config naming this
 * very ini (or none) leaves everything to this ini.
 */
static bool
archive_has_own_ini(Walmgr *wm)
{
	char	   *config;
	char		real[PATH_MAX];
	bool		own;

	if (strcmp(wm->slave, "local") != 0)
		return true;
	if (!wm->is_master)
		return false;
	config = wm_get_path(wm, "slave_config", "");
	own = config[0] != '\0' &&
		(realpath(config, real) == NULL || strcmp(real, wm->script.cf->path) != 0);
	pg_free(config);
	return own;
}

/*
 * Resolve the archive layout.  Keys keep their walmgr3 names and defaults:
 * everything lives under walmgr_data unless given one by one.
 */
static void
load_layout(Walmgr *wm)
{
	SkyConfig  *cf = wm->script.cf;
	char	   *base;

	wm->is_master = sky_config_has(cf, "master_data");
	wm->slave = wm_get(wm, "slave", "");
	if (wm->slave[0] == '\0')
	{
		pg_free(wm->slave);
		wm->slave = pg_strdup("local");
	}
	wm->archive_apart = archive_has_own_ini(wm);
	wm->compression = walcomp_storage(wm);
	base = wm_get_path(wm, "walmgr_data", "~/walshipping");
	wm->completed_wals = sky_config_has(cf, "completed_wals") ?
		wm_get_path(wm, "completed_wals", NULL) : psprintf("%s/logs.complete", base);
	wm->partial_wals = sky_config_has(cf, "partial_wals") ?
		wm_get_path(wm, "partial_wals", NULL) : psprintf("%s/logs.partial", base);
	wm->full_backup = sky_config_has(cf, "full_backup") ?
		wm_get_path(wm, "full_backup", NULL) : psprintf("%s/data.master", base);
	wm->config_backup = sky_config_has(cf, "config_backup") ?
		wm_get_path(wm, "config_backup", NULL) : psprintf("%s/config.backup", base);

	/*
	 * Old inis may set only completed_wals; the archive's own files
	 * (ARCHIVE_ID, flags) then go next to it.
	 */
	if (sky_config_has(cf, "walmgr_data"))
		wm->walmgr_data = base;
	else if (sky_config_has(cf, "completed_wals"))
	{
		wm->walmgr_data = pg_strdup(wm->completed_wals);
		get_parent_directory(wm->walmgr_data);
		pg_free(base);
	}
	else
		wm->walmgr_data = base;

	/* keys walmgr3 had that mean nothing now */
	if (sky_config_has(cf, "use_xlog_functions"))
		log_debug("ignoring use_xlog_functions: partial WAL is not shipped by SQL any more");
	if (sky_config_has(cf, "keep_symlinks"))
		log_debug("ignoring keep_symlinks: backups are taken with pg_basebackup");
	if (sky_config_has(cf, "hot_standby"))
		log_debug("ignoring hot_standby: PostgreSQL 15 always uses wal_level replica for it");
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		SKY_SCRIPT_LONGOPTS,
		{"help", no_argument, NULL, '?'},
		{"version", no_argument, NULL, 'V'},
		{"dry-run", no_argument, NULL, 'n'},
		{"not-really", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, 2001},
		{"discard", no_argument, NULL, 2002},
		{"no-standby", no_argument, NULL, 2003},
		{"finish", no_argument, NULL, 2004},
		{"check", no_argument, NULL, 2005},
		{"target-time", required_argument, NULL, 2010},
		{"target-lsn", required_argument, NULL, 2011},
		{"target-xid", required_argument, NULL, 2012},
		{"target-name", required_argument, NULL, 2013},
		{"immediate", no_argument, NULL, 2014},
		{"target-action", required_argument, NULL, 2015},
		{"target-timeline", required_argument, NULL, 2016},
		{NULL, 0, NULL, 0}
	};
	Walmgr		wm = {0};
	const Command *cmd;
	char		self[PATH_MAX];
	int			c;
	ssize_t		n;

	sky_log_init();
	wm.script.progname = "walmgr";
	wm.script.service_names = service_names;
	wm.script.ini_template = ini_template;

	if (argc > 1)
	{
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0)
		{
			usage();
			exit(0);
		}
		if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		{
			puts("walmgr (pgq) " PGQ_VERSION);
			exit(0);
		}
	}

	while ((c = getopt_long(argc, argv, SKY_SCRIPT_SHORTOPTS "nV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'n':
				wm.dry_run = true;
				break;
			case 2001:
				wm.force = true;
				break;
			case 2002:
				wm.discard = true;
				break;
			case 2003:
				wm.no_standby = true;
				break;
			case 2004:
				wm.finish = true;
				break;
			case 2005:
				wm.check = true;
				break;
			case 2010:
			case 2011:
			case 2012:
			case 2013:
			case 2014:
				{
					static const char *const names[] = {"recovery_target_time",
						"recovery_target_lsn", "recovery_target_xid",
					"recovery_target_name", "recovery_target"};

					if (wm.target_setting != NULL)
					{
						fprintf(stderr, "walmgr: only one recovery target can be given\n");
						exit(WALMGR_EXIT_USAGE);
					}
					wm.target_setting = names[c - 2010];
					wm.target_value = (c == 2014) ? "immediate" : optarg;
				}
				break;
			case 2015:
				if (strcmp(optarg, "promote") != 0 && strcmp(optarg, "pause") != 0 &&
					strcmp(optarg, "shutdown") != 0)
				{
					fprintf(stderr, "walmgr: --target-action must be promote, pause or shutdown\n");
					exit(WALMGR_EXIT_USAGE);
				}
				wm.target_action = optarg;
				break;
			case 2016:
				wm.target_timeline = optarg;
				break;
			case 'V':
				puts("walmgr (pgq) " PGQ_VERSION);
				exit(0);
			case '?':
				fprintf(stderr, "Try \"walmgr --help\" for more information.\n");
				exit(WALMGR_EXIT_USAGE);
			default:
				if (!sky_script_option(&wm.script, c, optarg))
				{
					fprintf(stderr, "Try \"walmgr --help\" for more information.\n");
					exit(WALMGR_EXIT_USAGE);
				}
		}
	}
	if (wm.script.print_ini)
	{
		sky_script_print_ini(&wm.script);
		exit(0);
	}
	if (optind >= argc)
	{
		fprintf(stderr, "walmgr: no config file given\n");
		fprintf(stderr, "Try \"walmgr --help\" for more information.\n");
		exit(WALMGR_EXIT_USAGE);
	}
	if (optind + 1 >= argc && wm.script.send_signal == 0)
	{
		fprintf(stderr, "walmgr: no command given\n");
		fprintf(stderr, "Try \"walmgr --help\" for more information.\n");
		exit(WALMGR_EXIT_USAGE);
	}

	cmd = NULL;
	if (optind + 1 < argc)
	{
		for (cmd = commands; cmd->name != NULL; cmd++)
			if (strcmp(cmd->name, argv[optind + 1]) == 0)
				break;
		if (cmd->name == NULL)
		{
			fprintf(stderr, "walmgr: unknown command \"%s\"\n", argv[optind + 1]);
			fprintf(stderr, "Try \"walmgr --help\" for more information.\n");
			exit(WALMGR_EXIT_USAGE);
		}
		wm.command = cmd->name;
		wm.args = argv + optind + 2;
		wm.nargs = argc - optind - 2;
		/* monitoring expects 3 (UNKNOWN) when the check cannot run at all */
		sky_log_set_fatal_exit(wm.check && cmd->run == cmd_status ? 3 : cmd->config_error_exit);
	}
	else
		sky_log_set_fatal_exit(WALMGR_EXIT_USAGE);

	if (!sky_script_load(&wm.script, argv[optind]))
		exit(cmd ? (wm.check && cmd->run == cmd_status ? 3 : cmd->config_error_exit) : WALMGR_EXIT_USAGE);
	if (wm.script.send_signal)
		exit(sky_script_send_signal(&wm.script));

	/* archive_command must be written with our absolute path */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
	{
		self[n] = '\0';
		wm.self_path = pg_strdup(self);
	}
	else
		wm.self_path = pg_strdup(argv[0]);

	load_layout(&wm);
	exit(cmd->run(&wm));
}
