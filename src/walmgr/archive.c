/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  xarchive (archive_command) and xreceive (its far end over ssh).
 *
 * The archive contract (doc/walmgr.md, DESCRIPTION and EXIT STATUS):
 *
 *	- only the four kinds of names PostgreSQL archives are accepted, and a
 *	  segment must be a whole segment of this archive's cluster (exit 4);
 *	- the bytes go to a temporary file in logs.complete/.tmp, which is
 *	  fsynced, then published under the final name with a primitive that
 *	  never replaces an existing file, then the directory is fsynced; only
 *	  then is success reported, so a crash at any point leaves the final name
 *	  either absent or complete;
 *	- if the name exists already, identical content is success (PostgreSQL
 *	  re-archives after a crash before it recorded .done), different content
 *	  is exit 3 with the archived file untouched and the new one kept under
 *	  .tmp/conflict for inspection.
 *
 * Local archiving and xreceive share archive_store(); they differ only in
 * where the bytes come from.
 *
 * src/walmgr/archive.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "common/sha2.h"
#include "compress.h"
#include "framework/log.h"
#include "framework/sha256.h"
#include "walmgr.h"

#define COPY_BUF_SIZE (1024 * 1024)

/* temporary files older than this are removed even if their pid is alive */
#define STALE_TEMP_AGE (24 * 60 * 60)

static void clean_stale_temps(const char *tmpdir);
static bool read_full(int fd, char *buf, size_t len, size_t *got);
static int	handle_existing(const char *existing, const char *tmp,
							const char *tmpdir, const char *stored_name,
							const char *new_sha, const char *dir);
static void crash_point(const char *where);
static int	publish_noreplace(const char *tmp, const char *final);

/*
 * Test hook: WALMGR_TEST_CRASH_AT=<point> kills the process with SIGKILL at
 * that point, the way a power cut or the OOM killer would.  It cannot make
 * anything less durable than a real crash, which the protocol has to
 * survive anyway, so it is compiled into every build; the tests in
 * test/t/101_walmgr_archive_faults.pl use it against the installed binary.
 */
static void
crash_point(const char *where)
{
	const char *at = getenv("WALMGR_TEST_CRASH_AT");

	if (at != NULL && strcmp(at, where) == 0)
		kill(getpid(), SIGKILL);
}

/*
 * Give the fsynced temporary file its final name, never replacing an
 * existing file.  Returns 0, or the errno of the failure (EEXIST when the
 * name is taken).  Some file systems (NFS, older overlayfs) lack
 * RENAME_NOREPLACE; link() never replaces either, it only leaves the
 * temporary name behind to remove.
 */
static int
publish_noreplace(const char *tmp, const char *final)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return errno;
	if (link(tmp, final) != 0)
		return errno;
	unlink(tmp);
	return 0;
}

/* read exactly len bytes unless EOF comes first; false on a read error */
static bool
read_full(int fd, char *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len)
	{
		ssize_t		n = read(fd, buf + *got, len - *got);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			break;
		*got += n;
	}
	return true;
}

/*
 * Remove temporary files left by crashed runs.  A temporary name carries
 * the pid of its writer; a file whose writer is gone, or that is older
 * than a day (the pid may have been reused), is garbage.  Files of running
 * writers are left alone.
 */
static void
clean_stale_temps(const char *tmpdir)
{
	DIR		   *dir = opendir(tmpdir);
	struct dirent *de;
	time_t		now = time(NULL);

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
	{
		char	   *path;
		char	   *dot;
		char	   *pidpart;
		long		pid;
		struct stat st;
		bool		stale = false;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "conflict") == 0)
			continue;
		path = psprintf("%s/%s", tmpdir, de->d_name);
		pidpart = pg_strdup(de->d_name);
		dot = strrchr(pidpart, '.');
		if (dot != NULL)
		{
			*dot = '\0';
			dot = strrchr(pidpart, '.');
		}
		pid = (dot != NULL) ? strtol(dot + 1, NULL, 10) : 0;
		if (pid > 0 && kill((pid_t) pid, 0) != 0 && errno == ESRCH)
			stale = true;
		else if (lstat(path, &st) == 0 && now - st.st_mtime > STALE_TEMP_AGE)
			stale = true;
		if (stale)
		{
			if (unlink(path) == 0)
				log_info("removed stale temporary file \"%s\"", path);
			else if (errno != ENOENT)
				log_warning("could not remove stale temporary file \"%s\": %m", path);
		}
		pg_free(pidpart);
		pg_free(path);
	}
	closedir(dir);
}

