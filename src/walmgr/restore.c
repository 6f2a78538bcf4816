/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  xrestore: restore_command.
 *
 * PostgreSQL reads restore_command's exit status as: 0, the file was
 * restored; any other status below 126, the file does not exist (which in
 * archive recovery ends recovery); 126 and above, a fatal error.  So this
 * answers 1 only when the archive directory is there and the file is
 * certainly not in it.  Every other problem - a missing or unreadable
 * archive directory, a damaged file, a failed copy - is 255, so that a
 * broken archive stops recovery instead of quietly ending it at the wrong
 * point.  restore_error_exit = notfound restores walmgr3's behaviour of
 * answering 1 for everything.
 *
 * It never waits: in standby mode the startup process polls by itself.
 *
 * src/walmgr/restore.c
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
#include "walmgr.h"

#define COPY_BUF_SIZE (1024 * 1024)

static int	error_exit = WALMGR_EXIT_RESTORE_ERROR;

static bool paused(Walmgr *wm);
static int	copy_out(Walmgr *wm, const char *src, const char *name,
					 const char *dst);
static void cleanup_before(Walmgr *wm, const char *restartpoint);
static int	serve_partial(Walmgr *wm, const char *name, const char *dst);

/*
 * While "boot --finish" runs (flags/FINISH exists), a segment missing from
 * logs.complete is served from the incomplete copies: NAME.partial in
 * logs.partial (written by sync, or by pg_receivewal under receive) or a
 * .partial file PostgreSQL archived at a promotion.  Whatever is
 * served is recorded in flags/FINISH.served for boot to see.  Without the
 * flag, partial WAL is never served: a standby must not replay a segment
 * that may still change.
 */
static int
serve_partial(Walmgr *wm, const char *name, const char *dst)
{
	char	   *flag = psprintf("%s/flags/FINISH", wm->walmgr_data);
	char	   *candidates[2];
	int			rc = WALMGR_EXIT_FAIL;
	int			i;

	if (access(flag, F_OK) != 0)
	{
		pg_free(flag);
		return WALMGR_EXIT_FAIL;
	}
	candidates[0] = psprintf("%s/%s.partial", wm->partial_wals, name);
	candidates[1] = psprintf("%s/%s.partial", wm->completed_wals, name);
	for (i = 0; i < 2 && rc == WALMGR_EXIT_FAIL; i++)
	{
		rc = copy_out(wm, candidates[i], name, dst);
		if (rc == WALMGR_EXIT_OK)
		{
			char	   *served = psprintf("%s.served", flag);
			FILE	   *fp = fopen(served, "w");

			if (fp == NULL || fprintf(fp, "%s\n", name) < 0 || fclose(fp) != 0)
				log_warning("could not write \"%s\": %m", served);
			log_info("served the partial segment \"%s\" for boot --finish", candidates[i]);
			pg_free(served);
		}
	}
	pg_free(candidates[0]);
	pg_free(candidates[1]);
	pg_free(flag);
	return rc;
}

/*
 * The PAUSE flag (flags/PAUSE, or walmgr3's logs.complete/PAUSE) holds back
 * archive replay by answering "not found".  That is harmless only on a
 * standby, which keeps asking; in targeted recovery "not found" ends
 * recovery, so there the flag is ignored with a warning.
 */
static bool
paused(Walmgr *wm)
{
	char	   *flag = psprintf("%s/flags/PAUSE", wm->walmgr_data);
	char	   *oldflag = psprintf("%s/PAUSE", wm->completed_wals);
	bool		set = (access(flag, F_OK) == 0 || access(oldflag, F_OK) == 0);
	bool		result = false;

	if (set)
	{
		char	   *data = wm_get_path(wm, "slave_data", "");
		char	   *signal = psprintf("%s/standby.signal", data);

		if (data[0] != '\0' && access(signal, F_OK) == 0)
			result = true;
		else
			log_warning("ignoring the PAUSE flag: \"%s\" does not exist, and in targeted recovery \"not found\" would end recovery",
						signal);
		pg_free(signal);
		pg_free(data);
	}
	pg_free(flag);
	pg_free(oldflag);
	return result;
}

/*
 * Copy src (decompressing it if its name says so) to dst, removing dst
 * again on any failure.  A segment must come out whole: the size of an
 * uncompressed file, or the archive's segment size for a compressed one.
 */
