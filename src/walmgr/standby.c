/*-------------------------------------------------------------------------
 *
 * standby.c
 *	  Building and promoting a standby: restore, createslave, boot.
 *
 * PostgreSQL 15 has no recovery.conf: recovery settings are ordinary
 * settings, written here to postgresql.auto.conf between two marker
 * comments (so that a second restore replaces them), and the kind of
 * recovery is chosen by a signal file: standby.signal for a standby that
 * keeps following the archive (and primary_conninfo when set),
 * recovery.signal for a recovery that ends and promotes at the end of the
 * archive.
 *
 * restore copies the backup; walmgr3 moved it, so the newest backup was
 * gone after the first restore.
 *
 * src/walmgr/standby.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "framework/log.h"
#include "framework/pqutil.h"
#include "pqexpbuffer.h"
#include "walmgr.h"

#define BLOCK_BEGIN "# walmgr recovery settings begin"
#define BLOCK_END "# walmgr recovery settings end"

static bool stop_server(Walmgr *wm, const char *datadir);
static bool keep_or_remove_old(Walmgr *wm, const char *datadir);
static bool write_recovery(Walmgr *wm, const char *datadir);
static bool write_signal(Walmgr *wm, const char *datadir);
static char *conf_quote(const char *value);
static int	start_server(Walmgr *wm, const char *datadir);
static bool relocate_wal(Walmgr *wm, const char *datadir);
static bool finish_replay(Walmgr *wm, PGconn *conn);
static bool partial_pending(Walmgr *wm);
static bool remove_recovery(PGconn *conn);
static int	pause_or_continue(Walmgr *wm, bool pause);

/* Is there a partial segment in logs.partial that logs.complete lacks? */
static bool
partial_pending(Walmgr *wm)
{
	DIR		   *dir = opendir(wm->partial_wals);
	struct dirent *de;
	bool		pending = false;

	while (dir != NULL && (de = readdir(dir)) != NULL && !pending)
	{
		char		segment[25];
		char	   *full;

		if (walfile_classify(de->d_name) != WALFILE_PARTIAL)
			continue;
		strlcpy(segment, de->d_name, sizeof(segment));
		full = archive_find(wm->completed_wals, segment);
		pending = (full == NULL);
		pg_free(full);
	}
	if (dir != NULL)
		closedir(dir);
	return pending;
}

/*
 * boot --finish: let the standby replay the partial segment before it is
 * promoted.  Set the FINISH flag, wait until xrestore has served the
 * partial segment (the startup process asks again every
 * wal_retrieve_retry_interval) and replay has stopped moving.  Without a
 * pending partial segment there is nothing to wait for.
 */
