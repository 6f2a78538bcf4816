/*-------------------------------------------------------------------------
 *
 * main.c
 *	  londiste3: switches, config and command dispatch.
 *
 *	  londiste3 [SWITCH]... CONFIG.ini COMMAND [ARG]...
 *
 * The switches are python3-londiste's, accepted before or after the
 * positional arguments and by every command (optparse did the same).
 * The usage errors and their exit codes follow it too: a bad switch exits
 * 2, a missing or unknown command or a wrong number of arguments exits 1.
 *
 * src/londiste3/main.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/script.h"
#include "londiste3/londiste.h"

/* long-only switches; values clear of the frame's SKY_OPT_* */
enum
{
	OPT_PROVIDER = 2001,
	OPT_TARGET,
	OPT_MERGE,
	OPT_DEAD,
	OPT_DEAD_ROOT,
	OPT_DEAD_BRANCH,
	OPT_NOCHECK,
	OPT_SYNC_WATERMARK,
	OPT_REWIND,
	OPT_RESET,
	OPT_ALL,
	OPT_WAIT_SYNC,
	OPT_DEST_TABLE,
	OPT_EXPECT_SYNC,
	OPT_SKIP_TRUNCATE,
	OPT_CREATE,
	OPT_CREATE_FULL,
	OPT_TRIGGER_FLAGS,
	OPT_TRIGGER_ARG,
	OPT_NO_TRIGGERS,
	OPT_HANDLER,
	OPT_HANDLER_ARG,
	OPT_FIND_COPY_NODE,
	OPT_COPY_NODE,
	OPT_MERGE_ALL,
	OPT_NO_MERGE,
	OPT_MAX_PARALLEL_COPY,
	OPT_SKIP_NON_EXISTING,
	OPT_NAMES_ONLY,
	OPT_FORCE,
	OPT_APPLY,
	OPT_COUNT_ONLY,
	OPT_SORT_BUFSIZE,
	OPT_REPAIR_WHERE,
	OPT_COMPACT
};

/* Skytools 3 called the main section [londiste3], 3.11 calls it [londiste] */
static const char *const service_names[] = {"londiste", "londiste3", NULL};

static const char ini_template[] =
"[londiste]\n"
"## londiste3: replicates tables over a cascaded queue (doc/londiste3.md).\n"
"## The main section may also be called [londiste3], as in Skytools 3.\n"
"\n"
"job_name = londiste_%(node_name)s\n"
"\n"
"## the local node's database\n"
"db = dbname=targetdb\n"
"\n"
"## the cascaded queue\n"
"queue_name = replika\n"
"\n"
"## node name and public connect string, for create-root/-branch/-leaf\n"
"#node_name = node1\n"
"#public_node_location = host=db1 dbname=targetdb\n"
"\n"
"logfile = ~/log/%(job_name)s.log\n"
"pidfile = ~/pid/%(job_name)s.pid\n"
"\n"
"## how many tables may be copied at the same time\n"
"#parallel_copies = 1\n"
"\n"
"## appended to every connect string taken from the cascade\n"
"#remote_extra_connstr =\n"
"\n"
"## handlers besides the built-in one (python module names are accepted)\n"
"#handler_modules = londiste.handlers.bulk, londiste.handlers.qtable\n"
"\n"
"## seconds to wait when there is no batch\n"
"#loop_delay = 1.0\n";

static const LondisteCommand *const command_tables[] = {
	ld_node_commands,
	ld_status_commands,
	ld_takeover_commands,
	ld_table_commands,
	ld_execute_commands,
	ld_compare_commands,
	ld_worker_commands,
	NULL
};

