/*-------------------------------------------------------------------------
 *
 * main.c
 *	  qadmin: the PgQ admin console.
 *
 *	  qadmin [OPTION]... [DBNAME | CONNSTR]
 *
 * Statements come from -c, from -f FILE, from the terminal (the console,
 * with line editing) or from a pipe.  Outside the console a failing
 * statement ends the run with exit code 1; a statement qadmin cannot
 * parse is reported and skipped, and the run still ends with 1.
 *
 * src/qadmin/main.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <getopt.h>
#include <unistd.h>

#include "qadmin.h"

const char *progname = "qadmin";

static void
usage(void)
{
	printf("qadmin is the PgQ admin console: queues, consumers, cascade nodes\n"
		   "and londiste tables, plus SQL.\n\n"
		   "Usage:\n"
		   "  qadmin [OPTION]... [DBNAME | CONNSTR]\n\n"
		   "Options:\n"
		   "  -h, --host=HOST        database server host or socket directory\n"
		   "  -p, --port=PORT        database server port\n"
		   "  -U, --username=USER    database user name\n"
		   "  -d, --dbname=DBNAME    database name or connection string\n"
		   "  -Q, --queue=QUEUE      default queue\n"
		   "  -c, --command=CMD      run the statements in CMD and exit\n"
		   "  -f, --file=FILE        run the statements in FILE (\"-\": stdin) and exit\n"
		   "  -V, --version          print the version and exit\n"
		   "  -?, --help             print this help and exit\n\n"
		   "Without -c or -f, statements are read from the terminal (with line\n"
		   "editing, history in ~/.qadmin_history or $QADMIN_HISTFILE, and tab\n"
		   "completion) or from standard input.  Type \"show help;\" for the\n"
		   "statements.  Passwords come from PGPASSWORD or ~/.pgpass.\n\n"
		   "Exit status: 0 when every statement succeeded, 1 after an error,\n"
		   "2 for a usage error.\n");
}

/* The statement summary of "show help;". */
void
print_help_text(void)
{
	printf("Statements (end each with \";\"; names are lower-cased unless \"quoted\"):\n"
		   "  connect [dbname=D] [host=H] [port=P] [user=U] [password=W] [queue=Q] [node=N];\n"
		   "  install pgq | londiste;\n"
		   "  create queue Q;\n"
		   "  drop queue Q;\n"
		   "  alter queue Q | * set idle_period='..', max_count=N, max_lag='..', paused=0|1;\n"
		   "  register consumer C [on Q] [at TICK | copy C2];\n"
		   "  unregister consumer C | * [from Q];\n"
		   "  register subconsumer S for C [on Q];\n"
		   "  unregister subconsumer S | * for C [from Q] [close [batch]];\n"
		   "  show queue [Q | *];\n"
		   "  show consumer [C | * [on Q | *]];\n"
		   "  show node [N | * [on Q | *]];\n"
		   "  show batch ID | C;\n"
		   "  show table T;\n"
		   "  show sequence S;\n"
		   "  show help;\n"
		   "  show version;\n"
		   "  londiste add table T [, ...] [with OPTION [, ...]];\n"
		   "      options: skip_truncate, expect_sync, backup, skip, no_triggers,\n"
		   "      tgflags='..', ev_type='..', ev_data='..', ev_extra1..4='..',\n"
		   "      pkey='..', when='..', ev_ignore='..'\n"
		   "  londiste remove table T [, ...];\n"
		   "  londiste add sequence S [, ...];\n"
		   "  londiste remove sequence S [, ...];\n"
		   "  londiste tables;\n"
		   "  londiste seqs;\n"
		   "  londiste missing;\n"
		   "  exit;\n"
		   "Anything else is sent to the server as SQL.\n\n");
	fflush(stdout);
}

