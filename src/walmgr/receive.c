/*-------------------------------------------------------------------------
 *
 * receive.c
 *	  receive: WAL streamed by a supervised pg_receivewal.
 *
 * The daemon of the archive host.  It keeps pg_receivewal running against
 * primary_conninfo with a replication slot (receive_slot, created with its
 * WAL reserved if missing), writing into logs.partial, and restarts it
 * when it exits.  The slot keeps the primary's WAL while nothing receives
 * it, so neither a dead pg_receivewal nor a dead "walmgr receive" loses WAL
 * (the primary should cap that with max_slot_wal_keep_size).
 *
 * Every completed segment (and history file) pg_receivewal leaves in
 * logs.partial is moved into logs.complete through the same durable,
 * identical-accepting store as xarchive, so the two channels can deliver
 * the same segment without conflict.  The segment in progress stays there
 * as NAME.partial, where "boot --finish" finds it.
 *
 * src/walmgr/receive.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "framework/log.h"
#include "framework/pqutil.h"
#include "walmgr.h"

typedef struct Receiver
{
	Walmgr	   *wm;
	pid_t		child;
	double		last_start;		/* monotonic seconds */
} Receiver;

static char *receivewal_path(Walmgr *wm);
static void start_child(Receiver *r);
static void collect(Receiver *r);
static SkyWorkResult receive_work(SkyScript *script, void *arg);
static bool receive_reload(SkyScript *script, void *arg);
static double now_seconds(void);

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Restarts of pg_receivewal are paced by receive_restart_delay, not by
 * Skytools' 20 s crash pause; set again after every config (re)load.
 */
static bool
receive_reload(SkyScript *script, void *arg)
{
	script->exception_sleep = sky_config_get_float(script->cf, "receive_restart_delay", 1.0);
	return true;
}

static char *
receivewal_path(Walmgr *wm)
{
	return wm_pg_program(wm, "slave_bin", "pg_receivewal");
}

