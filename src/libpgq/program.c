/*-------------------------------------------------------------------------
 *
 * program.c
 *	  pgq_program_main(): a consumer program's command line, config,
 *	  logging, daemon mode and main loop, on the framework's script frame.
 *
 * src/libpgq/program.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/script.h"
#include "libpgq_int.h"

#define OPT_REGISTER 2001
#define OPT_UNREGISTER 2002
#define OPT_REWIND 2003
#define OPT_RESET 2004

typedef struct ProgramState
{
	const PgqProgram *program;
	PgqConsumer *consumer;
} ProgramState;

static bool
tracks_ticks(const PgqProgram *program)
{
	return program->flavour == PGQ_CONSUMER_SERIAL ||
		program->flavour == PGQ_CONSUMER_LOCAL;
}

static void
usage(const PgqProgram *program)
{
	printf("%s: %s\n\n", program->name, program->description);
	printf("Usage:\n  %s [OPTION]... CONFIG.ini\n\nOptions:\n", program->name);
	printf("%s", SKY_SCRIPT_HELP);
	printf("      --register         register the consumer on the queue, then exit\n");
	printf("      --unregister       unregister the consumer from the queue, then exit\n");
	if (tracks_ticks(program))
	{
		printf("      --rewind           move the queue position to the recorded tick, then exit\n");
		printf("      --reset            forget the recorded position, then exit\n");
	}
	printf("  -V, --version          output version information, then exit\n");
	printf("  -h, --help             show this help, then exit\n");
	printf("\nExit status: 0 ok or stopped on request, 1 error, 2 wrong usage.\n");
}

/* After a config (re)load: the library's keys, then the program's. */
static bool
configure(PgqConsumer *consumer, SkyConfig *cf)
{
	const PgqProgram *program = consumer->program;

	consumer->cf = cf;
	if (!pgq_consumer_load_settings(consumer))
	{
		log_error("%s", pgq_consumer_error(consumer));
		return false;
	}
	if (program->configure != NULL && !program->configure(consumer, program->arg))
		return false;
	return true;
}

static bool
reload(SkyScript *script, void *arg)
{
	ProgramState *state = arg;

	return configure(state->consumer, script->cf);
}

static SkyWorkResult
work(SkyScript *script, void *arg)
{
	ProgramState *state = arg;
	PgqConsumer *consumer = state->consumer;
	int			result = pgq_consumer_work(consumer);

	if (result > 0)
		return SKY_WORK_MORE;
	if (result == 0)
		return SKY_WORK_IDLE;
	if (consumer->fatal)
	{
		log_error("%s", pgq_consumer_error(consumer));
		exit(PGQ_EXIT_ERROR);
	}
	log_error("Job %s crashed: %s", consumer->job_name, pgq_consumer_error(consumer));
	return SKY_WORK_FAILED;
}

int
pgq_program_main(const PgqProgram *program, int argc, char **argv)
{
	static struct option long_options[] = {
		SKY_SCRIPT_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"register", no_argument, NULL, OPT_REGISTER},
		{"unregister", no_argument, NULL, OPT_UNREGISTER},
		{"rewind", no_argument, NULL, OPT_REWIND},
		{"reset", no_argument, NULL, OPT_RESET},
		{NULL, 0, NULL, 0}
	};
	SkyScript	script = {0};
	ProgramState state;
	int			command = 0;
	int			c;
	bool		ok;

	script.progname = program->name;
	script.service_names = program->service_names;
	script.ini_template = program->ini_template;
	sky_log_init();
	sky_log_set_fatal_exit(PGQ_EXIT_ERROR);

	optind = 1;
	while ((c = getopt_long(argc, argv, SKY_SCRIPT_SHORTOPTS "hV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				usage(program);
				return PGQ_EXIT_OK;
			case 'V':
				printf("%s (pgq) %s, libpgq %s\n", program->name, PGQ_VERSION, LIBPGQ_VERSION);
				return PGQ_EXIT_OK;
			case OPT_REWIND:
			case OPT_RESET:
				if (!tracks_ticks(program))
				{
					fprintf(stderr, "%s: --%s needs a consumer that tracks its position\n",
							program->name, c == OPT_REWIND ? "rewind" : "reset");
					return PGQ_EXIT_USAGE;
				}
				/* FALLTHROUGH */
			case OPT_REGISTER:
			case OPT_UNREGISTER:
				if (command != 0 && command != c)
				{
					fprintf(stderr, "%s: only one of --register, --unregister, --rewind, --reset at a time\n",
							program->name);
					return PGQ_EXIT_USAGE;
				}
				command = c;
				break;
			default:
				if (!sky_script_option(&script, c, optarg))
				{
					fprintf(stderr, "Try \"%s --help\" for more information.\n", program->name);
					return PGQ_EXIT_USAGE;
				}
		}
	}
	if (script.print_ini)
	{
		sky_script_print_ini(&script);
		return PGQ_EXIT_OK;
	}
	if (optind >= argc)
	{
		fprintf(stderr, "%s: no config file given\n", program->name);
		fprintf(stderr, "Try \"%s --help\" for more information.\n", program->name);
		return PGQ_EXIT_USAGE;
	}
	if (optind + 1 < argc)
	{
		fprintf(stderr, "%s: too many arguments: \"%s\"\n", program->name, argv[optind + 1]);
		return PGQ_EXIT_USAGE;
	}
	if (!sky_script_load(&script, argv[optind]))
		return PGQ_EXIT_ERROR;
	if (script.send_signal)
		return sky_script_send_signal(&script);

	state.program = program;
	state.consumer = pgq_consumer_new(program);
	if (!configure(state.consumer, script.cf))
		return PGQ_EXIT_ERROR;

	if (command != 0)
	{
		switch (command)
		{
			case OPT_REGISTER:
				ok = pgq_consumer_register(state.consumer);
				break;
			case OPT_UNREGISTER:
				ok = pgq_consumer_unregister(state.consumer);
				break;
			case OPT_REWIND:
				ok = pgq_consumer_rewind(state.consumer);
				break;
			default:
				ok = pgq_consumer_reset(state.consumer);
				break;
		}
		if (!ok)
			log_error("%s", pgq_consumer_error(state.consumer));
		pgq_consumer_free(state.consumer);
		return ok ? PGQ_EXIT_OK : PGQ_EXIT_ERROR;
	}

	if (!sky_script_start(&script))
		return PGQ_EXIT_ERROR;
	c = sky_script_loop(&script, work, reload, &state);
	pgq_consumer_free(state.consumer);
	return c;
}