static bool
finish_replay(Walmgr *wm, PGconn *conn)
{
	char	   *flagdir = psprintf("%s/flags", wm->walmgr_data);
	char	   *flag = psprintf("%s/FINISH", flagdir);
	char	   *served = psprintf("%s.served", flag);
	int			timeout = sky_config_get_int(wm->script.cf, "finish_timeout", 120);
	char	   *last = NULL;
	int			waited;
	int			fd;
	bool		ok = false;

	unlink(served);
	if (!make_dir(flagdir, false) ||
		(fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
	{
		log_error("could not create \"%s\": %m", flag);
		goto out;
	}
	close(fd);
	if (partial_pending(wm))
	{
		log_info("waiting for the standby to replay the partial segment");
		for (waited = 0; access(served, F_OK) != 0 && waited < timeout * 10; waited++)
			pg_usleep(100 * 1000);
		if (access(served, F_OK) != 0)
		{
			log_error("the standby did not ask for the partial segment within %d s; not promoting", timeout);
			goto out;
		}
	}
	/* replay has finished when its position stops moving */
	for (waited = 0; waited < timeout; waited++)
	{
		char	   *now = sky_db_value(conn, "select pg_last_wal_replay_lsn()", 0, NULL);

		if (now == NULL)
			goto out;
		if (last != NULL && strcmp(now, last) == 0)
		{
			log_info("replay stopped at %s", now);
			pg_free(now);
			ok = true;
			break;
		}
		pg_free(last);
		last = now;
		pg_usleep(1000 * 1000);
	}
	if (!ok)
		log_error("replay did not settle within %d s; not promoting", timeout);
out:
	pg_free(last);
	pg_free(flagdir);
	pg_free(flag);
	pg_free(served);
	return ok;
}

/*
 * slave_pg_wal (walmgr3: slave_pg_xlog): keep the standby's pg_wal in
 * another directory, with a symlink in the data directory.  The directory
 * must be empty: it may not hold WAL of another cluster.
 */
static bool
relocate_wal(Walmgr *wm, const char *datadir)
{
	char	   *target;
	char	   *pgwal;
	char	   *from;
	bool		ok = false;
	DIR		   *dir;
	struct dirent *de;

	if (sky_config_has(wm->script.cf, "slave_pg_wal"))
		target = wm_get_path(wm, "slave_pg_wal", NULL);
	else if (sky_config_has(wm->script.cf, "slave_pg_xlog"))
	{
		log_warning("slave_pg_xlog is deprecated: call it slave_pg_wal");
		target = wm_get_path(wm, "slave_pg_xlog", NULL);
	}
	else
		return true;
	if (wm->dry_run)
	{
		log_info("dry run: would move pg_wal to \"%s\"", target);
		pg_free(target);
		return true;
	}
	pgwal = psprintf("%s/pg_wal", datadir);
	from = psprintf("%s/.", pgwal);
	if (!make_dir(target, false))
		goto out;
	dir = opendir(target);
	while (dir != NULL && (de = readdir(dir)) != NULL)
	{
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
		{
			log_error("slave_pg_wal \"%s\" is not empty", target);
			closedir(dir);
			goto out;
		}
	}
	if (dir != NULL)
		closedir(dir);
	{
		char	   *argv[] = {"/bin/cp", "-a", from, target, NULL};

		if (wm_run_argv(wm, "cp", argv, 0) != 0)
			goto out;
	}
	if (!remove_tree(pgwal))
		goto out;
	if (symlink(target, pgwal) != 0)
	{
		log_error("could not create symbolic link \"%s\": %m", pgwal);
		goto out;
	}
	log_info("pg_wal of \"%s\" is in \"%s\"", datadir, target);
	ok = true;
out:
	pg_free(target);
	pg_free(pgwal);
	pg_free(from);
	return ok;
}

/* a value as a postgresql.conf string literal */
static char *
conf_quote(const char *value)
{
	PQExpBufferData buf;
	char	   *result;

	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '\'');
	for (; *value; value++)
	{
		if (*value == '\'')
			appendPQExpBufferChar(&buf, '\'');
		appendPQExpBufferChar(&buf, *value);
	}
	appendPQExpBufferChar(&buf, '\'');
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * Stop the server running in datadir, if any, with slave_stop_cmd, and
 * wait for it to be gone.
 */
static bool
stop_server(Walmgr *wm, const char *datadir)
{
	char	   *pidfile = psprintf("%s/postmaster.pid", datadir);
	char	   *cmd;
	int			waited;
	bool		ok = true;

	if (access(pidfile, F_OK) != 0)
	{
		pg_free(pidfile);
		return true;
	}
	cmd = wm_get(wm, "slave_stop_cmd", "");
	if (cmd[0] == '\0')
	{
		log_error("PostgreSQL seems to run in \"%s\" (postmaster.pid exists); stop it or set slave_stop_cmd",
				  datadir);
		ok = false;
	}
	else if (wm_run_shell(wm, "slave_stop_cmd", cmd) != 0)
		ok = false;
	else if (!wm->dry_run)
	{
		for (waited = 0; access(pidfile, F_OK) == 0 && waited < 600; waited++)
			pg_usleep(100 * 1000);
		if (access(pidfile, F_OK) == 0)
		{
			log_error("PostgreSQL in \"%s\" did not stop within 60 s", datadir);
			ok = false;
		}
	}
	pg_free(cmd);
	pg_free(pidfile);
	return ok;
}

/*
 * Make room for the new data directory: keep the old one as datadir.N
 * (backup_datadir = yes, the default) or remove it.
 */
static bool
keep_or_remove_old(Walmgr *wm, const char *datadir)
{
	struct stat st;
	int			n;

	if (stat(datadir, &st) != 0)
		return true;
	if (!sky_config_get_bool(wm->script.cf, "backup_datadir", true))
	{
		if (wm->dry_run)
		{
			log_info("dry run: would remove the old data directory \"%s\"", datadir);
			return true;
		}
		log_info("removing the old data directory \"%s\"", datadir);
		return remove_tree(datadir);
	}
	for (n = 0;; n++)
	{
		char	   *old = psprintf("%s.%d", datadir, n);

		if (stat(old, &st) != 0)
		{
			bool		ok = true;

			if (wm->dry_run)
				log_info("dry run: would keep the old data directory as \"%s\"", old);
			else if (rename(datadir, old) != 0)
			{
				log_error("could not rename \"%s\" to \"%s\": %m", datadir, old);
				ok = false;
			}
			else
				log_info("kept the old data directory as \"%s\"", old);
			pg_free(old);
			return ok;
		}
		pg_free(old);
	}
}

/*
 * Write walmgr's recovery settings into datadir/postgresql.auto.conf,
 * replacing an earlier walmgr block.
 */
static bool
write_recovery(Walmgr *wm, const char *datadir)
{
	char	   *path = psprintf("%s/postgresql.auto.conf", datadir);
	char	   *tmp = psprintf("%s/postgresql.auto.conf.walmgr", datadir);
	char	   *primary = wm_get(wm, "primary_conninfo", "");
	char	   *slot = wm_get(wm, "primary_slot_name", "");
	PQExpBufferData text;
	PQExpBufferData restore;
	FILE	   *fp;
	char		line[4096];
	bool		skipping = false;
	char	   *q;
	char	   *qself = wm_shell_quote(wm->self_path);
	char	   *qini = wm_shell_quote(wm->script.cf->path);
	bool		ok;

	initPQExpBuffer(&text);
	fp = fopen(path, "r");
	if (fp != NULL)
	{
		while (fgets(line, sizeof(line), fp) != NULL)
		{
			if (strncmp(line, BLOCK_BEGIN, strlen(BLOCK_BEGIN)) == 0)
				skipping = true;
			else if (strncmp(line, BLOCK_END, strlen(BLOCK_END)) == 0)
				skipping = false;
			else if (!skipping)
				appendPQExpBufferStr(&text, line);
		}
		fclose(fp);
	}

	initPQExpBuffer(&restore);
	appendPQExpBuffer(&restore, "%s %s xrestore %%f \"%%p\" %%r", qself, qini);
	appendPQExpBufferStr(&text, BLOCK_BEGIN "\n");
	q = conf_quote(restore.data);
	appendPQExpBuffer(&text, "restore_command = %s\n", q);
	pg_free(q);

	/*
	 * Settings read only at server start are written only when asked for:
	 * boot cannot remove them without a restart (see remove_recovery).
	 * PostgreSQL follows the latest timeline by default.
	 */
	if (wm->target_timeline != NULL)
	{
		q = conf_quote(wm->target_timeline);
		appendPQExpBuffer(&text, "recovery_target_timeline = %s\n", q);
		pg_free(q);
	}
	if (wm->target_setting != NULL)
	{
		q = conf_quote(wm->target_value);
		appendPQExpBuffer(&text, "%s = %s\n", wm->target_setting, q);
		pg_free(q);
	}
	if (wm->target_action != NULL)
		appendPQExpBuffer(&text, "recovery_target_action = '%s'\n", wm->target_action);
	if (primary[0] != '\0')
	{
		q = conf_quote(primary);
		appendPQExpBuffer(&text, "primary_conninfo = %s\n", q);
		pg_free(q);
	}
	if (slot[0] != '\0')
	{
		q = conf_quote(slot);
		appendPQExpBuffer(&text, "primary_slot_name = %s\n", q);
		pg_free(q);
	}
	appendPQExpBufferStr(&text, BLOCK_END "\n");

	if (wm->dry_run)
	{
		log_info("dry run: would write recovery settings to \"%s\"", path);
		ok = true;
	}
	else
	{
		fp = fopen(tmp, "w");
		ok = (fp != NULL && fwrite(text.data, 1, text.len, fp) == (size_t) text.len &&
			  fflush(fp) == 0 && fsync(fileno(fp)) == 0);
		if (fp != NULL && fclose(fp) != 0)
			ok = false;
		if (ok && rename(tmp, path) != 0)
			ok = false;
		if (!ok)
			log_error("could not write \"%s\": %m", path);
		else
			log_info("wrote recovery settings to \"%s\"", path);
	}
	termPQExpBuffer(&text);
	termPQExpBuffer(&restore);
	pg_free(qself);
	pg_free(qini);
	pg_free(primary);
	pg_free(slot);
	pg_free(path);
	pg_free(tmp);
	return ok;
}

/*
 * standby.signal, or recovery.signal with --no-standby or a recovery
 * target: a standby never reaches a target, it keeps waiting for more WAL.
 */
static bool
write_signal(Walmgr *wm, const char *datadir)
{
	bool		targeted = wm->no_standby || wm->target_setting != NULL;
	const char *name = targeted ? "recovery.signal" : "standby.signal";
	const char *other = targeted ? "standby.signal" : "recovery.signal";
	char	   *path = psprintf("%s/%s", datadir, name);
	char	   *otherpath = psprintf("%s/%s", datadir, other);
	int			fd;
	bool		ok = true;

	if (wm->dry_run)
		log_info("dry run: would create \"%s\"", path);
	else
	{
		unlink(otherpath);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || fsync(fd) != 0)
		{
			log_error("could not create \"%s\": %m", path);
			ok = false;
		}
		if (fd >= 0)
			close(fd);
	}
	pg_free(path);
	pg_free(otherpath);
	return ok;
}

/* start with slave_start_cmd, or say how */
static int
start_server(Walmgr *wm, const char *datadir)
{
	char	   *cmd = wm_get(wm, "slave_start_cmd", "");
	int			rc = WALMGR_EXIT_OK;

	if (cmd[0] == '\0')
		log_info("data directory \"%s\" is ready; start PostgreSQL on it (slave_start_cmd is not set)",
				 datadir);
	else if (wm_run_shell(wm, "slave_start_cmd", cmd) != 0)
		rc = WALMGR_EXIT_FAIL;
	pg_free(cmd);
	return rc;
}

/*
 * walmgr INI restore [SET [DST]] [--no-standby] [--target-... [--target-action A]]
 *
 * SET is a backup directory name (data.master, data.master.0, ...) next to
 * full_backup, or a path; the newest backup by default.  DST defaults to
 * slave_data.
 */
int
cmd_restore(Walmgr *wm)
{
	char	   *src;
	char	   *dst;
	char	   *start_wal;
	char	   *start_time;
	char	   *label;
	struct stat st;
	int			rc = WALMGR_EXIT_FAIL;

	if (wm->nargs > 2)
	{
		log_error("restore takes at most two arguments: [SET [DST]]");
		return WALMGR_EXIT_USAGE;
	}
	if (wm->nargs >= 1 && strchr(wm->args[0], '/') == NULL)
	{
		char	   *parent = pg_strdup(wm->full_backup);

		get_parent_directory(parent);
		src = psprintf("%s/%s", parent, wm->args[0]);
		pg_free(parent);
	}
	else
		src = (wm->nargs >= 1) ? pg_strdup(wm->args[0]) : pg_strdup(wm->full_backup);
	dst = (wm->nargs == 2) ? pg_strdup(wm->args[1]) : wm_get_path(wm, "slave_data", NULL);

	if (!read_backup_label(src, &start_wal, &start_time, &label))
	{
		log_error("\"%s\" is not a complete backup (no backup_label)", src);
		goto out;
	}
	log_info("restoring backup \"%s\" (%s, starts at %s) into \"%s\"",
			 src, label ? label : "", start_wal, dst);
	if (!stop_server(wm, dst) || !keep_or_remove_old(wm, dst))
		goto out;
	{
		char	   *argv[] = {"/bin/cp", "-a", src, dst, NULL};

		if (wm_run_argv(wm, "cp", argv, 0) != 0)
			goto out;
	}
	if (!wm->dry_run)
	{
		char	   *walstatus = psprintf("%s/pg_wal/archive_status", dst);
		char	   *info = psprintf("%s/walmgr.info", dst);
		char	   *manifest = psprintf("%s/backup_manifest", dst);

		/* the copy is a data directory now, not a backup */
		unlink(info);
		unlink(manifest);
		if (stat(walstatus, &st) != 0 && !make_dir(walstatus, false))
			goto out;
		chmod(dst, 0700);
		pg_free(walstatus);
		pg_free(info);
		pg_free(manifest);
	}
	if (!relocate_wal(wm, dst) || !write_recovery(wm, dst) || !write_signal(wm, dst))
		goto out;
	rc = start_server(wm, dst);

out:
	pg_free(src);
	pg_free(dst);
	return rc;
}

/*
 * walmgr INI createslave
 *
 * A streaming standby straight from the primary: pg_basebackup -X stream
 * into slave_data, then the same settings as restore.
 */
int
cmd_createslave(Walmgr *wm)
{
	char	   *conninfo = wm_get(wm, "primary_conninfo", NULL);
	char	   *slot = wm_get(wm, "primary_slot_name", "");
	char	   *dst = wm_get_path(wm, "slave_data", NULL);
	char	   *basebackup = wm_pg_program(wm, "slave_bin", "pg_basebackup");
	int			rc = WALMGR_EXIT_FAIL;

	if (!stop_server(wm, dst) || !keep_or_remove_old(wm, dst))
		goto out;
	{
		/* without a slot the list simply ends before "-S" */
		char	   *argv[] = {basebackup, "-d", conninfo, "-D", dst, "-X", "stream",
			"-c", "fast", "-w", slot[0] ? "-S" : NULL, slot, NULL};

		if (wm_run_argv(wm, "pg_basebackup", argv, 0) != 0)
			goto out;
	}
	if (!write_recovery(wm, dst) || !write_signal(wm, dst))
		goto out;
	rc = start_server(wm, dst);

out:
	pg_free(conninfo);
	pg_free(slot);
	pg_free(dst);
	pg_free(basebackup);
	return rc;
}

/*
 * Remove walmgr's recovery settings from postgresql.auto.conf after
 * promotion, where they mean nothing.  Only those a reload can change:
 * removing one that is read only at server start (a recovery target,
 * recovery_target_timeline) makes this reload and every later one log
 * that the configuration file contains errors, until a restart.  Those
 * stay, and are said to; outside recovery they have no effect.
 */
static bool
remove_recovery(PGconn *conn)
{
	const char *params[1] = {"{restore_command,primary_conninfo,primary_slot_name,"
		"recovery_target_timeline,recovery_target,recovery_target_time,"
	"recovery_target_lsn,recovery_target_xid,recovery_target_name,recovery_target_action}"};
	PGresult   *res;
	bool		removed = false;
	bool		ok = true;
	int			i;

	res = sky_db_exec(conn,
					  "select s.name, s.context = 'postmaster'"
					  "  from pg_catalog.pg_settings s"
					  " where s.name = any ($1::pg_catalog.text[])"
					  "   and exists (select from pg_catalog.pg_file_settings f"
					  "                where f.name = s.name"
					  "                  and f.sourcefile ~ '/postgresql\\.auto\\.conf$')"
					  " order by s.name",
					  1, params);
	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res) && ok; i++)
	{
		const char *name = PQgetvalue(res, i, 0);
		char	   *sql;
		PGresult   *reset;

		if (strcmp(PQgetvalue(res, i, 1), "t") == 0)
		{
			log_info("%s stays in postgresql.auto.conf: it changes only at a restart, and outside recovery it has no effect",
					 name);
			continue;
		}
		sql = psprintf("ALTER SYSTEM RESET %s", name);
		reset = sky_db_exec(conn, sql, 0, NULL);
		pg_free(sql);
		if (reset == NULL)
			ok = false;
		else
		{
			PQclear(reset);
			removed = true;
		}
	}
	PQclear(res);
	if (ok && removed)
	{
		char	   *v = sky_db_value(conn, "select pg_catalog.pg_reload_conf()", 0, NULL);

		ok = (v != NULL);
		pg_free(v);
	}
	if (ok)
		log_info("walmgr's recovery settings removed");
	return ok;
}