static void
usage(void)
{
	printf("londiste3 replicates tables between PostgreSQL databases over cascaded PgQ queues.\n\n");
	printf("Usage:\n  londiste3 [OPTION]... CONFIG.ini COMMAND [ARG]...\n\n");
	printf("Node administration:\n");
	printf("  create-root NAME [PUBLIC_CONNSTR]      make this database the root node\n");
	printf("  create-branch NAME [PUBLIC_CONNSTR] --provider=CONNSTR\n");
	printf("  create-leaf NAME [PUBLIC_CONNSTR] --provider=CONNSTR\n");
	printf("  members                                member nodes of the cascade\n");
	printf("  status, node-status, node-info         the cascade's and this node's state\n");
	printf("  pause, resume                          stop and restart this node's worker\n");
	printf("  change-provider --provider=NODE        subscribe to another node\n");
	printf("  takeover NODE                          take over the place of NODE\n");
	printf("  tag-dead NODE..., tag-alive NODE...    mark nodes dead or alive\n");
	printf("  drop-node NAME, resurrect              remove a node; recover a dead root's events\n");
	printf("  wait-root, wait-provider               wait until this node has caught up\n");
	printf("\nReplication:\n");
	printf("  worker                                 replay events into this node\n");
	printf("  add-table TBL..., remove-table TBL...  add tables to, remove them from, this node\n");
	printf("  add-seq SEQ..., remove-seq SEQ...      the same for sequences\n");
	printf("  change-handler TBL                     change the handler of a table\n");
	printf("  tables, seqs, missing                  list tables, sequences, objects not added\n");
	printf("  resync TBL...                          copy tables again\n");
	printf("  wait-sync                              wait until every table is copied\n");
	printf("  execute FILE...                        run SQL files on every node\n");
	printf("  compare [TBL...], repair [TBL...]      compare and repair table contents\n");
	printf("  show-handlers [NAME...], check, fkeys  handler docs; no-ops kept for scripts\n");
	printf("\nOptions (see doc/londiste3.md for which command reads which):\n");
	printf("      --provider=CONNSTR|NODE   --target=NODE   --merge=QUEUE   --dead=NODE\n");
	printf("      --dead-root   --dead-branch   --nocheck   --sync-watermark=NODES\n");
	printf("      --rewind   --reset   --all   --wait-sync   --dest-table=NAME\n");
	printf("      --expect-sync   --skip-truncate   --create   --create-full\n");
	printf("      --trigger-flags=FLAGS   --trigger-arg=ARG   --no-triggers\n");
	printf("      --handler=NAME   --handler-arg=K=V   --find-copy-node   --copy-node=NODE\n");
	printf("      --merge-all   --no-merge   --max-parallel-copy=N   --skip-non-existing\n");
	printf("      --names-only   --force   --apply   --count-only   --sort-bufsize=SIZE\n");
	printf("      --repair-where=COND   --compact\n");
	printf("\nCommon options:\n");
	printf("%s", SKY_SCRIPT_HELP);
	printf("  -V, --version          output version information, then exit\n");
	printf("  -h, --help             show this help, then exit\n");
	printf("\nExit status: 0 done; 1 error; 2 bad switch; compare: the number of tables that differ.\n");
}

/* optparse's wording, so that wrappers see what they saw from Python */
static void
option_error(const char *msg)
{
	fprintf(stderr, "Usage: londiste3 [OPTION]... CONFIG.ini COMMAND [ARG]...\n\n");
	fprintf(stderr, "londiste3: error: %s\n", msg);
	exit(LD_EXIT_USAGE);
}

static void
list_append(LdStringList *list, const char *value)
{
	list->items = pg_realloc(list->items, sizeof(char *) * (list->n + 1));
	list->items[list->n++] = pg_strdup(value);
}

