/*-------------------------------------------------------------------------
 *
 * setup.c
 *	  setup, stop and periodic: switching archiving on and off.
 *
 * walmgr3 edited postgresql.conf with regular expressions and restarted or
 * signalled the postmaster.  On PostgreSQL 15 the settings go through
 * ALTER SYSTEM (postgresql.auto.conf) and pg_reload_conf(), which also
 * works with Debian's configuration under /etc.  archive_mode and
 * wal_level only change at a restart; setup says so unless
 * master_restart_cmd is configured to do it.
 *
 * src/walmgr/setup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "archive.h"
#include "common/sha2.h"
#include "framework/log.h"
#include "framework/pidfile.h"
#include "framework/pqutil.h"
#include "framework/sha256.h"
#include "pqexpbuffer.h"
#include "walmgr.h"

static bool archive_setup(Walmgr *wm, const ArchiveId *id);
static PGconn *connect_master(Walmgr *wm);
static int	reload_conf(PGconn *conn);
static int	set_parameter(Walmgr *wm, PGconn *conn, const char *name,
						  const char *value, bool *changed);
static char *archive_command_for(Walmgr *wm);
static char *current_segment(Walmgr *wm, const char *data);

/* name and SHA-256 of the last partial segment stored, "NAME HEX" */
#define SYNC_SHA_LEN (MAXFNAMELEN + 8 + 1 + PG_SHA256_DIGEST_STRING_LENGTH)

typedef struct SyncDaemon
{
	Walmgr	   *wm;
	char		last_sha[SYNC_SHA_LEN];
} SyncDaemon;

static int	sync_once(Walmgr *wm, char *last_sha);
static void stop_syncdaemon(Walmgr *wm);
static bool standby_named(const char *names, const char *application_name);
static SkyWorkResult syncdaemon_work(SkyScript *script, void *arg);

/*
 * Create the archive tree on this host and record which cluster it
 * belongs to (when known).  An existing ARCHIVE_ID must agree: pointing a
 * second cluster at an archive is exactly the mistake that leads to
 * overwritten WAL.
 */
static bool
archive_setup(Walmgr *wm, const ArchiveId *id)
{
	char	   *flags = psprintf("%s/flags", wm->walmgr_data);
	ArchiveId	old;
	bool		exists;
	bool		ok;

	ok = make_dir(wm->walmgr_data, wm->dry_run) &&
		make_dir(wm->completed_wals, wm->dry_run) &&
		make_dir(wm->partial_wals, wm->dry_run) &&
		make_dir(flags, wm->dry_run);
	pg_free(flags);
	if (!ok)
		return false;
	if (!archive_id_read(wm->walmgr_data, &old, &exists))
		return false;
	if (exists && id != NULL &&
		(old.system_identifier != id->system_identifier ||
		 old.wal_segment_size != id->wal_segment_size))
	{
		log_error("archive \"%s\" belongs to database system %llu (%u-byte segments), not to %llu (%u-byte segments); "
				  "use another walmgr_data for this cluster",
				  wm->walmgr_data, (unsigned long long) old.system_identifier,
				  old.wal_segment_size, (unsigned long long) id->system_identifier,
				  id->wal_segment_size);
		return false;
	}
	if (exists)
		log_info("archive \"%s\" belongs to database system %llu",
				 wm->walmgr_data, (unsigned long long) old.system_identifier);
	else if (id != NULL)
	{
		if (wm->dry_run)
			log_info("dry run: would record database system %llu in \"%s/ARCHIVE_ID\"",
					 (unsigned long long) id->system_identifier, wm->walmgr_data);
		else if (!archive_id_write(wm->walmgr_data, id))
			return false;
		else
			log_info("archive \"%s\" now belongs to database system %llu",
					 wm->walmgr_data, (unsigned long long) id->system_identifier);
	}
	return true;
}

static PGconn *
connect_master(Walmgr *wm)
{
	char	   *connstr = wm_get(wm, "master_db", "dbname=postgres");
	PGconn	   *conn = sky_db_connect(connstr, wm->script.job_name);

	pg_free(connstr);
	return conn;
}

