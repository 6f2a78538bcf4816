/*-------------------------------------------------------------------------
 *
 * status.c
 *	  status: is archiving working, what is in the archive.
 *
 * On the primary it reports the archiver's view (pg_stat_archiver, the
 * .ready files waiting in pg_wal) and what archive_command is set to, then
 * the archive host's view, which it gets by running "status" there.  On
 * the archive host it reports the archive's owner, its newest segment and
 * the backups.  Output is for humans, one "key: value" per line.
 *
 * src/walmgr/status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include "compress.h"
#include "framework/log.h"
#include "framework/pqutil.h"
#include "pqexpbuffer.h"
#include "walmgr.h"

static void archive_status(Walmgr *wm);
static int	primary_status(Walmgr *wm);
static int	status_check(Walmgr *wm);

typedef enum CheckLevel
{
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_CRITICAL = 2
} CheckLevel;

static void
archive_status(Walmgr *wm)
{
	ArchiveId	aid;
	bool		exists;
	DIR		   *dir;
	struct dirent *de;
	int			nseg = 0;
	int			nbackup = 0;
	char		newest[64] = "";
	struct stat st;

	printf("archive: %s\n", wm->walmgr_data);
	if (archive_id_read(wm->walmgr_data, &aid, &exists) && exists)
		printf("archive belongs to: database system %llu, %u-byte segments, PostgreSQL %d\n",
			   (unsigned long long) aid.system_identifier, aid.wal_segment_size, aid.pg_major);
	else
		printf("archive belongs to: (nothing archived yet)\n");
	dir = opendir(wm->completed_wals);
	if (dir == NULL)
	{
		printf("archived segments: (%s is missing: run setup)\n", wm->completed_wals);
		return;
	}
	while ((de = readdir(dir)) != NULL)
	{
		if (walfile_classify_stored(de->d_name) != WALFILE_SEGMENT)
			continue;
		nseg++;
		if (strcmp(de->d_name, newest) > 0)
			strlcpy(newest, de->d_name, sizeof(newest));
	}
	closedir(dir);
	printf("archived segments: %d\n", nseg);
	if (nseg > 0)
	{
		char	   *path = psprintf("%s/%s", wm->completed_wals, newest);
		char		when[64] = "";

		if (stat(path, &st) == 0)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&st.st_mtime));
		printf("newest segment: %s (archived %s)\n", newest, when);
		pg_free(path);
	}
	nbackup = count_backups(wm, -1);
	printf("backups: %d\n", nbackup);
	if (nbackup > 0)
	{
		char	   *start_wal;
		char	   *start_time;
		char	   *label;

		if (read_backup_label(wm->full_backup, &start_wal, &start_time, &label))
			printf("newest backup: %s (started %s at %s)\n", label ? label : "",
				   start_time ? start_time : "", start_wal);
	}
}

static int
primary_status(Walmgr *wm)
{
	char	   *connstr = wm_get(wm, "master_db", "dbname=postgres");
	char	   *data = wm_get_path(wm, "master_data", NULL);
	char	   *statusdir = psprintf("%s/pg_wal/archive_status", data);
	PGconn	   *conn = sky_db_connect(connstr, wm->script.job_name);
	PGresult   *res;
	DIR		   *dir;
	struct dirent *de;
	int			ready = 0;
	char		oldest[64] = "";
	const char *command;
	int			rc = WALMGR_EXIT_OK;

	pg_free(connstr);
	if (conn == NULL)
		return WALMGR_EXIT_FAIL;
	res = sky_db_exec(conn,
					  "select current_setting('archive_mode'),"
					  "       (select setting from pg_settings where name = 'archive_command'),"
					  "       archived_count, coalesce(last_archived_wal, ''),"
					  "       coalesce(last_archived_time::text, ''),"
					  "       failed_count, coalesce(last_failed_wal, ''),"
					  "       coalesce(last_failed_time::text, '')"
					  "  from pg_stat_archiver", 0, NULL);
	if (res == NULL)
	{
		PQfinish(conn);
		return WALMGR_EXIT_FAIL;
	}
	command = PQgetvalue(res, 0, 1);
	printf("role: primary\n");
	printf("archive_mode: %s\n", PQgetvalue(res, 0, 0));
	if (command[0] == '\0')
		printf("archiving: stopped (archive_command is empty; WAL is kept in pg_wal)\n");
	else if (strcmp(command, "/bin/true") == 0)
		printf("archiving: DISCARDING WAL (archive_command is /bin/true)\n");
	else if (strstr(command, " xarchive ") != NULL)
		printf("archiving: by walmgr (%s)\n", command);
	else
		printf("archiving: by another command (%s)\n", command);
	printf("archived: %s, last %s at %s\n", PQgetvalue(res, 0, 2),
		   PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	printf("failed: %s, last %s at %s\n", PQgetvalue(res, 0, 5),
		   PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
	PQclear(res);
	PQfinish(conn);

	dir = opendir(statusdir);
	if (dir != NULL)
	{
		while ((de = readdir(dir)) != NULL)
		{
			size_t		len = strlen(de->d_name);

			if (len > 6 && strcmp(de->d_name + len - 6, ".ready") == 0)
			{
				ready++;
				if (oldest[0] == '\0' || strcmp(de->d_name, oldest) < 0)
					strlcpy(oldest, de->d_name, sizeof(oldest));
			}
		}
		closedir(dir);
		printf("waiting to be archived: %d%s%.*s\n", ready,
			   ready ? ", oldest " : "", (int) (ready ? strlen(oldest) - 6 : 0), oldest);
	}
	else
		printf("waiting to be archived: (cannot read %s: %s)\n", statusdir, strerror(errno));
	pg_free(statusdir);
	pg_free(data);
	fflush(stdout);

	if (wm_remote(wm))
	{
		char	   *args[1] = {"status"};

		printf("archive host: %s\n", wm->slave);
		fflush(stdout);
		if (remote_run(wm, args, 1, -1, NULL) != 0)
		{
			log_error("could not get the status of the archive host %s", wm->slave);
			rc = WALMGR_EXIT_FAIL;
		}
	}
	else
		archive_status(wm);
	return rc;
}

/* walmgr INI status [--check] */
int
cmd_status(Walmgr *wm)
{
	if (wm->check)
		return status_check(wm);
	if (wm->is_master)
		return primary_status(wm);
	printf("role: archive host\n");
	archive_status(wm);
	return WALMGR_EXIT_OK;
}

