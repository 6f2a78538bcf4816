/*-------------------------------------------------------------------------
 *
 * backup.c
 *	  Base backups on the archive host: backup, listbackups, the backup
 *	  lock, rotation, WAL purge and cleanup.
 *
 * A backup is taken with pg_basebackup into "<full_backup>.incomplete",
 * checked with pg_verifybackup, described in walmgr.info, and only then
 * renamed into place as the newest backup (full_backup; older ones are
 * full_backup.0, .1, ...).  Old backups are removed after that, never
 * before: walmgr3 deleted them first, so a failed backup left none.
 *
 * With backup_wal = archive (the default) pg_basebackup runs with -X none.
 * The server's pg_backup_stop then waits until the WAL the backup needs has
 * gone through archive_command, i.e. through our own xarchive, and a broken
 * archive makes the backup fail (after backup_archive_timeout) instead of
 * producing a backup that cannot be restored.
 *
 * src/walmgr/backup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "compress.h"
#include "framework/log.h"
#include "walmgr.h"

static char *lock_path(Walmgr *wm);
static bool lock_take(Walmgr *wm, long pid);
static void lock_release(Walmgr *wm);
static bool write_info(Walmgr *wm, const char *dir, bool verified);
static bool rotate_in(Walmgr *wm, const char *newdir);
static bool expire(Walmgr *wm);
static bool purge_wal(Walmgr *wm);

/* full_backup for n < 0, else full_backup.n */
char *
backup_path(Walmgr *wm, int n)
{
	if (n < 0)
		return pg_strdup(wm->full_backup);
	return psprintf("%s.%d", wm->full_backup, n);
}

/*
 * How many backups follow each other without a gap in the chain
 * full_backup, full_backup.0, full_backup.1 ..., counting from index
 * "first" (-1 for full_backup itself).
 */
int
count_backups(Walmgr *wm, int first)
{
	int			n = first;
	struct stat st;

	for (;;)
	{
		char	   *p = backup_path(wm, n);
		bool		there = (stat(p, &st) == 0);

		pg_free(p);
		if (!there)
			break;
		n++;
	}
	return n - first;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) != 0)
	{
		log_error("could not remove \"%s\": %m", path);
		return -1;
	}
	return 0;
}

/* rm -rf, without following symlinks */
bool
remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

/*
 * Fields of a backup's backup_label (NULL when absent).  Returns false if
 * the directory has no backup_label.
 */
bool
read_backup_label(const char *dir, char **start_wal, char **start_time,
				  char **label)
{
	char	   *path = psprintf("%s/backup_label", dir);
	FILE	   *fp = fopen(path, "r");
	char		line[1024];

	*start_wal = *start_time = *label = NULL;
	pg_free(path);
	if (fp == NULL)
		return false;
	while (fgets(line, sizeof(line), fp) != NULL)
	{
		char		wal[64];
		char	   *p;

		line[strcspn(line, "\n")] = '\0';
		if ((p = strstr(line, "(file ")) != NULL &&
			strncmp(line, "START WAL LOCATION:", 19) == 0 &&
			sscanf(p, "(file %24[0-9A-F])", wal) == 1)
			*start_wal = pg_strdup(wal);
		else if (strncmp(line, "START TIME: ", 12) == 0)
			*start_time = pg_strdup(line + 12);
		else if (strncmp(line, "LABEL: ", 7) == 0)
			*label = pg_strdup(line + 7);
	}
	fclose(fp);
	return *start_wal != NULL;
}

/* the lock file; walmgr3 kept it in logs.complete, we keep it in flags/ */
static char *
lock_path(Walmgr *wm)
{
	return psprintf("%s/flags/BACKUPLOCK", wm->walmgr_data);
}

/*
 * Take the backup lock for pid.  A lock whose process is gone (on this
 * host) is taken over; a live holder makes this fail with its pid named.
 */