/* Make the server read the settings ALTER SYSTEM has just written. */
static int
reload_conf(PGconn *conn)
{
	PGresult   *res = sky_db_exec(conn, "select pg_reload_conf()", 0, NULL);

	if (res == NULL)
		return WALMGR_EXIT_FAIL;
	PQclear(res);
	return WALMGR_EXIT_OK;
}

/*
 * ALTER SYSTEM SET name = value unless the file setting already is value.
 * Compares with pg_file_settings' winner when there is one, else with the
 * running value, so a second setup changes nothing.
 */
static int
set_parameter(Walmgr *wm, PGconn *conn, const char *name, const char *value,
			  bool *changed)
{
	const char *params[1] = {name};
	char	   *current;
	char	   *literal;
	char	   *sql;
	PGresult   *res;

	current = sky_db_value(conn,
						   "select coalesce((select setting from pg_file_settings"
						   "                  where name = $1 and applied is not null"
						   "                  order by seqno desc limit 1),"
						   "                 current_setting($1))",
						   1, params);
	if (current == NULL)
		return WALMGR_EXIT_FAIL;
	if (strcmp(current, value) == 0)
	{
		log_info("%s is already '%s'", name, value);
		pg_free(current);
		return WALMGR_EXIT_OK;
	}
	if (wm->dry_run)
	{
		log_info("dry run: would set %s = '%s' (now '%s')", name, value, current);
		pg_free(current);
		return WALMGR_EXIT_OK;
	}
	literal = PQescapeLiteral(conn, value, strlen(value));
	sql = psprintf("ALTER SYSTEM SET %s = %s", name, literal);
	res = sky_db_exec(conn, sql, 0, NULL);
	PQfreemem(literal);
	pg_free(sql);
	if (res == NULL)
	{
		pg_free(current);
		return WALMGR_EXIT_FAIL;
	}
	PQclear(res);
	log_info("set %s = '%s' (was '%s')", name, value, current);
	pg_free(current);
	*changed = true;
	return WALMGR_EXIT_OK;
}