static void
parse_options(Londiste *ld, int argc, char **argv)
{
	static struct option long_options[] = {
		SKY_SCRIPT_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"provider", required_argument, NULL, OPT_PROVIDER},
		{"target", required_argument, NULL, OPT_TARGET},
		{"merge", required_argument, NULL, OPT_MERGE},
		{"dead", required_argument, NULL, OPT_DEAD},
		{"dead-root", no_argument, NULL, OPT_DEAD_ROOT},
		{"dead-branch", no_argument, NULL, OPT_DEAD_BRANCH},
		{"nocheck", no_argument, NULL, OPT_NOCHECK},
		{"sync-watermark", required_argument, NULL, OPT_SYNC_WATERMARK},
		{"rewind", no_argument, NULL, OPT_REWIND},
		{"reset", no_argument, NULL, OPT_RESET},
		{"all", no_argument, NULL, OPT_ALL},
		{"wait-sync", no_argument, NULL, OPT_WAIT_SYNC},
		{"dest-table", required_argument, NULL, OPT_DEST_TABLE},
		{"expect-sync", no_argument, NULL, OPT_EXPECT_SYNC},
		{"skip-truncate", no_argument, NULL, OPT_SKIP_TRUNCATE},
		{"create", no_argument, NULL, OPT_CREATE},
		{"create-full", no_argument, NULL, OPT_CREATE_FULL},
		{"trigger-flags", required_argument, NULL, OPT_TRIGGER_FLAGS},
		{"trigger-arg", required_argument, NULL, OPT_TRIGGER_ARG},
		{"no-triggers", no_argument, NULL, OPT_NO_TRIGGERS},
		{"handler", required_argument, NULL, OPT_HANDLER},
		{"handler-arg", required_argument, NULL, OPT_HANDLER_ARG},
		{"find-copy-node", no_argument, NULL, OPT_FIND_COPY_NODE},
		{"copy-node", required_argument, NULL, OPT_COPY_NODE},
		{"merge-all", no_argument, NULL, OPT_MERGE_ALL},
		{"no-merge", no_argument, NULL, OPT_NO_MERGE},
		{"max-parallel-copy", required_argument, NULL, OPT_MAX_PARALLEL_COPY},
		{"skip-non-existing", no_argument, NULL, OPT_SKIP_NON_EXISTING},
		{"names-only", no_argument, NULL, OPT_NAMES_ONLY},
		{"force", no_argument, NULL, OPT_FORCE},
		{"apply", no_argument, NULL, OPT_APPLY},
		{"count-only", no_argument, NULL, OPT_COUNT_ONLY},
		{"sort-bufsize", required_argument, NULL, OPT_SORT_BUFSIZE},
		{"repair-where", required_argument, NULL, OPT_REPAIR_WHERE},
		{"compact", no_argument, NULL, OPT_COMPACT},
		{NULL, 0, NULL, 0}
	};
	LdOptions  *o = &ld->opt;
	int			c;

	o->max_parallel_copy = -1;
	/* report bad switches ourselves, in optparse's words */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" SKY_SCRIPT_SHORTOPTS "hV",
							long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				usage();
				exit(LD_EXIT_OK);
			case 'V':
				printf("londiste3 (pgq) %s, compatible with londiste 3.11\n", PGQ_VERSION);
				exit(LD_EXIT_OK);
			case OPT_PROVIDER:
				o->provider = optarg;
				break;
			case OPT_TARGET:
				/* accepted and ignored, as python3-londiste does */
				break;
			case OPT_MERGE:
				o->merge = optarg;
				break;
			case OPT_DEAD:
				list_append(&o->dead, optarg);
				break;
			case OPT_DEAD_ROOT:
				o->dead_root = true;
				break;
			case OPT_DEAD_BRANCH:
				o->dead_branch = true;
				break;
			case OPT_NOCHECK:
				o->nocheck = true;
				break;
			case OPT_SYNC_WATERMARK:
				o->sync_watermark = optarg;
				break;
			case OPT_REWIND:
				o->rewind = true;
				break;
			case OPT_RESET:
				o->reset = true;
				break;
			case OPT_ALL:
				o->all = true;
				break;
			case OPT_WAIT_SYNC:
				o->wait_sync = true;
				break;
			case OPT_DEST_TABLE:
				o->dest_table = optarg;
				break;
			case OPT_EXPECT_SYNC:
				o->expect_sync = true;
				break;
			case OPT_SKIP_TRUNCATE:
				o->skip_truncate = true;
				break;
			case OPT_CREATE:
				o->create = true;
				break;
			case OPT_CREATE_FULL:
				o->create_full = true;
				break;
			case OPT_TRIGGER_FLAGS:
				o->trigger_flags = optarg;
				break;
			case OPT_TRIGGER_ARG:
				list_append(&o->trigger_args, optarg);
				break;
			case OPT_NO_TRIGGERS:
				o->no_triggers = true;
				break;
			case OPT_HANDLER:
				o->handler = optarg;
				break;
			case OPT_HANDLER_ARG:
				list_append(&o->handler_args, optarg);
				break;
			case OPT_FIND_COPY_NODE:
				o->find_copy_node = true;
				break;
			case OPT_COPY_NODE:
				o->copy_node = optarg;
				break;
			case OPT_MERGE_ALL:
				o->merge_all = true;
				break;
			case OPT_NO_MERGE:
				o->no_merge = true;
				break;
			case OPT_MAX_PARALLEL_COPY:
				{
					char	   *end;
					long		n = strtol(optarg, &end, 10);

					if (end == optarg || *end != '\0' || n < 0 || n > INT_MAX)
						option_error(psprintf("option --max-parallel-copy: invalid integer value: '%s'", optarg));
					o->max_parallel_copy = (int) n;
				}
				break;
			case OPT_SKIP_NON_EXISTING:
				o->skip_non_existing = true;
				break;
			case OPT_NAMES_ONLY:
				o->names_only = true;
				break;
			case OPT_FORCE:
				o->force = true;
				break;
			case OPT_APPLY:
				o->apply = true;
				break;
			case OPT_COUNT_ONLY:
				o->count_only = true;
				break;
			case OPT_SORT_BUFSIZE:
				o->sort_bufsize = optarg;
				break;
			case OPT_REPAIR_WHERE:
				o->repair_where = optarg;
				break;
			case OPT_COMPACT:
				o->compact = true;
				break;
			case ':':
				option_error(psprintf("%s option requires an argument", argv[optind - 1]));
				break;
			case '?':
				if (optopt != 0)
					option_error(psprintf("no such option: -%c", optopt));
				option_error(psprintf("no such option: %s", argv[optind - 1]));
				break;
			default:
				if (!sky_script_option(&ld->script, c, optarg))
					option_error(psprintf("bad value for %s", argv[optind - 1]));
		}
	}
}