static int
copy_out(Walmgr *wm, const char *src, const char *name, const char *dst)
{
	WalFileKind kind = walfile_classify(name);
	WalReader  *in;
	int			out = -1;
	struct stat st;
	char	   *buf;
	ssize_t		n;
	int64		expected = -1;
	int64		done = 0;
	int			rc = error_exit;

	in = walreader_open(src);
	if (in == NULL)
	{
		if (errno == ENOENT)
		{
			log_debug("%s is not in the archive", name);
			return WALMGR_EXIT_FAIL;
		}
		return error_exit;
	}
	buf = pg_malloc(COPY_BUF_SIZE);
	if (stat(src, &st) != 0)
	{
		log_error("could not stat \"%s\": %m", src);
		goto out;
	}
	if (!walreader_compressed(in))
		expected = st.st_size;
	n = walreader_read(in, buf, COPY_BUF_SIZE);
	if (n < 0)
		goto out;
	if (kind == WALFILE_SEGMENT || kind == WALFILE_PARTIAL)
	{
		ArchiveId	aid;
		ArchiveId	found;
		bool		exists;
		char	   *why;

		if (!archive_id_read(wm->walmgr_data, &aid, &exists))
			goto out;
		if (walreader_compressed(in))
		{
			if (!exists)
			{
				log_error("cannot check compressed %s: the archive has no ARCHIVE_ID", name);
				goto out;
			}
			expected = aid.wal_segment_size;
		}
		if (!walfile_check_segment(name, buf, n, expected,
								   exists ? &aid : NULL, &found, &why))
		{
			log_error("archived %s is damaged: %s", name, why);
			goto out;
		}
	}

	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
	{
		log_error("could not create \"%s\": %m", dst);
		goto out;
	}
	while (n > 0)
	{
		ssize_t		written = 0;

		while (written < n)
		{
			ssize_t		w = write(out, buf + written, n - written);

			if (w < 0)
			{
				if (errno == EINTR)
					continue;
				log_error("could not write \"%s\": %m", dst);
				goto out;
			}
			written += w;
		}
		done += n;
		n = walreader_read(in, buf, COPY_BUF_SIZE);
	}
	if (n < 0)
		goto out;
	if (expected >= 0 && done != expected)
	{
		log_error("archived %s is damaged or changed while being copied: %lld bytes instead of %lld",
				  name, (long long) done, (long long) expected);
		goto out;
	}
	if (close(out) != 0)
	{
		out = -1;
		log_error("could not close \"%s\": %m", dst);
		goto out;
	}
	out = -1;
	log_info("restored %s%s", name, walreader_compressed(in) ? " (decompressed)" : "");
	rc = WALMGR_EXIT_OK;

out:
	if (out >= 0)
		close(out);
	if (rc != WALMGR_EXIT_OK && unlink(dst) != 0 && errno != ENOENT)
		log_error("could not remove \"%s\": %m", dst);
	walreader_close(in);
	pg_free(buf);
	return rc;
}

/*
 * archive_cleanup = restartpoint: remove archived segments (and .partial
 * and .backup files) whose segment number is below the restart point's, on
 * any timeline.  History files always stay.  This is walmgr3's keep_backups
 * = 0 behaviour and only right when nothing else (another standby, an older
 * backup) needs the files, hence off unless asked for.
 */
static void
cleanup_before(Walmgr *wm, const char *restartpoint)
{
	DIR		   *dir;
	struct dirent *de;

	if (walfile_classify(restartpoint) != WALFILE_SEGMENT)
	{
		log_warning("not cleaning up: \"%s\" is not a segment name", restartpoint);
		return;
	}
	dir = opendir(wm->completed_wals);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
	{
		WalFileKind kind = walfile_classify_stored(de->d_name);
		char	   *path;

		if (kind == WALFILE_INVALID || kind == WALFILE_HISTORY ||
			walfile_compare_segno(de->d_name, restartpoint) >= 0)
			continue;
		path = psprintf("%s/%s", wm->completed_wals, de->d_name);
		if (unlink(path) == 0)
			log_debug("removed %s, older than restart point %s", de->d_name, restartpoint);
		else
			log_warning("could not remove \"%s\": %m", path);
		pg_free(path);
	}
	closedir(dir);
}

/*
 * walmgr INI xrestore %f %p [%r]
 */
int
cmd_xrestore(Walmgr *wm)
{
	const char *name;
	const char *dst;
	char	   *src;
	char	   *mode;
	struct stat st;
	int			rc;

	mode = wm_get(wm, "restore_error_exit", "fatal");
	if (strcmp(mode, "notfound") == 0)
		error_exit = WALMGR_EXIT_FAIL;
	else if (strcmp(mode, "fatal") != 0)
		sky_fatal("restore_error_exit must be \"fatal\" or \"notfound\", not \"%s\"", mode);
	pg_free(mode);
	sky_log_set_fatal_exit(error_exit);

	if (wm->nargs < 2 || wm->nargs > 3)
	{
		log_error("xrestore needs two or three arguments: %%f %%p [%%r]");
		return error_exit;
	}
	name = wm->args[0];
	dst = wm->args[1];
	if (walfile_classify(name) == WALFILE_INVALID)
	{
		log_error("refusing to restore \"%s\": not a WAL file name", name);
		return error_exit;
	}
	if (paused(wm))
	{
		log_info("replay paused: not restoring %s", name);
		return WALMGR_EXIT_FAIL;
	}

	/* "not found" is only certain if the archive itself is there */
	if (stat(wm->completed_wals, &st) != 0 || !S_ISDIR(st.st_mode))
	{
		log_error("archive directory \"%s\" is not accessible: %m", wm->completed_wals);
		return error_exit;
	}
	src = archive_find(wm->completed_wals, name);
	if (src == NULL && errno != ENOENT)
	{
		log_error("could not look for %s in \"%s\": %m", name, wm->completed_wals);
		return error_exit;
	}
	rc = src ? copy_out(wm, src, name, dst) : WALMGR_EXIT_FAIL;
	if (src == NULL)
		log_debug("%s is not in the archive", name);
	pg_free(src);
	if (rc == WALMGR_EXIT_FAIL && walfile_classify(name) == WALFILE_SEGMENT)
		rc = serve_partial(wm, name, dst);

	if (rc == WALMGR_EXIT_OK && wm->nargs == 3)
	{
		char	   *cleanup = wm_get(wm, "archive_cleanup", "off");

		if (strcmp(cleanup, "restartpoint") == 0)
			cleanup_before(wm, wm->args[2]);
		else if (strcmp(cleanup, "off") != 0)
			log_warning("unknown archive_cleanup \"%s\": not cleaning up", cleanup);
		pg_free(cleanup);
	}
	return rc;
}