static bool
lock_take(Walmgr *wm, long pid)
{
	char	   *path = lock_path(wm);
	char	   *flags = psprintf("%s/flags", wm->walmgr_data);
	int			attempt;
	bool		ok = false;

	if (!make_dir(flags, false))
	{
		pg_free(flags);
		pg_free(path);
		return false;
	}
	for (attempt = 0; attempt < 2 && !ok; attempt++)
	{
		int			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		char		buf[32];
		FILE	   *fp;
		long		holder = 0;

		if (fd >= 0)
		{
			int			len = snprintf(buf, sizeof(buf), "%ld\n", pid);

			if (write(fd, buf, len) != len || fsync(fd) != 0)
				log_error("could not write \"%s\": %m", path);
			else
				ok = true;
			close(fd);
			if (!ok)
				unlink(path);
			break;
		}
		if (errno != EEXIST)
		{
			log_error("could not create \"%s\": %m", path);
			break;
		}
		fp = fopen(path, "r");
		if (fp != NULL)
		{
			if (fscanf(fp, "%ld", &holder) != 1)
				holder = 0;
			fclose(fp);
		}
		if (holder > 0 && (kill((pid_t) holder, 0) == 0 || errno == EPERM))
		{
			log_error("another backup is running: the backup lock \"%s\" is held by process %ld",
					  path, holder);
			break;
		}
		log_warning("taking over the backup lock \"%s\" of process %ld, which is gone",
					path, holder);
		unlink(path);
	}
	pg_free(flags);
	pg_free(path);
	return ok;
}

static void
lock_release(Walmgr *wm)
{
	char	   *path = lock_path(wm);

	if (unlink(path) != 0 && errno != ENOENT)
		log_error("could not remove the backup lock \"%s\": %m", path);
	pg_free(path);
}

/*
 * Write walmgr.info: what listbackups shows and purge needs, including the
 * stop position, which only backup_manifest records.
 */