static const LondisteCommand *
find_command(const char *name)
{
	int			t;

	for (t = 0; command_tables[t] != NULL; t++)
	{
		const LondisteCommand *cmd;

		for (cmd = command_tables[t]; cmd->name != NULL; cmd++)
			if (strcmp(cmd->name, name) == 0)
				return cmd;
	}
	return NULL;
}

/* The pidfile a command holds; "" for none. */
static char *
command_pidfile(Londiste *ld, const LondisteCommand *cmd)
{
	const char *base = ld->script.pidfile;

	if (base == NULL || base[0] == '\0')
		return pg_strdup("");
	switch (cmd->pidfile)
	{
		case LD_PIDFILE_NONE:
			return pg_strdup("");
		case LD_PIDFILE_ADMIN:
			return psprintf("%s.admin", base);
		case LD_PIDFILE_REPAIR:
			return psprintf("%s.repair", base);
		case LD_PIDFILE_MAIN:
			return pg_strdup(base);
		case LD_PIDFILE_COPY:
			return psprintf("%s.copy.%s", base,
							ld->nargs > 0 ? ld_make_fqname(ld->args[0]) : "");
	}
	return pg_strdup("");
}

/*
 * A key that may be missing: NULL then (sky_config_get() with no default
 * would make it required).
 */
static char *
optional_key(SkyConfig *cf, const char *key, char *def)
{
	return sky_config_has(cf, key) ? sky_config_get(cf, key, NULL) : def;
}

/*
 * Does a londiste process, ours or python3-londiste's, hold the pidfile?
 * Python's scripts do not lock their pidfiles (the framework's lock cannot
 * see them), they only keep a live pid in it; so a live pid counts when
 * that process runs londiste, which keeps a recycled pid from blocking the
 * start.  Python and C workers of one node thus exclude each other.
 */