/*
 * walmgr INI boot
 *
 * Promote the standby (pg_promote, waiting for it) and remove walmgr's
 * recovery settings.
 */
int
cmd_boot(Walmgr *wm)
{
	char	   *connstr = wm_get(wm, "slave_db", "dbname=postgres");
	PGconn	   *conn;
	char	   *v;
	int			rc = WALMGR_EXIT_FAIL;

	if (wm->dry_run)
	{
		log_info("dry run: would promote the standby at \"%s\"", connstr);
		pg_free(connstr);
		return WALMGR_EXIT_OK;
	}
	conn = sky_db_connect(connstr, wm->script.job_name);
	pg_free(connstr);
	if (conn == NULL)
		return WALMGR_EXIT_FAIL;
	v = sky_db_value(conn, "select pg_is_in_recovery()", 0, NULL);
	if (v == NULL)
		goto out;
	if (strcmp(v, "t") == 0)
	{
		pg_free(v);
		v = NULL;
		if (wm->finish && !finish_replay(wm, conn))
			goto out;
		v = sky_db_value(conn, "select pg_promote(true, 300)", 0, NULL);
		if (v == NULL || strcmp(v, "t") != 0)
		{
			log_error("the standby was not promoted within 300 s");
			goto out;
		}
		log_info("standby promoted");
	}
	else
		log_info("not in recovery: already promoted");
	if (remove_recovery(conn))
		rc = WALMGR_EXIT_OK;

out:
	if (wm->finish)
	{
		char	   *flag = psprintf("%s/flags/FINISH", wm->walmgr_data);
		char	   *served = psprintf("%s.served", flag);

		unlink(flag);
		unlink(served);
		pg_free(flag);
		pg_free(served);
	}
	pg_free(v);
	PQfinish(conn);
	return rc;
}