static bool
write_info(Walmgr *wm, const char *dir, bool verified)
{
	char	   *start_wal;
	char	   *start_time;
	char	   *label;
	char	   *manifest = psprintf("%s/backup_manifest", dir);
	char	   *path = psprintf("%s/walmgr.info", dir);
	char		stop_wal[32] = "";
	char		stop_time[64];
	char		line[1024];
	unsigned int tli = 0;
	unsigned int hi;
	unsigned int lo;
	FILE	   *fp;
	ArchiveId	aid;
	bool		exists;
	time_t		now = time(NULL);
	bool		ok;

	if (!read_backup_label(dir, &start_wal, &start_time, &label))
	{
		log_error("backup \"%s\" has no usable backup_label", dir);
		return false;
	}
	if (!archive_id_read(wm->walmgr_data, &aid, &exists) || !exists)
		aid.wal_segment_size = DEFAULT_XLOG_SEG_SIZE;
	fp = fopen(manifest, "r");
	if (fp != NULL)
	{
		while (fgets(line, sizeof(line), fp) != NULL)
		{
			char	   *t = strstr(line, "\"Timeline\":");
			char	   *e = strstr(line, "\"End-LSN\": \"");

			if (t != NULL)
				tli = (unsigned int) strtoul(t + 11, NULL, 10);
			if (e != NULL && sscanf(e + 12, "%X/%X", &hi, &lo) == 2)
			{
				XLogRecPtr	end = ((uint64) hi << 32) | lo;
				XLogSegNo	segno;

				/* the segment holding the last byte before End-LSN */
				XLByteToPrevSeg(end, segno, aid.wal_segment_size);
				XLogFileName(stop_wal, tli, segno, aid.wal_segment_size);
			}
		}
		fclose(fp);
	}
	strftime(stop_time, sizeof(stop_time), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	fp = fopen(path, "w");
	if (fp == NULL)
	{
		log_error("could not write \"%s\": %m", path);
		return false;
	}
	fprintf(fp, "label = %s\nstart_time = %s\nstart_wal = %s\nstop_time = %s\nstop_wal = %s\ntimeline = %u\nverified = %s\n",
			label ? label : "", start_time ? start_time : "", start_wal,
			stop_time, stop_wal, tli, verified ? "yes" : "no");
	ok = (fflush(fp) == 0 && fsync(fileno(fp)) == 0);
	if (fclose(fp) != 0 || !ok)
	{
		log_error("could not write \"%s\": %m", path);
		return false;
	}
	pg_free(manifest);
	pg_free(path);
	return fsync_path(dir, true);
}

/*
 * Make newdir the newest backup: full_backup.k -> .k+1, full_backup -> .0,
 * newdir -> full_backup.  Renames only; nothing is deleted here.
 */
static bool
rotate_in(Walmgr *wm, const char *newdir)
{
	int			n;
	int			k;
	char	   *parent;
	struct stat st;

	n = count_backups(wm, 0);
	for (k = n - 1; k >= -1; k--)
	{
		char	   *from = backup_path(wm, k);
		char	   *to = backup_path(wm, k + 1);

		if (stat(from, &st) == 0 && rename(from, to) != 0)
		{
			log_error("could not rename \"%s\" to \"%s\": %m", from, to);
			pg_free(from);
			pg_free(to);
			return false;
		}
		pg_free(from);
		pg_free(to);
	}
	if (rename(newdir, wm->full_backup) != 0)
	{
		log_error("could not rename \"%s\" to \"%s\": %m", newdir, wm->full_backup);
		return false;
	}
	parent = pg_strdup(wm->full_backup);
	get_parent_directory(parent);
	if (!fsync_path(parent, true))
	{
		pg_free(parent);
		return false;
	}
	pg_free(parent);
	return true;
}

/*
 * Remove the backups beyond keep_backups (0 means 1: only the newest),
 * oldest first.  backup_expire_command (walmgr3's archive_command of the
 * slave ini) runs before each removal with $BACKUPDIR set; if it fails the
 * rotation stops there and the backup is kept.
 */
static bool
expire(Walmgr *wm)
{
	int			keep = sky_config_get_int(wm->script.cf, "keep_backups", 0);
	char	   *command;
	int			n;
	int			k;
	bool		ok = true;

	if (keep < 1)
		keep = 1;
	if (sky_config_has(wm->script.cf, "backup_expire_command"))
		command = wm_get(wm, "backup_expire_command", NULL);
	else if (!wm->is_master && sky_config_has(wm->script.cf, "archive_command"))
	{
		/* walmgr3's name, easily mistaken for PostgreSQL's setting */
		log_warning("the archive host's \"archive_command\" is deprecated: call it backup_expire_command");
		command = wm_get(wm, "archive_command", NULL);
	}
	else
		command = pg_strdup("");

	/* backups: full_backup, full_backup.0 ... full_backup.(n-1) */
	n = count_backups(wm, 0);
	for (k = n - 1; k >= keep - 1 && ok; k--)
	{
		char	   *victim = backup_path(wm, k);

		if (command[0] != '\0')
		{
			setenv("BACKUPDIR", victim, 1);
			if (wm_run_shell(wm, "backup_expire_command", command) != 0)
			{
				log_error("not removing \"%s\" or older backups: backup_expire_command failed",
						  victim);
				ok = false;
			}
		}
		if (ok)
		{
			if (wm->dry_run)
				log_info("dry run: would remove old backup \"%s\"", victim);
			else if (remove_tree(victim))
				log_info("removed old backup \"%s\"", victim);
			else
				ok = false;
		}
		pg_free(victim);
	}
	pg_free(command);
	return ok;
}

/*
 * Remove archived WAL no kept backup needs: every segment, .partial and
 * .backup file whose segment number is below the start segment of the
 * oldest kept backup, on every timeline (recovery from that backup never
 * reads a lower segment number on any timeline).  .history files stay.
 * Without any backup nothing is removed.
 */
static bool
purge_wal(Walmgr *wm)
{
	int			n = -1;
	char	   *oldest = NULL;
	const char *dirs[2] = {wm->completed_wals, wm->partial_wals};
	int			d;
	int			removed = 0;
	struct stat st;

	for (;;)
	{
		char	   *p = backup_path(wm, n);
		char	   *start_wal;
		char	   *start_time;
		char	   *label;

		if (stat(p, &st) != 0)
		{
			pg_free(p);
			break;
		}
		if (read_backup_label(p, &start_wal, &start_time, &label))
		{
			pg_free(oldest);
			oldest = start_wal;
		}
		pg_free(p);
		n++;
	}
	if (oldest == NULL)
	{
		log_info("no backup: not purging any WAL");
		return true;
	}
	for (d = 0; d < 2; d++)
	{
		DIR		   *dir = opendir(dirs[d]);
		struct dirent *de;

		if (dir == NULL)
			continue;
		while ((de = readdir(dir)) != NULL)
		{
			WalFileKind kind = walfile_classify_stored(de->d_name);
			char	   *path;

			if (kind == WALFILE_INVALID || kind == WALFILE_HISTORY ||
				walfile_compare_segno(de->d_name, oldest) >= 0)
				continue;
			path = psprintf("%s/%s", dirs[d], de->d_name);
			if (wm->dry_run)
				log_info("dry run: would remove \"%s\"", path);
			else if (unlink(path) == 0)
				removed++;
			else
				log_warning("could not remove \"%s\": %m", path);
			pg_free(path);
		}
		closedir(dir);
	}
	log_info("purged %d WAL files older than %s", removed, oldest);
	pg_free(oldest);
	return true;
}

/*
 * walmgr INI backup
 *
 * From the primary's ini the backup runs on the archive host (through
 * ssh_command unless the archive is local); there it is taken from
 * primary_conninfo (from master_db when run with the primary's ini).
 */
int
cmd_backup(Walmgr *wm)
{
	char	   *conninfo;
	char	   *tmp;
	char	   *mode;
	char	   *label;
	char	   *basebackup;
	const char *bindir_key = wm->is_master ? "master_bin" : "slave_bin";
	char		stamp[32];
	time_t		now = time(NULL);
	int			timeout;
	bool		verify;
	bool		verified = false;
	int			rc = WALMGR_EXIT_FAIL;

	if (wm->is_master && wm_remote(wm))
	{
		char	   *args[1] = {"backup"};

		return remote_run(wm, args, 1, -1, NULL) == 0 ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
	}
	conninfo = wm->is_master ? wm_get(wm, "master_db", "dbname=postgres") :
		wm_get(wm, "primary_conninfo", NULL);
	mode = wm_get(wm, "backup_wal", "archive");
	if (strcmp(mode, "archive") != 0 && strcmp(mode, "stream") != 0)
		sky_fatal("backup_wal must be \"archive\" or \"stream\", not \"%s\"", mode);
	timeout = sky_config_get_int(wm->script.cf, "backup_archive_timeout", 3600);
	verify = sky_config_get_bool(wm->script.cf, "backup_verify", true);

	if (!wm->dry_run && !lock_take(wm, (long) getpid()))
		return WALMGR_EXIT_FAIL;

	tmp = psprintf("%s.incomplete", wm->full_backup);
	if (!wm->dry_run && !remove_tree(tmp))
		goto out;
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", localtime(&now));
	label = psprintf("walmgr-%s", stamp);
	basebackup = wm_pg_program(wm, bindir_key, "pg_basebackup");
	{
		char	   *argv[] = {basebackup, "-d", conninfo, "-D", tmp,
			"-X", strcmp(mode, "archive") == 0 ? "none" : "stream",
			"-c", "fast", "--manifest-checksums=SHA256", "-l", label, "-w", NULL};

		/*
		 * pg_basebackup gets the whole timeout; with -X none most of its
		 * time can be the wait for the last WAL segment to be archived.
		 */
		if (wm_run_argv(wm, "pg_basebackup", argv, timeout) != 0)
		{
			log_error("backup failed; older backups are kept");
			goto out;
		}
	}
	if (verify)
	{
		char	   *verifier = wm_pg_program(wm, bindir_key, "pg_verifybackup");
		char	   *argv_archive[] = {verifier, "-w", wm->completed_wals, tmp, NULL};
		char	   *argv_stream[] = {verifier, tmp, NULL};

		/* WAL stored compressed is checked by walmgr verify, not parsed here */
		if (strcmp(mode, "archive") == 0 && archive_has_compressed(wm->completed_wals))
		{
			log_info("the archive holds compressed WAL: pg_verifybackup checks the files only");
			argv_archive[1] = "-n";
			argv_archive[2] = tmp;
			argv_archive[3] = NULL;
		}
		if (wm_run_argv(wm, "pg_verifybackup",
						strcmp(mode, "archive") == 0 ? argv_archive : argv_stream, 0) != 0)
		{
			log_error("the new backup failed verification; older backups are kept");
			goto out;
		}
		verified = true;
		pg_free(verifier);
	}
	if (wm->dry_run)
	{
		log_info("dry run: would make the new backup \"%s\" and rotate old ones", wm->full_backup);
		rc = WALMGR_EXIT_OK;
		goto out;
	}
	if (!write_info(wm, tmp, verified) || !rotate_in(wm, tmp))
		goto out;
	log_info("backup %s complete in \"%s\"", label, wm->full_backup);
	rc = WALMGR_EXIT_OK;
	if (!expire(wm) || !purge_wal(wm))
		rc = WALMGR_EXIT_FAIL;

out:
	if (rc != WALMGR_EXIT_OK && !wm->dry_run)
		remove_tree(tmp);
	if (!wm->dry_run)
		lock_release(wm);
	pg_free(tmp);
	return rc;
}

/* walmgr INI listbackups */
int
cmd_listbackups(Walmgr *wm)
{
	int			n;
	struct stat st;

	if (wm->is_master && wm_remote(wm))
	{
		char	   *args[1] = {"listbackups"};

		return remote_run(wm, args, 1, -1, NULL) == 0 ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
	}
	printf("%-20s %-25s %-25s %-25s %-8s %s\n",
		   "backup", "start time", "start wal", "stop wal", "verified", "label");
	for (n = -1;; n++)
	{
		char	   *dir = backup_path(wm, n);
		char	   *info = psprintf("%s/walmgr.info", dir);
		char	   *start_wal;
		char	   *start_time;
		char	   *label;
		char		stop_wal[64] = "";
		char		verified[16] = "";
		char		line[1024];
		FILE	   *fp;

		if (stat(dir, &st) != 0)
		{
			pg_free(dir);
			pg_free(info);
			break;
		}
		if (read_backup_label(dir, &start_wal, &start_time, &label))
		{
			fp = fopen(info, "r");
			if (fp != NULL)
			{
				while (fgets(line, sizeof(line), fp) != NULL)
				{
					if (sscanf(line, "stop_wal = %63s", stop_wal) == 1)
						continue;
					(void) sscanf(line, "verified = %15s", verified);
				}
				fclose(fp);
			}
			printf("%-20s %-25s %-25s %-25s %-8s %s\n",
				   last_dir_separator(dir) ? last_dir_separator(dir) + 1 : dir,
				   start_time ? start_time : "", start_wal,
				   stop_wal, verified, label ? label : "");
		}
		pg_free(dir);
		pg_free(info);
	}
	return WALMGR_EXIT_OK;
}

/* walmgr INI xlock [PID] */
int
cmd_xlock(Walmgr *wm)
{
	long		pid = (wm->nargs > 0) ? strtol(wm->args[0], NULL, 10) : (long) getppid();

	if (pid <= 0)
	{
		log_error("xlock: invalid pid \"%s\"", wm->args[0]);
		return WALMGR_EXIT_USAGE;
	}
	if (wm->dry_run)
	{
		log_info("dry run: would take the backup lock for process %ld", pid);
		return WALMGR_EXIT_OK;
	}
	return lock_take(wm, pid) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}

/* walmgr INI xrelease */
int
cmd_xrelease(Walmgr *wm)
{
	if (wm->dry_run)
	{
		log_info("dry run: would release the backup lock");
		return WALMGR_EXIT_OK;
	}
	lock_release(wm);
	return WALMGR_EXIT_OK;
}

/* walmgr INI xrotate: apply keep_backups to the existing backups */
int
cmd_xrotate(Walmgr *wm)
{
	return expire(wm) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}

/* walmgr INI xpurgewals */
int
cmd_xpurgewals(Walmgr *wm)
{
	return purge_wal(wm) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}

/*
 * walmgr INI cleanup --force
 *
 * Removes the whole walmgr_data tree (archive and backups) and the old
 * data directories restore kept (slave_data.N).  Without --force it only
 * lists what would go.
 */
int
cmd_cleanup(Walmgr *wm)
{
	char	   *data = wm_get_path(wm, "slave_data", "");
	bool		really = wm->force && !wm->dry_run;
	bool		ok = true;
	int			n;
	struct stat st;

	if (!wm->force)
		log_warning("cleanup removes the archive and all backups; run it with --force to do it");
	if (stat(wm->walmgr_data, &st) == 0)
	{
		if (!really)
			log_info("would remove \"%s\"", wm->walmgr_data);
		else if (remove_tree(wm->walmgr_data))
			log_info("removed \"%s\"", wm->walmgr_data);
		else
			ok = false;
	}
	for (n = 0; data[0] != '\0' && n < 100; n++)
	{
		char	   *old = psprintf("%s.%d", data, n);

		if (stat(old, &st) == 0)
		{
			if (!really)
				log_info("would remove \"%s\"", old);
			else if (remove_tree(old))
				log_info("removed \"%s\"", old);
			else
				ok = false;
		}
		pg_free(old);
	}
	pg_free(data);
	if (!wm->force)
		return WALMGR_EXIT_FAIL;
	return ok ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
}