static bool
londiste_holds_pidfile(const char *path)
{
	FILE	   *f;
	long		pid = 0;
	char	   *cmdline_path;
	char		cmdline[4096];
	size_t		n;
	size_t		i;

	if (path[0] == '\0' || (f = fopen(path, "r")) == NULL)
		return false;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0 || pid == getpid())
	{
		fclose(f);
		return false;
	}
	fclose(f);
	if (kill((pid_t) pid, 0) != 0 && errno != EPERM)
		return false;
	cmdline_path = psprintf("/proc/%ld/cmdline", pid);
	f = fopen(cmdline_path, "r");
	pg_free(cmdline_path);
	if (f == NULL)
		return false;
	n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	/* the arguments are NUL-separated: search them as one string */
	for (i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline[n] = '\0';
	return strstr(cmdline, "londiste") != NULL;
}

static bool
load_keys(Londiste *ld)
{
	SkyConfig  *cf = ld->script.cf;

	ld->db = optional_key(cf, "db", NULL);
	if (ld->db == NULL)
	{
		sky_log(SKY_LOG_ERROR, "config key db is missing");
		return false;
	}
	ld->queue_name = optional_key(cf, "queue_name",
								  optional_key(cf, "pgq_queue_name", NULL));
	if (ld->queue_name == NULL)
	{
		sky_log(SKY_LOG_ERROR, "config key queue_name is missing");
		return false;
	}
	ld->consumer_name = optional_key(cf, "consumer_name",
									 optional_key(cf, "pgq_consumer_id",
												  ld->script.job_name));
	ld->remote_extra_connstr = optional_key(cf, "remote_extra_connstr", NULL);
	return true;
}

int
main(int argc, char **argv)
{
	Londiste	ld = {0};
	const LondisteCommand *cmd;
	int			positional;
	int			rc;

	ld.script.progname = "londiste3";
	ld.script.service_names = service_names;
	ld.script.ini_template = ini_template;
	sky_log_init();
	sky_log_set_fatal_exit(LD_EXIT_ERROR);

	parse_options(&ld, argc, argv);
	if (ld.script.print_ini)
	{
		sky_script_print_ini(&ld.script);
		exit(LD_EXIT_OK);
	}
	positional = argc - optind;
	if (positional < 1)
		option_error("need config file");
	if (ld.script.send_signal != 0)
	{
		if (!sky_script_load(&ld.script, argv[optind]))
			exit(LD_EXIT_ERROR);
		exit(sky_script_send_signal(&ld.script));
	}
	if (positional < 2)
	{
		printf("need command\n");
		exit(LD_EXIT_ERROR);
	}
	ld.command = argv[optind + 1];
	ld.args = argv + optind + 2;
	ld.nargs = positional - 2;
	cmd = find_command(ld.command);
	if (cmd == NULL)
	{
		printf("Unknown command '%s', use --help for help\n", ld.command);
		exit(LD_EXIT_ERROR);
	}
	if (cmd->nargs >= 0 && ld.nargs != cmd->nargs)
	{
		sky_log(SKY_LOG_ERROR, "command '%s' got %d args, but expects %d%s%s",
				cmd->name, ld.nargs, cmd->nargs,
				cmd->nargs > 0 ? ": " : "", cmd->nargs > 0 ? cmd->arg_names : "");
		exit(LD_EXIT_ERROR);
	}

	if (!sky_script_load(&ld.script, argv[optind]) || !load_keys(&ld))
		exit(LD_EXIT_ERROR);
	ld.script.pidfile = command_pidfile(&ld, cmd);
	if (cmd->pidfile != LD_PIDFILE_MAIN && cmd->pidfile != LD_PIDFILE_COPY)
		ld.script.daemon = false;
	if (londiste_holds_pidfile(ld.script.pidfile))
	{
		sky_log(SKY_LOG_ERROR, "Pidfile exists, another process running?");
		exit(LD_EXIT_ERROR);
	}
	if (!sky_script_start(&ld.script))
		exit(LD_EXIT_ERROR);

	rc = cmd->func(&ld);
	ld_close_local(&ld);
	return rc;
}