/*
 * walmgr INI pause / continue
 *
 * Through SQL (pg_wal_replay_pause/resume on slave_db) when the standby
 * accepts connections; otherwise through the PAUSE flag, which makes
 * xrestore answer "not found" and so holds back archive replay without
 * blocking the startup process.  That is only safe on a standby: in
 * targeted recovery (recovery.signal) "not found" ends recovery, so pause
 * refuses there.
 */
static int
pause_or_continue(Walmgr *wm, bool pause)
{
	char	   *connstr = wm_get(wm, "slave_db", "dbname=postgres");
	char	   *flagdir = psprintf("%s/flags", wm->walmgr_data);
	char	   *flag = psprintf("%s/PAUSE", flagdir);
	char	   *oldflag = psprintf("%s/PAUSE", wm->completed_wals);
	PGconn	   *conn = NULL;
	int			rc = WALMGR_EXIT_FAIL;

	if (!wm->dry_run)
		conn = PQconnectdb(connstr);
	if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
	{
		char	   *v = sky_db_value(conn, pause ? "select pg_wal_replay_pause()" :
									 "select pg_wal_replay_resume()", 0, NULL);

		if (v != NULL)
		{
			log_info("replay %s", pause ? "paused" : "resumed");
			rc = WALMGR_EXIT_OK;
		}
		pg_free(v);
	}
	else if (wm->dry_run)
	{
		log_info("dry run: would %s replay", pause ? "pause" : "resume");
		rc = WALMGR_EXIT_OK;
	}
	else
	{
		char	   *data = wm_get_path(wm, "slave_data", NULL);
		char	   *signal = psprintf("%s/standby.signal", data);

		log_info("cannot connect to the standby (%s): using the PAUSE flag",
				 PQerrorMessage(conn));
		if (!pause)
		{
			if ((unlink(flag) == 0 || errno == ENOENT) &&
				(unlink(oldflag) == 0 || errno == ENOENT))
			{
				log_info("PAUSE flag removed: archive replay goes on");
				rc = WALMGR_EXIT_OK;
			}
			else
				log_error("could not remove the PAUSE flag: %m");
		}
		else if (access(signal, F_OK) != 0)
			log_error("refusing to pause through the PAUSE flag: \"%s\" does not exist, and in targeted recovery \"not found\" would end recovery",
					  signal);
		else
		{
			int			fd;

			if (make_dir(flagdir, false) &&
				(fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
			{
				close(fd);
				log_info("PAUSE flag set: archive replay stops at the next segment");
				rc = WALMGR_EXIT_OK;
			}
			else
				log_error("could not create \"%s\": %m", flag);
		}
		pg_free(signal);
		pg_free(data);
	}
	PQfinish(conn);
	pg_free(connstr);
	pg_free(flagdir);
	pg_free(flag);
	pg_free(oldflag);
	return rc;
}

int
cmd_pause(Walmgr *wm)
{
	return pause_or_continue(wm, true);
}

int
cmd_continue(Walmgr *wm)
{
	return pause_or_continue(wm, false);
}
