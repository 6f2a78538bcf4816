/*-------------------------------------------------------------------------
 *
 * framework_probe.c
 *	  A minimal client program on the shared frame, for its tests.
 *
 * The real programs use the frame for one-shot commands; this one exposes
 * the rest of it so that test/t/090_framework.pl can check config parsing,
 * daemon mode, the pidfile, signals and log reopening in isolation.
 *
 *	framework_probe [switches] INI get KEY [str|file|int|float|bool|bytes] [DEFAULT]
 *	framework_probe [switches] INI loop
 *
 * "get" prints one value.  "loop" logs one "work marker=..." line per
 * loop_delay using the config key "marker"; with "fail_startup" set it
 * fails after going to the background, before reporting readiness.  With
 * "work_seconds" each unit of work takes that long whatever signals
 * arrive, like a batch that must not be cut short, and ends with a
 * "work done" line.  A reload whose config sets "refuse_reload" is refused,
 * as a program refuses a config it cannot use.
 *
 * test/framework/framework_probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "framework/config.h"
#include "framework/daemon.h"
#include "framework/log.h"
#include "framework/script.h"

static const char *const service_names[] = {"framework_probe", NULL};

static SkyWorkResult
probe_work(SkyScript *script, void *arg)
{
	char	   *marker = sky_config_get(script->cf, "marker", "none");

	double		work_seconds = sky_config_get_float(script->cf, "work_seconds", 0);

	log_info("work marker=%s loop_delay=%g", marker, script->loop_delay);
	pg_free(marker);
	if (work_seconds > 0)
	{
		struct timespec left;

		left.tv_sec = (time_t) work_seconds;
		left.tv_nsec = (long) ((work_seconds - (double) left.tv_sec) * 1e9);
		while (nanosleep(&left, &left) != 0)
			;
		log_info("work done");
	}
	return SKY_WORK_IDLE;
}

/* a program that checks its keys at reload: refuse_reload = 1 is refused */
static bool
probe_reload(SkyScript *script, void *arg)
{
	if (sky_config_get_bool(script->cf, "refuse_reload", false))
	{
		log_error("refusing the new config: refuse_reload is set");
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		SKY_SCRIPT_LONGOPTS,
		{NULL, 0, NULL, 0}
	};
	SkyScript	script = {0};
	int			c;
	const char *cmd;

	script.progname = "framework_probe";
	script.service_names = service_names;
	script.ini_template = "[framework_probe]\njob_name = probe\n# marker goes into every work line\n#marker = x\nloop_delay = 1\n";
	sky_log_init();
	sky_log_set_fatal_exit(2);

	while ((c = getopt_long(argc, argv, SKY_SCRIPT_SHORTOPTS, long_options, NULL)) != -1)
	{
		if (!sky_script_option(&script, c, optarg))
		{
			fprintf(stderr, "Try \"framework_probe --help\" for more information.\n");
			exit(2);
		}
	}
	if (script.print_ini)
	{
		sky_script_print_ini(&script);
		exit(0);
	}
	if (optind >= argc)
	{
		fprintf(stderr, "framework_probe: no config file given\n");
		exit(2);
	}
	if (!sky_script_load(&script, argv[optind]))
		exit(2);
	if (script.send_signal)
		exit(sky_script_send_signal(&script));
	cmd = (optind + 1 < argc) ? argv[optind + 1] : "loop";

	if (strcmp(cmd, "get") == 0 && optind + 2 < argc)
	{
		const char *key = argv[optind + 2];
		const char *type = (optind + 3 < argc) ? argv[optind + 3] : "str";
		const char *def = (optind + 4 < argc) ? argv[optind + 4] : NULL;

		if (strcmp(type, "str") == 0)
			printf("%s\n", sky_config_get(script.cf, key, def));
		else if (strcmp(type, "file") == 0)
			printf("%s\n", sky_config_get_file(script.cf, key, def));
		else if (strcmp(type, "int") == 0)
			printf("%d\n", sky_config_get_int(script.cf, key, 0));
		else if (strcmp(type, "float") == 0)
			printf("%g\n", sky_config_get_float(script.cf, key, 0));
		else if (strcmp(type, "bytes") == 0)
			printf("%lld\n", (long long) sky_config_get_bytes(script.cf, key, 0));
		else if (strcmp(type, "bool") == 0)
			printf("%s\n", sky_config_get_bool(script.cf, key, false) ? "true" : "false");
		else
		{
			fprintf(stderr, "framework_probe: unknown type \"%s\"\n", type);
			exit(2);
		}
		exit(0);
	}
	if (strcmp(cmd, "loop") == 0)
	{
		if (!sky_script_start(&script))
			exit(1);
		if (sky_config_get_bool(script.cf, "fail_startup", false))
			sky_fatal("startup failed as configured");
		exit(sky_script_loop(&script, probe_work, probe_reload, NULL));
	}
	fprintf(stderr, "framework_probe: unknown command \"%s\"\n", cmd);
	exit(2);
}
