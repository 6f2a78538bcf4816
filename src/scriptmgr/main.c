/*-------------------------------------------------------------------------
 *
 * main.c
 *	  scriptmgr: start, stop and inspect the Skytools jobs that
 *	  /etc/skytools.ini lists.
 *
 *	scriptmgr [switches] SKYTOOLS.ini COMMAND [-a | -t SERVICE | JOB ...] [-w]
 *
 * scriptmgr takes no pidfile of its own (scriptmgr3 did, so that two runs
 * at once failed), and -d, -r, -s and -k of the frame make no sense for it.
 *
 * src/scriptmgr/main.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/script.h"
#include "scriptmgr/scriptmgr.h"

#define OPT_NO_SYSTEMD 2001

static const char *const service_names[] = {"scriptmgr", NULL};

static const char ini_template[] =
"[scriptmgr]\n"
"job_name = skytools\n"
"logfile = /var/log/skytools/%(job_name)s.log\n"
"# comma-separated globs; ~ and $VARS are expanded\n"
"config_list = /etc/skytools/*.ini\n"
"\n"
"[DEFAULT]\n"
"# every service's working directory, unless it sets its own\n"
"cwd = /\n"
"\n"
"# one section per service type, named like the main section of its jobs\n"
"#[queue_mover3]\n"
"#script = /usr/bin/queue_mover\n"
"#args = -v\n"
"#user = skytools\n"
"#disabled = 0\n";

static void
usage(void)
{
	printf("scriptmgr starts, stops and inspects the Skytools jobs listed by a skytools.ini.\n\n");
	printf("Usage:\n  scriptmgr [OPTION]... SKYTOOLS.ini COMMAND [-a | -t SERVICE | JOB...] [-w]\n\n");
	printf("Commands:\n");
	printf("  status                 one line per job: OK, STOPPED or pidfile? (default: all jobs)\n");
	printf("  info                   each job's settings (default: all jobs)\n");
	printf("  list                   job, service, state, pid, config, pidfile (default: all jobs)\n");
	printf("  check                  load every job config and report problems\n");
	printf("  start                  start jobs in the background\n");
	printf("  stop                   ask jobs to stop after their current work (SIGINT)\n");
	printf("  restart                stop jobs, wait until they are gone, start them\n");
	printf("  reload                 make jobs reload their config and reopen logs (SIGHUP)\n");
	printf("  exec JOB               run one job in the foreground (for systemd)\n");
	printf("\nOptions:\n");
	printf("  -a, --all              all jobs\n");
	printf("  -t, --type=SERVICE     all jobs of one service type\n");
	printf("  -w, --wait             stop: wait until the jobs are gone\n");
	printf("      --no-systemd       fork jobs even where systemd runs them as skytools@JOB\n");
	printf("  -q, --quiet            log only warnings and errors\n");
	printf("  -v, --verbose          log debug messages (twice: trace)\n");
	printf("      --ini              print a commented sample skytools.ini\n");
	printf("      --set=KEY=VALUE    override a [scriptmgr] value (repeatable)\n");
	printf("  -V, --version          output version information, then exit\n");
	printf("  -h, --help             show this help, then exit\n");
	printf("\nExit status: 0 done; 1 a job or config failed; 2 usage error.\n");
}

static void
usage_error(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "scriptmgr: %s\n", msg);
	fprintf(stderr, "Try \"scriptmgr --help\" for more information.\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		SKY_SCRIPT_LONGOPTS,
		{"all", no_argument, NULL, 'a'},
		{"type", required_argument, NULL, 't'},
		{"wait", no_argument, NULL, 'w'},
		{"no-systemd", no_argument, NULL, OPT_NO_SYSTEMD},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	SkyScript	script = {0};
	SmTargets	targets = {0};
	SmJobs		jobs = {0};
	const char *command;
	bool		no_systemd = false;
	int			c;

	script.progname = "scriptmgr";
	script.service_names = service_names;
	script.ini_template = ini_template;
	sky_log_init();
	/* a config value that cannot be read is a broken config, not a usage error */
	sky_log_set_fatal_exit(1);

	while ((c = getopt_long(argc, argv, SKY_SCRIPT_SHORTOPTS "at:whV",
							long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'a':
				targets.all = true;
				break;
			case 't':
				targets.type = optarg;
				break;
			case 'w':
				targets.wait = true;
				break;
			case OPT_NO_SYSTEMD:
				no_systemd = true;
				break;
			case 'h':
				usage();
				exit(0);
			case 'V':
				printf("scriptmgr (pgq) %s\n", PGQ_VERSION);
				exit(0);
			case 'd':
			case 'r':
			case 's':
			case 'k':
				usage_error("-d, -r, -s and -k do not apply to scriptmgr; use its commands");
				break;
			default:
				if (!sky_script_option(&script, c, optarg))
					usage_error(NULL);
		}
	}
	if (script.print_ini)
	{
		sky_script_print_ini(&script);
		exit(0);
	}
	if (optind >= argc)
		usage_error("no config file given");
	if (optind + 1 >= argc)
		usage_error("no command given");
	command = argv[optind + 1];
	targets.names = argv + optind + 2;
	targets.nnames = argc - optind - 2;
	if ((targets.nnames > 0) + targets.all + (targets.type != NULL) > 1)
		usage_error("-a, -t and job names exclude each other");

	if (!sky_script_load(&script, argv[optind]))
		exit(1);
	sm_systemd_init(no_systemd);
	sm_load_services(script.cf, &jobs);
	sm_discover_jobs(script.cf, &jobs);
	c = sm_run_command(&jobs, command, &targets);
	/* check reports discovery problems itself; others fail on them too */
	if (c == 0 && jobs.errors > 0 && strcmp(command, "check") != 0)
		c = 1;
	exit(c);
}