/*
 * status --check: one line and a Nagios-style exit status, 0 OK,
 * 1 WARNING, 2 CRITICAL (3 UNKNOWN for a broken config).
 *
 *	CRITICAL: archive_command failing (last failure after last success),
 *			  WAL being discarded, no backup at all, primary unreachable
 *	WARNING:  archiving stopped, a .ready file older than check_archive_age
 *			  seconds (default 3600), newest backup older than
 *			  check_backup_age seconds (default 8 days)
 */

static void
check_note(CheckLevel *level, PQExpBuffer msg, CheckLevel l, const char *text)
{
	if (l > *level)
		*level = l;
	appendPQExpBuffer(msg, "%s%s", msg->len ? "; " : "", text);
}

static void
check_archive(Walmgr *wm, CheckLevel *level, PQExpBuffer msg)
{
	int			max_age = sky_config_get_int(wm->script.cf, "check_backup_age", 8 * 24 * 3600);
	char	   *info = psprintf("%s/walmgr.info", wm->full_backup);
	struct stat st;

	if (stat(info, &st) != 0)
		check_note(level, msg, CHECK_CRITICAL, "no backup");
	else if (time(NULL) - st.st_mtime > max_age)
	{
		char	   *text = psprintf("newest backup is %lld s old", (long long) (time(NULL) - st.st_mtime));

		check_note(level, msg, CHECK_WARNING, text);
		pg_free(text);
	}
	pg_free(info);
}