/* "walmgr INI xarchive %p %f" with absolute paths, quoted only if needed */
static char *
archive_command_for(Walmgr *wm)
{
	const char *parts[2] = {wm->self_path, wm->script.cf->path};
	char	   *quoted[2];
	char	   *result;
	int			i;

	for (i = 0; i < 2; i++)
	{
		if (strspn(parts[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,=")
			== strlen(parts[i]))
			quoted[i] = pg_strdup(parts[i]);
		else
			quoted[i] = wm_shell_quote(parts[i]);
	}
	result = psprintf("%s %s xarchive %%p %%f", quoted[0], quoted[1]);
	pg_free(quoted[0]);
	pg_free(quoted[1]);
	return result;
}

/*
 * walmgr INI setup
 *
 * On the archive host: create the tree.  On the primary: set up the
 * archive (here or over ssh), then archive_mode, wal_level and
 * archive_command through ALTER SYSTEM.
 */
int
cmd_setup(Walmgr *wm)
{
	PGconn	   *conn;
	PGresult   *res;
	ArchiveId	id;
	char	   *command;
	char	   *method;
	bool		changed = false;
	bool		restart_needed;
	int			rc;

	if (!wm->is_master)
		return archive_setup(wm, NULL) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;

	method = wm_get(wm, "setup_method", "alter_system");
	if (strcmp(method, "alter_system") != 0)
		sky_fatal("setup_method \"%s\" is not supported: walmgr configures PostgreSQL 15 through ALTER SYSTEM",
				  method);
	pg_free(method);

	conn = connect_master(wm);
	if (conn == NULL)
		return WALMGR_EXIT_FAIL;
	res = sky_db_exec(conn,
					  "select system_identifier,"
					  "       (select setting from pg_settings where name = 'wal_segment_size'),"
					  "       current_setting('server_version_num')::int / 10000,"
					  "       current_setting('archive_mode'),"
					  "       current_setting('wal_level')"
					  "  from pg_control_system()", 0, NULL);
	if (res == NULL)
	{
		PQfinish(conn);
		return WALMGR_EXIT_FAIL;
	}
	id.system_identifier = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	id.wal_segment_size = (uint32) strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	id.pg_major = atoi(PQgetvalue(res, 0, 2));
	restart_needed = (strcmp(PQgetvalue(res, 0, 3), "off") == 0 ||
					  strcmp(PQgetvalue(res, 0, 4), "minimal") == 0);
	PQclear(res);

	if (wm_remote(wm))
	{
		char		sysid[32];
		char		segsize[16];
		char		pgver[16];
		char	   *args[4] = {"xsetup", sysid, segsize, pgver};

		snprintf(sysid, sizeof(sysid), "%llu", (unsigned long long) id.system_identifier);
		snprintf(segsize, sizeof(segsize), "%u", id.wal_segment_size);
		snprintf(pgver, sizeof(pgver), "%d", id.pg_major);
		if (wm->dry_run)
			log_info("dry run: would set up the archive on %s", wm->slave);
		else if (remote_run(wm, args, 4, -1, NULL) != 0)
		{
			log_error("setting up the archive on %s failed", wm->slave);
			PQfinish(conn);
			return WALMGR_EXIT_FAIL;
		}
	}
	else if (!archive_setup(wm, &id))
	{
		PQfinish(conn);
		return WALMGR_EXIT_FAIL;
	}

	command = archive_command_for(wm);
	rc = set_parameter(wm, conn, "archive_mode", "on", &changed);
	if (rc == 0)
	{
		char	   *level = sky_db_value(conn, "select current_setting('wal_level')", 0, NULL);

		/* replica is what archiving needs; logical is more, keep it */
		if (level == NULL)
			rc = WALMGR_EXIT_FAIL;
		else if (strcmp(level, "minimal") == 0)
			rc = set_parameter(wm, conn, "wal_level", "replica", &changed);
		pg_free(level);
	}
	if (rc == 0)
		rc = set_parameter(wm, conn, "archive_command", command, &changed);
	pg_free(command);
	if (rc == 0 && changed)
		rc = reload_conf(conn);
	PQfinish(conn);
	if (rc != 0)
		return rc;

	if (restart_needed)
	{
		char	   *restart = wm_get(wm, "master_restart_cmd", "");

		if (restart[0] != '\0')
			rc = wm_run_shell(wm, "master_restart_cmd", restart) == 0 ?
				WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
		else
			log_warning("restart pending: archive_mode and wal_level take effect only after PostgreSQL is restarted");
		pg_free(restart);
	}
	else
		log_info("archiving is set up%s", changed ? " (configuration reloaded)" : "");
	return rc;
}

/*
 * walmgr SLAVE_INI xsetup SYSID SEGSIZE PGVERSION
 *
 * The archive host's half of a remote setup.
 */
int
cmd_xsetup(Walmgr *wm)
{
	ArchiveId	id;

	if (wm->nargs != 3)
	{
		log_error("xsetup needs three arguments: SYSID SEGSIZE PGVERSION");
		return WALMGR_EXIT_USAGE;
	}
	id.system_identifier = strtoull(wm->args[0], NULL, 10);
	id.wal_segment_size = (uint32) strtoul(wm->args[1], NULL, 10);
	id.pg_major = atoi(wm->args[2]);
	if (id.system_identifier == 0 || id.wal_segment_size == 0 || id.pg_major == 0)
	{
		log_error("xsetup: invalid arguments");
		return WALMGR_EXIT_USAGE;
	}
	return archive_setup(wm, &id) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}

/*
 * walmgr INI stop [--discard]
 *
 * Without --discard archive_command becomes empty: PostgreSQL then keeps
 * every WAL file until archiving is set up again, which is safe but fills
 * pg_wal.  With --discard it becomes a command that succeeds without
 * archiving: WAL is thrown away and the archive gets a gap (walmgr3's only
 * way without a restart).  wal_level and max_wal_senders are left alone;
 * walmgr3 changing them also cut off streaming standbys.
 */
int
cmd_stop(Walmgr *wm)
{
	PGconn	   *conn;
	bool		changed = false;
	char	   *restart;
	int			rc;

	if (!wm->is_master)
	{
		log_error("stop is a primary command: this ini has no master_data");
		return WALMGR_EXIT_USAGE;
	}
	conn = connect_master(wm);
	if (conn == NULL)
		return WALMGR_EXIT_FAIL;
	if (wm->discard)
	{
		log_warning("archiving is being switched to discard mode: WAL will be thrown away and the archive will have a gap");
		rc = set_parameter(wm, conn, "archive_command", "/bin/true", &changed);
	}
	else
		rc = set_parameter(wm, conn, "archive_command", "", &changed);

	restart = wm_get(wm, "master_restart_cmd", "");
	if (rc == 0 && restart[0] != '\0' && !wm->discard)
		rc = set_parameter(wm, conn, "archive_mode", "off", &changed);
	if (rc == 0 && changed)
		rc = reload_conf(conn);
	PQfinish(conn);
	if (rc == 0 && restart[0] != '\0' && !wm->discard && changed)
		rc = wm_run_shell(wm, "master_restart_cmd", restart) == 0 ?
			WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
	else if (rc == 0 && !wm->discard)
		log_info("archiving stopped: PostgreSQL keeps WAL in pg_wal until \"walmgr setup\" is run again");
	pg_free(restart);
	if (rc == 0)
		stop_syncdaemon(wm);
	return rc;
}

/*
 * A syncdaemon of this ini (its pidfile) copies the segment being written
 * on and on; with archiving stopped that serves nobody.  It is asked to
 * stop after its current round, as walmgr -s would.
 */
static void
stop_syncdaemon(Walmgr *wm)
{
	char	   *why = NULL;
	pid_t		pid;

	if (wm->script.pidfile[0] == '\0')
		return;
	pid = sky_pidfile_running_pid(wm->script.pidfile, &why);
	pg_free(why);
	if (pid == 0)
		return;
	if (wm->dry_run)
		log_info("dry run: would stop the syncdaemon (process %d)", (int) pid);
	else if (kill(pid, SIGINT) != 0)
		log_warning("could not stop the syncdaemon (process %d): %m", (int) pid);
	else
		log_info("syncdaemon (process %d) asked to stop", (int) pid);
}

/*
 * Run periodic_command if command_interval seconds have passed since the
 * last run.  The time of the last run is the mtime of a file in
 * state_dir (walmgr3 kept it inside PGDATA, where backups skipped it).
 * Returns false only if the command ran and failed.
 */
static bool
periodic(Walmgr *wm, bool verbose)
{
	char	   *command = wm_get(wm, "periodic_command", "");
	int			interval = sky_config_get_int(wm->script.cf, "command_interval", 0);
	char	   *state_dir;
	char	   *default_dir;
	char	   *stamp;
	struct stat st;
	bool		ok = true;
	int			fd;

	if (command[0] == '\0' || interval <= 0)
	{
		if (verbose)
			log_info("nothing to do: periodic_command and command_interval are not both set");
		pg_free(command);
		return true;
	}
	default_dir = psprintf("~/.walmgr/%s", wm->script.job_name);
	state_dir = wm_get_path(wm, "state_dir", default_dir);
	pg_free(default_dir);
	stamp = psprintf("%s/periodic.last", state_dir);
	if (stat(stamp, &st) == 0 && time(NULL) - st.st_mtime < interval)
	{
		if (verbose)
			log_info("periodic_command is not due yet");
	}
	else if (!wm->dry_run && !make_dir(state_dir, false))
		ok = false;
	else
	{
		/* stamp first: a slow command must not start again on every call */
		if (!wm->dry_run)
		{
			fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd < 0)
				log_warning("could not write \"%s\": %m", stamp);
			else
				close(fd);
		}
		ok = (wm_run_shell(wm, "periodic_command", command) == 0);
	}
	pg_free(stamp);
	pg_free(state_dir);
	pg_free(command);
	return ok;
}

/* After each archived file: its failure must not fail the archiving. */
void
run_periodic_if_due(Walmgr *wm)
{
	(void) periodic(wm, false);
}

/* walmgr INI periodic */
int
cmd_periodic(Walmgr *wm)
{
	return periodic(wm, true) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}

/*
 * Where the primary writes WAL now: the segment holding the flush position
 * of a running server, or, when it is down, the last segment written after
 * its last checkpoint.
 */
static char *
current_segment(Walmgr *wm, const char *data)
{
	char	   *pidfile = psprintf("%s/postmaster.pid", data);
	char	   *result = NULL;

	if (access(pidfile, F_OK) == 0)
	{
		char	   *connstr = wm_get(wm, "master_db", "dbname=postgres");
		PGconn	   *conn = sky_db_connect(connstr, wm->script.job_name);

		if (conn != NULL)
		{
			result = sky_db_value(conn, "select pg_walfile_name(pg_current_wal_flush_lsn())",
								  0, NULL);
			PQfinish(conn);
		}
		pg_free(connstr);
	}
	else
	{
		char	   *qbin = wm_pg_program(wm, "master_bin", "pg_controldata");
		char	   *q1 = wm_shell_quote(qbin);
		char	   *q2 = wm_shell_quote(data);
		char	   *cmd = psprintf("%s -D %s", q1, q2);
		FILE	   *fp;
		char		line[1024];
		unsigned int hi = 0;
		unsigned int lo = 0;
		unsigned int tli = 0;
		unsigned long segsize = 0;

		fp = popen(cmd, "r");
		while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		{
			if (strncmp(line, "Latest checkpoint location:", 27) == 0)
				sscanf(line + 27, " %X/%X", &hi, &lo);
			else if (strncmp(line, "Latest checkpoint's TimeLineID:", 31) == 0)
				sscanf(line + 31, " %u", &tli);
			else if (strncmp(line, "Bytes per WAL segment:", 22) == 0)
				sscanf(line + 22, " %lu", &segsize);
		}
		if (fp == NULL || pclose(fp) != 0 || tli == 0 || !IsValidWalSegSize(segsize))
			log_error("could not read the last checkpoint with \"%s\"", cmd);
		else
		{
			XLogSegNo	segno;
			char		next[MAXFNAMELEN];

			/*
			 * After a crash WAL goes on past the last checkpoint.  Follow the
			 * segments whose first page says they are the next one; a
			 * recycled or preallocated file does not, and ends the walk.
			 */
			result = pg_malloc(MAXFNAMELEN);
			XLByteToSeg(((uint64) hi << 32) | lo, segno, segsize);
			XLogFileName(result, tli, segno, segsize);
			for (;;)
			{
				char	   *path;
				int			fd;
				char		page[XLOG_BLCKSZ];
				ssize_t		n;
				struct stat st;
				ArchiveId	found;
				char	   *why;
				bool		valid;

				segno++;
				XLogFileName(next, tli, segno, segsize);
				path = psprintf("%s/pg_wal/%s", data, next);
				fd = open(path, O_RDONLY | O_CLOEXEC);
				pg_free(path);
				if (fd < 0)
					break;
				n = pread(fd, page, sizeof(page), 0);
				valid = (n > 0 && fstat(fd, &st) == 0 &&
						 walfile_check_segment(next, page, n, st.st_size, NULL, &found, &why));
				close(fd);
				if (!valid)
					break;
				strlcpy(result, next, MAXFNAMELEN);
			}
		}
		pg_free(cmd);
		pg_free(q1);
		pg_free(q2);
		pg_free(qbin);
	}
	pg_free(pidfile);
	return result;
}

/*
 * walmgr INI sync
 *
 * Copy the segment the primary is writing (not yet archived) to the
 * archive host's logs.partial, replacing the previous copy, so that
 * "boot --finish" on a standby can replay it after the primary is lost.
 * Works with the primary up or down.  The segment is read once into
 * memory, so what is stored is one consistent snapshot of a file that may
 * be growing meanwhile.
 *
 * last_sha, when not NULL, holds the checksum of what the previous call
 * stored (or ""); a snapshot identical to it is not sent again.
 */
static int
sync_once(Walmgr *wm, char *last_sha)
{
	char	   *data;
	char	   *current;
	char	   *path;
	char	   *done;
	int			fd;
	int			mfd;
	struct stat st;
	char	   *buf;
	char	   *partial_name;
	char	   *sha = NULL;
	ssize_t		n;
	int			rc;

	data = wm_get_path(wm, "master_data", NULL);
	current = current_segment(wm, data);
	if (current == NULL)
		return WALMGR_EXIT_FAIL;
	done = psprintf("%s/pg_wal/archive_status/%s.done", data, current);
	if (access(done, F_OK) == 0)
	{
		log_info("%s is archived already: nothing to sync", current);
		return WALMGR_EXIT_OK;
	}
	path = psprintf("%s/pg_wal/%s", data, current);
	if (wm->dry_run)
	{
		log_info("dry run: would copy \"%s\" to the archive's logs.partial", path);
		return WALMGR_EXIT_OK;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		log_error("could not open \"%s\": %m", path);
		return WALMGR_EXIT_FAIL;
	}
	buf = pg_malloc(st.st_size);
	n = pread(fd, buf, st.st_size, 0);
	close(fd);
	if (n != st.st_size)
	{
		log_error("could not read \"%s\": %m", path);
		return WALMGR_EXIT_FAIL;
	}
	mfd = memfd_create("walmgr-sync", MFD_CLOEXEC);
	if (mfd < 0 || write(mfd, buf, n) != n || lseek(mfd, 0, SEEK_SET) != 0)
	{
		log_error("could not buffer \"%s\": %m", path);
		return WALMGR_EXIT_FAIL;
	}
	/* stored as pg_receivewal names its segment in progress */
	partial_name = psprintf("%s.partial", current);
	if (last_sha != NULL)
	{
		pg_cryptohash_ctx *ctx = sha256_begin();
		char	   *hex;

		sha256_update(ctx, buf, n);
		hex = sha256_end(ctx);
		sha = psprintf("%s %s", partial_name, hex);
		pg_free(hex);
	}
	pg_free(buf);
	if (sha != NULL && strcmp(sha, last_sha) == 0)
	{
		log_debug("%s has not changed since the last sync", current);
		rc = WALMGR_EXIT_OK;
	}
	else
	{
		if (wm_remote(wm))
			rc = remote_xarchive(wm, mfd, n, partial_name, true);
		else
			rc = archive_store(wm, partial_name, mfd, n, NULL, true);
		if (rc == 0)
			log_info("%s copied to the archive's logs.partial (%zd bytes)", partial_name, n);
		if (last_sha != NULL)
			strlcpy(last_sha, rc == 0 ? sha : "", SYNC_SHA_LEN);
	}
	pg_free(sha);
	pg_free(partial_name);
	close(mfd);
	pg_free(path);
	pg_free(done);
	pg_free(current);
	pg_free(data);
	return rc;
}

/*
 * Does the synchronous_standby_names value names list application_name?
 * The names are what stands inside the parentheses of "FIRST n (...)",
 * "ANY n (...)" and "n (...)", else the whole value, separated by commas;
 * as in PostgreSQL, a plain name matches regardless of case, a quoted one
 * exactly, and "*" matches any standby.
 */
static bool
standby_named(const char *names, const char *application_name)
{
	const char *open = strchr(names, '(');
	const char *p = open ? open + 1 : names;
	bool		found = false;

	while (*p != '\0' && *p != ')' && !found)
	{
		const char *end;
		char	   *name;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '"')
		{
			PQExpBufferData buf;

			initPQExpBuffer(&buf);
			for (p++; *p != '\0'; p++)
			{
				if (*p == '"' && p[1] == '"')
					appendPQExpBufferChar(&buf, *p++);
				else if (*p == '"')
				{
					p++;
					break;
				}
				else
					appendPQExpBufferChar(&buf, *p);
			}
			found = (strcmp(buf.data, application_name) == 0);
			termPQExpBuffer(&buf);
			continue;
		}
		end = p + strcspn(p, ",)");
		name = pnstrdup(p, end - p);
		while (name[0] != '\0' && (name[strlen(name) - 1] == ' ' ||
									name[strlen(name) - 1] == '\t'))
			name[strlen(name) - 1] = '\0';
		found = (strcmp(name, "*") == 0 ||
				 (name[0] != '\0' && pg_strcasecmp(name, application_name) == 0));
		pg_free(name);
		p = end;
	}
	return found;
}