/* Start pg_receivewal; it dies with us (PR_SET_PDEATHSIG). */
static void
start_child(Receiver *r)
{
	Walmgr	   *wm = r->wm;
	char	   *bin = receivewal_path(wm);
	char	   *conninfo = wm_get(wm, "primary_conninfo", NULL);
	char	   *slot = wm_get(wm, "receive_slot", "walmgr");
	pid_t		parent = getpid();
	pid_t		pid;

	r->last_start = now_seconds();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		log_error("could not fork: %m");
	else if (pid == 0)
	{
		char	   *argv[] = {bin, "-D", wm->partial_wals, "-S", slot, "--synchronous",
		"-n", "-w", "-d", conninfo, NULL};

		/*
		 * An orphaned pg_receivewal would hold the slot and the directory
		 * against the next "walmgr receive"; the check after prctl covers a
		 * parent that died before it took effect.
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		execv(bin, argv);
		fprintf(stderr, "could not execute \"%s\": %s\n", bin, strerror(errno));
		_exit(127);
	}
	else
	{
		r->child = pid;
		log_info("started pg_receivewal (pid %d) into \"%s\" with slot %s",
				 (int) pid, wm->partial_wals, slot);
	}
	pg_free(bin);
	pg_free(conninfo);
	pg_free(slot);
}

/* Move what pg_receivewal completed into logs.complete. */
static void
collect(Receiver *r)
{
	Walmgr	   *wm = r->wm;
	DIR		   *dir = opendir(wm->partial_wals);
	struct dirent *de;

	if (dir == NULL)
	{
		log_error("could not open \"%s\": %m", wm->partial_wals);
		return;
	}
	while ((de = readdir(dir)) != NULL)
	{
		WalFileKind kind = walfile_classify(de->d_name);
		char	   *path;
		int			fd;
		struct stat st;
		int			rc;

		if (kind != WALFILE_SEGMENT && kind != WALFILE_HISTORY)
			continue;
		path = psprintf("%s/%s", wm->partial_wals, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0)
		{
			log_error("could not open \"%s\": %m", path);
			if (fd >= 0)
				close(fd);
			pg_free(path);
			continue;
		}
		rc = archive_store(wm, de->d_name, fd, st.st_size, NULL, false);
		close(fd);

		/* only a durable (or identical) copy in logs.complete frees it */
		if (rc == WALMGR_EXIT_OK && unlink(path) != 0)
			log_warning("could not remove \"%s\": %m", path);
		else if (rc != WALMGR_EXIT_OK)
			log_error("received %s stays in \"%s\"", de->d_name, wm->partial_wals);
		pg_free(path);
	}
	closedir(dir);
}

/*
 * One round: notice a dead pg_receivewal and start another (not more often
 * than every receive_restart_delay seconds, so a primary that refuses us is
 * not hammered), then move completed files.
 */
static SkyWorkResult
receive_work(SkyScript *script, void *arg)
{
	Receiver   *r = arg;
	int			status;

	if (r->child > 0 && waitpid(r->child, &status, WNOHANG) == r->child)
	{
		if (WIFEXITED(status))
			log_warning("pg_receivewal (pid %d) exited with status %d", (int) r->child,
						WEXITSTATUS(status));
		else
			log_warning("pg_receivewal (pid %d) was terminated by signal %d", (int) r->child,
						WTERMSIG(status));
		r->child = 0;
	}
	if (r->child == 0 && now_seconds() - r->last_start >= script->exception_sleep)
		start_child(r);
	collect(r);
	return SKY_WORK_IDLE;
}

/*
 * Create the replication slot with its WAL reserved at once, unless it
 * exists.  pg_receivewal --create-slot reserves nothing until its first
 * stream, and then starts at the primary's current position: WAL written
 * in between (a segment switched just after "walmgr receive" started) was
 * neither kept nor received.
 */
static bool
create_slot(Walmgr *wm, const char *conninfo, const char *slot)
{
	PGconn	   *conn = sky_db_connect_replication(conninfo, wm->script.job_name);
	PGresult   *res = NULL;
	char	   *quoted = NULL;
	bool		ok = false;

	if (conn == NULL)
		return false;
	if ((quoted = PQescapeIdentifier(conn, slot, strlen(slot))) == NULL)
		log_error("bad replication slot name \"%s\": %s", slot, PQerrorMessage(conn));
	else
	{
		char	   *sql = psprintf("CREATE_REPLICATION_SLOT %s PHYSICAL RESERVE_WAL", quoted);
		const char *state;

		res = PQexec(conn, sql);
		pg_free(sql);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			log_info("created the replication slot \"%s\"", slot);
			ok = true;
		}
		else if (state != NULL && strcmp(state, "42710") == 0)
			ok = true;			/* duplicate_object: it exists */
		else
			log_error("could not create the replication slot \"%s\": %s", slot,
					  PQresultErrorMessage(res));
	}
	PQclear(res);
	PQfreemem(quoted);
	PQfinish(conn);
	return ok;
}

/*
 * walmgr SLAVE_INI [-d] receive
 */
int
cmd_receive(Walmgr *wm)
{
	Receiver	r = {wm, 0, -1e9};
	char	   *conninfo;
	char	   *slot;
	int			rc;

	if (wm->dry_run)
	{
		log_info("dry run: would run pg_receivewal into \"%s\"", wm->partial_wals);
		return WALMGR_EXIT_OK;
	}
	if (!make_dir(wm->partial_wals, false) || !make_dir(wm->completed_wals, false))
		return WALMGR_EXIT_FAIL;
	if (!sky_script_start(&wm->script))
		return WALMGR_EXIT_FAIL;

	/* before readiness is reported: a daemon that cannot start says so */
	conninfo = wm_get(wm, "primary_conninfo", NULL);
	slot = wm_get(wm, "receive_slot", "walmgr");
	if (!create_slot(wm, conninfo, slot))
		sky_fatal("could not create or find the replication slot \"%s\"", slot);
	pg_free(conninfo);
	pg_free(slot);

	receive_reload(&wm->script, &r);
	rc = sky_script_loop(&wm->script, receive_work, receive_reload, &r);
	if (r.child > 0)
	{
		int			status;

		kill(r.child, SIGTERM);
		waitpid(r.child, &status, 0);
		log_info("pg_receivewal stopped");
	}
	collect(&r);
	return rc;
}