/*
 * The name is archived already, as existing (plain or compressed).
 * Identical original content (SHA-256 of the decompressed bytes, so a
 * plain and a compressed copy of one segment are the same): make sure it
 * is durable (the process that published it may have died before fsyncing
 * the directory) and report success.  Different content: keep the archived
 * file, move ours (tmp, stored as stored_name) aside, report a conflict.
 */
static int
handle_existing(const char *existing, const char *tmp, const char *tmpdir,
				const char *stored_name, const char *new_sha, const char *dir)
{
	char	   *old_sha = stored_sha256(existing);
	char	   *conflict_dir;
	char	   *conflict_path;
	char		stamp[32];
	time_t		now = time(NULL);
	struct tm	tm;

	if (old_sha == NULL)
	{
		unlink(tmp);
		return WALMGR_EXIT_FAIL;
	}
	if (strcmp(old_sha, new_sha) == 0)
	{
		unlink(tmp);
		if (!fsync_path(existing, false) || !fsync_path(dir, true))
			return WALMGR_EXIT_FAIL;
		log_info("%s is already archived with identical content (sha256 %s)",
				 last_dir_separator(existing) + 1, old_sha);
		pg_free(old_sha);
		return WALMGR_EXIT_OK;
	}

	conflict_dir = psprintf("%s/conflict", tmpdir);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	conflict_path = psprintf("%s/%s.%s.%d", conflict_dir, stored_name, stamp, (int) getpid());
	if (!make_dir(conflict_dir, false) || rename(tmp, conflict_path) != 0)
	{
		log_warning("could not keep the conflicting file as \"%s\": %m", conflict_path);
		unlink(tmp);
		pg_free(conflict_path);
		conflict_path = pg_strdup("(not kept)");
	}
	log_error("%s is already archived with different content: archived sha256 %s, new sha256 %s; "
			  "the archived file is left as it is, the new one was kept as %s",
			  last_dir_separator(existing) + 1, old_sha, new_sha, conflict_path);
	pg_free(old_sha);
	pg_free(conflict_path);
	pg_free(conflict_dir);
	return WALMGR_EXIT_CONFLICT;
}

/*
 * Store size bytes read from in_fd into the archive as name.
 *
 * expected_sha, when given, is the sender's checksum (xreceive); a
 * mismatch means the transfer was damaged and is a transient failure.
 * Checksums are always of the original bytes; a full segment is stored
 * compressed when the compression key says so (see compress.c).
 * Returns one of the WALMGR_EXIT_* codes, after logging any failure.
 */