/* Connect, or say why not.  conninfo may be a database name or a connection string. */
static PGconn *
connect_database(const char *host, const char *port, const char *user,
				 const char *dbname)
{
	const char *keywords[7];
	const char *values[7];
	int			n = 0;
	PGconn	   *conn;

	keywords[n] = "host";
	values[n++] = host;
	keywords[n] = "port";
	values[n++] = port;
	keywords[n] = "user";
	values[n++] = user;
	keywords[n] = "dbname";
	values[n++] = dbname;
	keywords[n] = "fallback_application_name";
	values[n++] = "qadmin";
	/* on a terminal, print in its encoding (as psql does) */
	if (isatty(fileno(stdin)) && isatty(fileno(stdout)))
	{
		keywords[n] = "client_encoding";
		values[n++] = "auto";
	}
	keywords[n] = NULL;
	values[n] = NULL;
	conn = PQconnectdbParams(keywords, values, true);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s: could not connect: %s", progname, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * Run the statements of a script (text from -c or a file) in order.
 * An execution error stops at once; a syntax error is skipped, but the
 * result is still an error.
 */
static int
run_script(Session *s, FILE *input, const char *text, const char *name)
{
	StatementSplitter sp;
	bool		syntax_error = false;
	char	   *line = NULL;
	size_t		line_size = 0;
	bool		eof = false;
	int			status = QADMIN_EXIT_OK;

	splitter_init(&sp, 1);
	if (text)
	{
		splitter_feed(&sp, text);
		/* -c: a missing final ";" is implied */
		if (splitter_has_pending(&sp))
			splitter_feed(&sp, ";");
		eof = true;
	}
	for (;;)
	{
		char	   *stmt;
		int			lineno;

		while ((stmt = splitter_next(&sp, &lineno)) != NULL)
		{
			char	   *where = name ? psprintf("%s:%d: ", name, lineno) : pg_strdup("");
			ExecResult	result;

			error_location = where;
			result = execute_text(s, stmt);
			error_location = "";
			pg_free(where);
			pg_free(stmt);
			if (cancel_take_interrupt())
			{
				fprintf(stderr, "%s: interrupted\n", progname);
				status = QADMIN_EXIT_ERROR;
				goto done;
			}
			if (result == EXEC_QUIT)
				goto done;
			if (result == EXEC_SYNTAX_ERROR)
				syntax_error = true;
			else if (result == EXEC_ERROR)
			{
				status = QADMIN_EXIT_ERROR;
				goto done;
			}
		}
		if (!eof && getline(&line, &line_size, input) >= 0)
		{
			splitter_feed(&sp, line);
			continue;
		}
		if (!eof && ferror(input))
		{
			if (cancel_take_interrupt())
				fprintf(stderr, "%s: interrupted\n", progname);
			else
				fprintf(stderr, "%s: could not read %s: %m\n", progname,
						name ? name : "standard input");
			status = QADMIN_EXIT_ERROR;
			goto done;
		}
		/* an unterminated quote or comment swallows the rest */
		if (splitter_has_pending(&sp))
		{
			char	   *where = name ? psprintf("%s:%d: ", name, sp.first_line) : pg_strdup("");

			error_location = where;
			report_error("syntax error: statement not ended (unterminated quote or comment?): %s",
						 splitter_pending_text(&sp));
			error_location = "";
			pg_free(where);
			syntax_error = true;
		}
		break;
	}
done:
	free(line);
	pg_free(sp.buf);
	if (status == QADMIN_EXIT_OK && syntax_error)
		status = QADMIN_EXIT_ERROR;
	return status;
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"dbname", required_argument, NULL, 'd'},
		{"queue", required_argument, NULL, 'Q'},
		{"command", required_argument, NULL, 'c'},
		{"file", required_argument, NULL, 'f'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 1},
		{NULL, 0, NULL, 0}
	};
	const char *host = NULL;
	const char *port = NULL;
	const char *user = NULL;
	const char *dbname = NULL;
	const char *command = NULL;
	const char *file = NULL;
	Session		session;
	PGconn	   *conn;
	int			c;
	int			status;

	memset(&session, 0, sizeof(session));
	/* "-?" is getopt's error value, so it is recognized only alone */
	if (argc == 2 && strcmp(argv[1], "-?") == 0)
	{
		usage();
		return QADMIN_EXIT_OK;
	}
	while ((c = getopt_long(argc, argv, "h:p:U:d:Q:c:f:V", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				host = optarg;
				break;
			case 'p':
				port = optarg;
				break;
			case 'U':
				user = optarg;
				break;
			case 'd':
				dbname = optarg;
				break;
			case 'Q':
				session.queue = pg_strdup(optarg);
				break;
			case 'c':
				command = optarg;
				break;
			case 'f':
				file = optarg;
				break;
			case 'V':
				printf("qadmin (pgq) %s\n", PGQ_VERSION);
				return QADMIN_EXIT_OK;
			case 1:
				usage();
				return QADMIN_EXIT_OK;
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
				return QADMIN_EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		if (dbname)
		{
			fprintf(stderr, "%s: database given twice (-d and \"%s\")\n", progname, argv[optind]);
			return QADMIN_EXIT_USAGE;
		}
		dbname = argv[optind++];
	}
	if (optind < argc)
	{
		fprintf(stderr, "%s: too many arguments, starting with \"%s\"\n", progname, argv[optind]);
		fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
		return QADMIN_EXIT_USAGE;
	}
	if (command && file)
	{
		fprintf(stderr, "%s: -c and -f cannot be used together\n", progname);
		return QADMIN_EXIT_USAGE;
	}

	conn = connect_database(host, port, user, dbname);
	if (!conn)
		return QADMIN_EXIT_ERROR;
	cancel_init();
	session_use_connection(&session, conn);

	if (command)
	{
		status = run_script(&session, NULL, command, NULL);
	}
	else if (file)
	{
		FILE	   *input = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");

		if (!input)
		{
			fprintf(stderr, "%s: could not open \"%s\": %m\n", progname, file);
			PQfinish(session.conn);
			return QADMIN_EXIT_ERROR;
		}
		status = run_script(&session, input, NULL, file);
		if (input != stdin)
			fclose(input);
	}
	else if (isatty(fileno(stdin)))
		status = run_console(&session);
	else
	{
		status = run_script(&session, stdin, NULL, NULL);
	}

	PQfinish(session.conn);
	pg_free(session.queue);
	return status;
}