static void
check_primary(Walmgr *wm, CheckLevel *level, PQExpBuffer msg)
{
	char	   *connstr = wm_get(wm, "master_db", "dbname=postgres");
	char	   *data = wm_get_path(wm, "master_data", NULL);
	char	   *statusdir = psprintf("%s/pg_wal/archive_status", data);
	int			max_age = sky_config_get_int(wm->script.cf, "check_archive_age", 3600);
	PGconn	   *conn = sky_db_connect(connstr, wm->script.job_name);
	PGresult   *res;
	DIR		   *dir;
	struct dirent *de;
	time_t		oldest = 0;
	int			ready = 0;

	pg_free(connstr);
	if (conn == NULL)
	{
		check_note(level, msg, CHECK_CRITICAL, "cannot connect to the primary");
		return;
	}
	res = sky_db_exec(conn,
					  "select (select setting from pg_settings where name = 'archive_command'),"
					  "       last_failed_time is not null and"
					  "       (last_archived_time is null or last_failed_time > last_archived_time),"
					  "       coalesce(last_failed_wal, '')"
					  "  from pg_stat_archiver", 0, NULL);
	if (res == NULL)
		check_note(level, msg, CHECK_CRITICAL, "cannot read pg_stat_archiver");
	else
	{
		const char *command = PQgetvalue(res, 0, 0);

		if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		{
			char	   *text = psprintf("archive_command failing (last failed: %s)",
										PQgetvalue(res, 0, 2));

			check_note(level, msg, CHECK_CRITICAL, text);
			pg_free(text);
		}
		if (command[0] == '\0')
			check_note(level, msg, CHECK_WARNING, "archiving stopped");
		else if (strcmp(command, "/bin/true") == 0)
			check_note(level, msg, CHECK_CRITICAL, "WAL is being discarded");
		PQclear(res);
	}
	PQfinish(conn);

	dir = opendir(statusdir);
	while (dir != NULL && (de = readdir(dir)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char	   *path;
		struct stat st;

		if (len <= 6 || strcmp(de->d_name + len - 6, ".ready") != 0)
			continue;
		ready++;
		path = psprintf("%s/%s", statusdir, de->d_name);
		if (stat(path, &st) == 0 && (oldest == 0 || st.st_mtime < oldest))
			oldest = st.st_mtime;
		pg_free(path);
	}
	if (dir != NULL)
		closedir(dir);
	if (ready > 0 && time(NULL) - oldest > max_age)
	{
		char	   *text = psprintf("%d WAL files waiting, the oldest for %lld s",
									ready, (long long) (time(NULL) - oldest));

		check_note(level, msg, CHECK_WARNING, text);
		pg_free(text);
	}
	pg_free(statusdir);
	pg_free(data);
}

static int
status_check(Walmgr *wm)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL"};
	CheckLevel	level = CHECK_OK;
	PQExpBufferData msg;

	initPQExpBuffer(&msg);
	if (wm->is_master)
		check_primary(wm, &level, &msg);
	if (wm->is_master && wm_remote(wm))
	{
		char	   *args[2] = {"status", "--check"};
		char	   *out = NULL;
		int			rc = remote_run(wm, args, 2, -1, &out);
		char	   *dash = out ? strstr(out, " - ") : NULL;

		if (rc > CHECK_CRITICAL || dash == NULL)
			check_note(&level, &msg, CHECK_CRITICAL, "archive host not reachable");
		else if (rc != CHECK_OK)
		{
			dash[strcspn(dash, "\n")] = '\0';
			check_note(&level, &msg, (CheckLevel) rc, dash + 3);
		}
		pg_free(out);
	}
	else
		check_archive(wm, &level, &msg);
	printf("WALMGR %s - %s\n", names[level], msg.len ? msg.data : "archiving and backups fine");
	termPQExpBuffer(&msg);
	return level;
}