int
archive_store(Walmgr *wm, const char *name, int in_fd, int64 size,
			  const char *expected_sha, bool partial)
{
	const char *destdir = partial ? wm->partial_wals : wm->completed_wals;
	WalFileKind kind = walfile_classify(name);
	char	   *buf = pg_malloc(COPY_BUF_SIZE);
	size_t		first;
	ArchiveId	aid;
	ArchiveId	found;
	bool		aid_exists = false;
	struct stat st;
	char	   *tmpdir = NULL;
	char	   *tmp = NULL;
	char	   *final = NULL;
	char	   *sha = NULL;
	char	   *stored_name = NULL;
	char	   *existing = NULL;
	pg_cryptohash_ctx *ctx = NULL;
	WalWriter  *writer = NULL;
	WalCompression method;
	int			fd = -1;
	int			lockfd = -1;
	int64		done;
	int			rc = WALMGR_EXIT_FAIL;
	int			err;
	bool		ok;
	struct timespec ts;

	/* Validate what we can before creating anything. */
	if (!read_full(in_fd, buf, Min(size, COPY_BUF_SIZE), &first))
	{
		log_error("could not read %s: %m", name);
		goto out;
	}
	if ((int64) first != Min(size, COPY_BUF_SIZE))
	{
		log_error("short read of %s: %zu of %lld bytes", name, first, (long long) size);
		goto out;
	}
	if (kind == WALFILE_SEGMENT || kind == WALFILE_PARTIAL)
	{
		char	   *why;

		if (!archive_id_read(wm->walmgr_data, &aid, &aid_exists))
			goto out;
		if (!walfile_check_segment(name, buf, first, size,
								   aid_exists ? &aid : NULL, &found, &why))
		{
			log_error("refusing to archive %s: %s", name, why);
			rc = WALMGR_EXIT_INVALID;
			goto out;
		}
	}
	if (stat(destdir, &st) != 0 || !S_ISDIR(st.st_mode))
	{
		log_error("archive directory \"%s\" does not exist (run \"walmgr setup\")",
				  destdir);
		goto out;
	}

	tmpdir = psprintf("%s/.tmp", destdir);
	if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST)
	{
		log_error("could not create directory \"%s\": %m", tmpdir);
		goto out;
	}
	clean_stale_temps(tmpdir);

	method = (kind == WALFILE_SEGMENT && !partial) ? wm->compression : WALCOMP_NONE;
	stored_name = psprintf("%s%s", name, walcomp_suffix(method));
	clock_gettime(CLOCK_REALTIME, &ts);
	tmp = psprintf("%s/%s.%d.%lx%lx", tmpdir, stored_name, (int) getpid(),
				   (unsigned long) ts.tv_sec, (unsigned long) ts.tv_nsec);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
	{
		log_error("could not create \"%s\": %m", tmp);
		pg_free(tmp);
		tmp = NULL;
		goto out;
	}

	writer = walwriter_begin(method, fd, tmp);
	if (writer == NULL)
		goto out;
	ctx = sha256_begin();
	done = 0;
	while (done < size)
	{
		size_t		chunk;

		if (done == 0)
			chunk = first;
		else if (!read_full(in_fd, buf, Min(size - done, COPY_BUF_SIZE), &chunk))
		{
			log_error("could not read %s: %m", name);
			goto out;
		}
		if (chunk == 0)
		{
			log_error("short read of %s: %lld of %lld bytes", name,
					  (long long) done, (long long) size);
			goto out;
		}
		sha256_update(ctx, buf, chunk);
		if (!walwriter_write(writer, buf, chunk))
			goto out;
		done += chunk;
	}
	ok = walwriter_end(writer);
	writer = NULL;
	if (!ok)
		goto out;
	crash_point("after-write");
	if (fsync(fd) != 0)
	{
		log_error("could not fsync \"%s\": %m", tmp);
		goto out;
	}
	if (close(fd) != 0)
	{
		fd = -1;
		log_error("could not close \"%s\": %m", tmp);
		goto out;
	}
	fd = -1;
	crash_point("after-fsync");

	sha = sha256_end(ctx);
	ctx = NULL;
	if (expected_sha != NULL && strcmp(sha, expected_sha) != 0)
	{
		log_error("%s arrived damaged: sha256 %s, the sender said %s",
				  name, sha, expected_sha);
		goto out;
	}

	/* The first segment archived decides which cluster the archive is for. */
	if ((kind == WALFILE_SEGMENT || kind == WALFILE_PARTIAL) && !aid_exists)
	{
		if (!archive_id_write(wm->walmgr_data, &found))
			goto out;
		log_info("archive now belongs to database system %llu (%u-byte segments)",
				 (unsigned long long) found.system_identifier, found.wal_segment_size);
	}

	final = psprintf("%s/%s", destdir, stored_name);

	/*
	 * Archived before, maybe with other compression: compare the content.
	 * Writers with different compression publish different names, so the
	 * look-up and the publishing are one step under an exclusive flock of
	 * the directory; otherwise two of them could both find nothing and
	 * store the segment twice.
	 */
	if (!partial)
	{
		lockfd = open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0)
		{
			log_error("could not lock directory \"%s\": %m", destdir);
			goto out;
		}
		existing = archive_find(destdir, name);
		if (existing == NULL && errno != ENOENT)
		{
			log_error("could not look for %s in \"%s\": %m", name, destdir);
			goto out;
		}
		if (existing != NULL)
		{
			close(lockfd);
			lockfd = -1;
			rc = handle_existing(existing, tmp, tmpdir, stored_name, sha, destdir);
			pg_free(tmp);
			tmp = NULL;
			goto out;
		}
	}

	/*
	 * A partial segment grows: each sync replaces the previous copy, which
	 * is why it lives in its own directory and never in logs.complete.
	 */
	if (partial)
		err = (rename(tmp, final) == 0) ? 0 : errno;
	else
		err = publish_noreplace(tmp, final);
	if (lockfd >= 0)
	{
		close(lockfd);
		lockfd = -1;
	}
	if (err == EEXIST)
	{
		rc = handle_existing(final, tmp, tmpdir, stored_name, sha, destdir);
		pg_free(tmp);
		tmp = NULL;
		goto out;
	}
	if (err != 0)
	{
		errno = err;
		log_error("could not publish \"%s\" as \"%s\": %m", tmp, final);
		goto out;
	}
	pg_free(tmp);
	tmp = NULL;
	crash_point("after-publish");
	crash_point("before-dirsync");
	if (!fsync_path(destdir, true))
		goto out;
	log_info("%s %s (sha256 %s)", partial ? "stored partial segment" : "archived", stored_name, sha);
	rc = WALMGR_EXIT_OK;

