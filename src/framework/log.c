/*-------------------------------------------------------------------------
 *
 * log.c
 *	  Logging for the client programs, in the Skytools line format.
 *
 * A line is formatted once and handed to write(2) in one call, both for
 * stderr and for the log file (opened with O_APPEND).  Many walmgr
 * processes run at the same time as archive_command and restore_command
 * and share one log file; single appending writes keep their lines whole.
 *
 * src/framework/log.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "framework/log.h"

static SkyLogLevel log_level = SKY_LOG_INFO;
static bool log_to_stderr = true;
static int	log_fd = -1;
static char *log_path = NULL;
static int	fatal_exit_code = 1;
static long rotate_size = 0;	/* 0: never rotate */
static int	rotate_count = 0;

static const char *level_name(SkyLogLevel level);
static void write_line(int fd, const char *buf, size_t len);
static void rotate_if_needed(void);

/* Defaults before any switch or config is known: INFO and up, to stderr. */
void
sky_log_init(void)
{
	log_level = SKY_LOG_INFO;
	log_to_stderr = true;
}

void
sky_log_set_level(SkyLogLevel level)
{
	log_level = level;
}

/* A daemon has no terminal: its stderr goes to /dev/null. */
void
sky_log_set_stderr(bool enabled)
{
	log_to_stderr = enabled;
}

/*
 * Start (or stop, with NULL) writing to a log file.  On failure the old
 * destination is kept and false is returned; the caller decides whether a
 * missing log file is fatal.
 */
bool
sky_log_set_file(const char *path)
{
	int			fd = -1;

	if (path != NULL && path[0] != '\0')
	{
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
		{
			log_error("could not open log file \"%s\": %m", path);
			return false;
		}
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	pg_free(log_path);
	log_path = (fd >= 0) ? pg_strdup(path) : NULL;
	return true;
}

/*
 * Reopen the log file under its configured name.  After logrotate renamed
 * the file, this makes new lines go to a fresh file of the old name.
 */
bool
sky_log_reopen(void)
{
	char	   *path;
	bool		ok;

	if (log_path == NULL)
		return true;
	path = pg_strdup(log_path);
	ok = sky_log_set_file(path);
	pg_free(path);
	return ok;
}

/*
 * Rotate the log file when it grows beyond size bytes, keeping count old
 * files (name.1 is the newest).  size 0 turns rotation off, for setups
 * that rotate with logrotate and "-r" instead.
 */
void
sky_log_set_rotation(long size, int count)
{
	rotate_size = size;
	rotate_count = count;
}

/*
 * Several processes may append to one log file (archive_command runs walmgr
 * once per segment).  The one that finds it too big takes an flock on it
 * and renames the files down the chain; a process that finds the name
 * already pointing to a new file only reopens it.
 */
static void
rotate_if_needed(void)
{
	static bool rotating = false;
	struct stat st_fd;
	struct stat st_path;
	int			i;

	/* a failure to reopen is logged, and must not rotate again */
	if (rotating || rotate_size <= 0 || log_fd < 0 || fstat(log_fd, &st_fd) != 0 ||
		st_fd.st_size < rotate_size)
		return;
	if (flock(log_fd, LOCK_EX) != 0)
		return;
	rotating = true;
	if (stat(log_path, &st_path) == 0 && st_path.st_ino == st_fd.st_ino &&
		st_path.st_dev == st_fd.st_dev)
	{
		for (i = rotate_count; i >= 1; i--)
		{
			char	   *from = (i == 1) ? pg_strdup(log_path) : psprintf("%s.%d", log_path, i - 1);
			char	   *to = psprintf("%s.%d", log_path, i);

			if (i == rotate_count)
				unlink(to);
			rename(from, to);
			pg_free(from);
			pg_free(to);
		}
		if (rotate_count < 1)
			unlink(log_path);
	}
	flock(log_fd, LOCK_UN);
	sky_log_reopen();
	rotating = false;
}

/*
 * Exit status of sky_fatal().  Commands that PostgreSQL runs have their own
 * rules (restore_command must not answer 1 for errors), so the caller sets
 * this as soon as it knows which command it runs.
 */
void
sky_log_set_fatal_exit(int code)
{
	fatal_exit_code = code;
}

static const char *
level_name(SkyLogLevel level)
{
	if (level >= SKY_LOG_FATAL)
		return "FATAL";
	if (level >= SKY_LOG_ERROR)
		return "ERROR";
	if (level >= SKY_LOG_WARNING)
		return "WARNING";
	if (level >= SKY_LOG_INFO)
		return "INFO";
	if (level >= SKY_LOG_DEBUG)
		return "DEBUG";
	return "TRACE";
}

static void
write_line(int fd, const char *buf, size_t len)
{
	/*
	 * There is nowhere to report a failure to log; retry short writes and
	 * give up quietly otherwise.
	 */
	while (len > 0)
	{
		ssize_t		n = write(fd, buf, len);

		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void
vlog(SkyLogLevel level, const char *fmt, va_list ap)
{
	char		line[8192];
	struct timeval tv;
	struct tm	tm;
	int			save_errno = errno;
	size_t		len;
	int			n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ",%03d %d %s ",
				 (int) (tv.tv_usec / 1000), (int) getpid(), level_name(level));
	len += n;
	/* %m in fmt must see the caller's errno */
	errno = save_errno;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	if (n < 0)
		n = 0;
	len += Min((size_t) n, sizeof(line) - len - 2);
	line[len++] = '\n';

	if (log_to_stderr)
		write_line(STDERR_FILENO, line, len);
	if (log_fd >= 0)
	{
		write_line(log_fd, line, len);
		rotate_if_needed();
	}
	errno = save_errno;
}

void
sky_log(SkyLogLevel level, const char *fmt,...)
{
	va_list		ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* Log at FATAL and exit with the status set by sky_log_set_fatal_exit(). */
void
sky_fatal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(SKY_LOG_FATAL, fmt, ap);
	va_end(ap);
	exit(fatal_exit_code);
}
