/*
 * ld_copy_probe: runs londiste3's initial copy functions (copy.h) for the
 * tests, one call per run.
 *
 *	ld_copy_probe snapshot TEXT [TXID...]
 *		"malformed", or one line per txid: TXID visible|invisible
 *	ld_copy_probe copy SRC DST QUEUE TABLE DEST [--writers=N]
 *		[--skip-truncate] [--condition=SQL]
 *		ld_copy_table(); prints the stored snapshot.  DST runs in the
 *		replica role, as the worker's connection; --condition stands for a
 *		handler's copy condition.
 *	ld_copy_probe drop-fkeys DST TABLE
 *	ld_copy_probe restore-fkeys DST QUEUE
 *	ld_copy_probe create SRC DST NAME r|S [DEST] [--full]
 *		ld_create_from_provider(); prints "done" or "skipped"
 *
 * Exit 0 on success, 1 on failure (logged on stderr), 2 on bad usage.
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/copy/copy.h"

static const char *condition_text;

static char *
probe_condition(LdHandler *h)
{
	return pg_strdup(condition_text);
}

static const LdHandlerClass probe_class = {
	.name = "probe",
	.doc = "the probe's copy condition",
	.copy_condition = probe_condition,
};

static void
usage(void)
{
	fprintf(stderr, "usage: ld_copy_probe snapshot|copy|drop-fkeys|restore-fkeys|create ARGS...\n");
	exit(2);
}

static PGconn *
connect_or_exit(const char *connstr)
{
	PGconn	   *conn = sky_db_connect(connstr, "ld_copy_probe");

	if (conn == NULL)
		exit(1);
	return conn;
}

static int
probe_snapshot(int argc, char **argv)
{
	LdSnapshot *snap;
	int			i;

	if (argc < 1)
		usage();
	snap = ld_snapshot_parse(argv[0]);
	if (snap == NULL)
	{
		printf("malformed\n");
		return 0;
	}
	for (i = 1; i < argc; i++)
		printf("%s %s\n", argv[i],
			   ld_snapshot_contains(snap, strtoll(argv[i], NULL, 10)) ?
			   "visible" : "invisible");
	ld_snapshot_free(snap);
	return 0;
}

static int
probe_copy(int argc, char **argv)
{
	Londiste	ld;
	LdCopyRequest req = {0};
	LdHandler	handler = {0};
	PGconn	   *src;
	PGconn	   *dst;
	PGresult   *res;
	char	   *snapshot;
	int			i;

	if (argc < 5)
		usage();
	memset(&ld, 0, sizeof(ld));
	ld.script.job_name = "ld_copy_probe";
	ld.db = argv[1];
	ld.queue_name = argv[2];
	req.queue_name = argv[2];
	req.table_name = argv[3];
	req.dest_table = argv[4];
	for (i = 5; i < argc; i++)
	{
		if (strncmp(argv[i], "--writers=", 10) == 0)
			req.writers = atoi(argv[i] + 10);
		else if (strcmp(argv[i], "--skip-truncate") == 0)
			req.skip_truncate = true;
		else if (strncmp(argv[i], "--condition=", 12) == 0)
		{
			condition_text = argv[i] + 12;
			handler.cls = &probe_class;
			handler.table_name = argv[3];
			handler.dest_table = argv[4];
			req.handler = &handler;
		}
		else
			usage();
	}
	src = connect_or_exit(argv[0]);
	dst = connect_or_exit(argv[1]);
	res = sky_db_exec(dst, "select londiste.set_session_replication_role('replica', false)",
					  0, NULL);
	if (res == NULL)
		return 1;
	PQclear(res);
	if (!ld_copy_table(&ld, src, dst, &req, &snapshot))
		return 1;
	printf("%s\n", snapshot);
	pg_free(snapshot);
	PQfinish(src);
	PQfinish(dst);
	return 0;
}

static int
probe_create(int argc, char **argv)
{
	PGconn	   *src;
	PGconn	   *dst;
	const char *dest = NULL;
	bool		full = false;
	LdCreateResult r;
	int			i;

	if (argc < 4 || (strcmp(argv[3], "r") != 0 && strcmp(argv[3], "S") != 0))
		usage();
	for (i = 4; i < argc; i++)
	{
		if (strcmp(argv[i], "--full") == 0)
			full = true;
		else if (dest == NULL)
			dest = argv[i];
		else
			usage();
	}
	src = connect_or_exit(argv[0]);
	dst = connect_or_exit(argv[1]);
	r = ld_create_from_provider(src, dst, argv[2], argv[3][0], dest, full);
	if (r == LD_CREATE_FAILED)
		return 1;
	printf("%s\n", r == LD_CREATE_DONE ? "done" : "skipped");
	PQfinish(src);
	PQfinish(dst);
	return 0;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	bool		ok;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "snapshot") == 0)
		return probe_snapshot(argc - 2, argv + 2);
	if (strcmp(argv[1], "copy") == 0)
		return probe_copy(argc - 2, argv + 2);
	if (strcmp(argv[1], "create") == 0)
		return probe_create(argc - 2, argv + 2);
	if (argc != 4)
		usage();
	if (strcmp(argv[1], "drop-fkeys") == 0)
	{
		conn = connect_or_exit(argv[2]);
		ok = ld_drop_table_fkeys(conn, argv[3]);
	}
	else if (strcmp(argv[1], "restore-fkeys") == 0)
	{
		conn = connect_or_exit(argv[2]);
		ok = ld_restore_pending_fkeys(conn, argv[3]);
	}
	else
		usage();
	PQfinish(conn);
	return ok ? 0 : 1;
}