out:
	if (lockfd >= 0)
		close(lockfd);
	if (writer != NULL)
		walwriter_end(writer);
	if (ctx != NULL)
		sha256_abort(ctx);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	pg_free(tmp);
	pg_free(tmpdir);
	pg_free(final);
	pg_free(existing);
	pg_free(stored_name);
	pg_free(sha);
	pg_free(buf);
	return rc;
}

/*
 * walmgr INI xarchive %p %f
 */
int
cmd_xarchive(Walmgr *wm)
{
	const char *path;
	const char *name;
	int			fd;
	struct stat st;
	int			rc;

	if (wm->nargs != 2)
	{
		log_error("xarchive needs two arguments: %%p %%f");
		return WALMGR_EXIT_USAGE;
	}
	path = wm->args[0];
	name = wm->args[1];
	if (walfile_classify(name) == WALFILE_INVALID)
	{
		log_error("refusing to archive \"%s\": not a WAL file name", name);
		return WALMGR_EXIT_INVALID;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		log_error("could not open \"%s\": %m", path);
		return WALMGR_EXIT_FAIL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		log_error("\"%s\" is not a regular file", path);
		close(fd);
		return WALMGR_EXIT_INVALID;
	}
	if (wm->dry_run)
	{
		log_info("dry run: would archive \"%s\" as %s", path, name);
		close(fd);
		return WALMGR_EXIT_OK;
	}
	if (wm_remote(wm))
		rc = remote_xarchive(wm, fd, st.st_size, name, false);
	else
		rc = archive_store(wm, name, fd, st.st_size, NULL, false);
	close(fd);
	if (rc == WALMGR_EXIT_OK && wm->is_master)
		run_periodic_if_due(wm);
	return rc;
}

/*
 * walmgr SLAVE_INI xreceive NAME SIZE SHA256
 *
 * The far end of a remote xarchive, run through ssh_command (and, as
 * "xpartialsync", of sync, storing into logs.partial).  It answers
 * on stdout, one word per line: HAVE (identical file present, send
 * nothing), SEND (send SIZE bytes on stdin), then OK, CONFLICT, INVALID or
 * ERROR.  Its exit status says the same; log lines go to stderr.
 */
int
cmd_xreceive(Walmgr *wm)
{
	bool		partial = (strcmp(wm->command, "xpartialsync") == 0);
	const char *name;
	char	   *end;
	long long	size;
	const char *sha;
	char	   *final;
	int			rc;

	if (wm->nargs != 3)
	{
		log_error("xreceive needs three arguments: NAME SIZE SHA256");
		printf("INVALID\n");
		return WALMGR_EXIT_USAGE;
	}
	name = wm->args[0];
	sha = wm->args[2];
	errno = 0;
	size = strtoll(wm->args[1], &end, 10);
	if (walfile_classify(name) == WALFILE_INVALID || errno != 0 || *end != '\0' ||
		size < 0 || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
	{
		log_error("xreceive: invalid arguments \"%s\" \"%s\" \"%s\"",
				  name, wm->args[1], sha);
		printf("INVALID\n");
		return WALMGR_EXIT_INVALID;
	}

	if (partial && walfile_classify(name) != WALFILE_PARTIAL)
	{
		log_error("xpartialsync: \"%s\" is not a partial segment name", name);
		printf("INVALID\n");
		return WALMGR_EXIT_INVALID;
	}
	final = partial ? NULL : archive_find(wm->completed_wals, name);
	if (final != NULL)
	{
		char	   *have = stored_sha256(final);

		if (have != NULL && strcmp(have, sha) == 0 &&
			fsync_path(final, false) && fsync_path(wm->completed_wals, true))
		{
			log_info("%s is already archived with identical content (sha256 %s)",
					 last_dir_separator(final) + 1, sha);
			printf("HAVE\n");
			return WALMGR_EXIT_OK;
		}
	}
	printf("SEND\n");
	fflush(stdout);
	rc = archive_store(wm, name, STDIN_FILENO, size, sha, partial);
	switch (rc)
	{
		case WALMGR_EXIT_OK:
			printf("OK\n");
			break;
		case WALMGR_EXIT_CONFLICT:
			printf("CONFLICT\n");
			break;
		case WALMGR_EXIT_INVALID:
			printf("INVALID\n");
			break;
		default:
			printf("ERROR\n");
			break;
	}
	return rc;
}