/*
 * walmgr INI synch-standby NAMES
 *
 * Make commits on the primary wait for the standbys NAMES (any value of
 * synchronous_standby_names, e.g. "s1", "FIRST 1 (s1, s2)"; "" for none)
 * through ALTER SYSTEM and a reload.  Names no connected standby has would
 * make every commit hang, so one of them must be in pg_stat_replication
 * first; --force skips that check, for a standby that is about to connect.
 */
int
cmd_synch_standby(Walmgr *wm)
{
	PGconn	   *conn;
	PGresult   *res;
	const char *names;
	bool		changed = false;
	int			rc;

	if (!wm->is_master)
	{
		log_error("synch-standby is a primary command: this ini has no master_data");
		return WALMGR_EXIT_USAGE;
	}
	if (wm->nargs != 1)
	{
		log_error("usage: synch-standby NAMES (a synchronous_standby_names value, '' for none)");
		return WALMGR_EXIT_USAGE;
	}
	names = wm->args[0];
	conn = connect_master(wm);
	if (conn == NULL)
		return WALMGR_EXIT_FAIL;

	if (names[0] != '\0')
	{
		const char *matched = NULL;
		int			i;

		res = sky_db_exec(conn, "select application_name from pg_stat_replication"
						  " where state in ('streaming', 'catchup') order by 1",
						  0, NULL);
		if (res == NULL)
		{
			PQfinish(conn);
			return WALMGR_EXIT_FAIL;
		}
		for (i = 0; i < PQntuples(res) && matched == NULL; i++)
			if (standby_named(names, PQgetvalue(res, i, 0)))
				matched = PQgetvalue(res, i, 0);
		if (matched != NULL)
			log_info("standby \"%s\" is connected and named", matched);
		else if (wm->force)
			log_warning("no connected standby is named in '%s': commits wait until one connects",
						names);
		else
		{
			log_error("no connected standby is named in '%s': every commit would wait "
					  "(use --force to set it anyway)", names);
			PQclear(res);
			PQfinish(conn);
			return WALMGR_EXIT_FAIL;
		}
		PQclear(res);
	}

	rc = set_parameter(wm, conn, "synchronous_standby_names", names, &changed);
	if (rc == 0 && changed)
		rc = reload_conf(conn);
	if (rc == 0 && names[0] == '\0' && !wm->dry_run)
		log_info("commits no longer wait for a synchronous standby");
	PQfinish(conn);
	return rc;
}

int
cmd_sync(Walmgr *wm)
{
	if (!wm->is_master)
	{
		log_error("sync is a primary command: this ini has no master_data");
		return WALMGR_EXIT_USAGE;
	}
	return sync_once(wm, NULL);
}

static SkyWorkResult
syncdaemon_work(SkyScript *script, void *arg)
{
	SyncDaemon *sd = (SyncDaemon *) arg;

	return sync_once(sd->wm, sd->last_sha) == 0 ? SKY_WORK_IDLE : SKY_WORK_FAILED;
}

/*
 * walmgr INI [-d] syncdaemon
 *
 * "sync" every loop_delay seconds, as a daemon with a pidfile, for hosts
 * where the archive host may not open a replication connection (else its
 * "receive" does better).  A snapshot identical to the previous one is not
 * sent again.  Stopped with -s/-k like every Skytools daemon; a failed
 * sync is logged and retried after exception_sleep.
 */
int
cmd_syncdaemon(Walmgr *wm)
{
	SyncDaemon	sd = {wm, ""};

	if (!wm->is_master)
	{
		log_error("syncdaemon is a primary command: this ini has no master_data");
		return WALMGR_EXIT_USAGE;
	}
	if (wm->dry_run)
		return sync_once(wm, NULL);
	if (!sky_script_start(&wm->script))
		return WALMGR_EXIT_FAIL;
	return sky_script_loop(&wm->script, syncdaemon_work, NULL, &sd);
}
