/*-------------------------------------------------------------------------
 *
 * pidfile.c
 *	  Pidfiles protected by a lock.
 *
 * Skytools decided whether a script was running by sending signal 0 to the
 * pid in its pidfile.  A reused pid then blocks a start, and two starts can
 * race past the check.  Here the running process holds flock() on its
 * pidfile for its whole life: a pidfile nobody has locked is stale whatever
 * pid it names, and the lock decides between two concurrent starts.
 *
 * src/framework/pidfile.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/pidfile.h"

static int	pidfile_fd = -1;
static char *pidfile_path = NULL;
static pid_t pidfile_owner = 0;

static pid_t read_pid(int fd);

static pid_t
read_pid(int fd)
{
	char		buf[32];
	ssize_t		n = pread(fd, buf, sizeof(buf) - 1, 0);
	long		pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return (pid > 0) ? (pid_t) pid : 0;
}

/*
 * Create and lock the pidfile and write our pid into it.  Returns false,
 * after logging why, when another live process holds it or it cannot be
 * written.
 */
bool
sky_pidfile_acquire(const char *path)
{
	for (;;)
	{
		int			fd;
		struct stat st_fd;
		struct stat st_path;
		char		buf[32];
		int			len;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
		{
			log_error("could not open pidfile \"%s\": %m", path);
			return false;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		{
			if (errno == EWOULDBLOCK)
				log_error("pidfile \"%s\" is locked by process %d: already running",
						  path, (int) read_pid(fd));
			else
				log_error("could not lock pidfile \"%s\": %m", path);
			close(fd);
			return false;
		}

		/*
		 * The previous owner unlinks its pidfile while still holding the
		 * lock.  If we opened the old file just before that, our lock is on
		 * a file that no longer has the name: start over.
		 */
		if (fstat(fd, &st_fd) != 0 || stat(path, &st_path) != 0 ||
			st_fd.st_ino != st_path.st_ino || st_fd.st_dev != st_path.st_dev)
		{
			close(fd);
			continue;
		}

		if (read_pid(fd) != 0)
			log_info("ignoring stale pidfile \"%s\" (pid %d)", path, (int) read_pid(fd));
		len = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
		if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, len, 0) != len || fsync(fd) != 0)
		{
			log_error("could not write pidfile \"%s\": %m", path);
			close(fd);
			return false;
		}
		pidfile_fd = fd;
		pidfile_path = pg_strdup(path);
		pidfile_owner = getpid();
		return true;
	}
}

/* Remove the pidfile; only the process that wrote it does anything. */
void
sky_pidfile_release(void)
{
	if (pidfile_fd < 0 || pidfile_owner != getpid())
		return;
	/* unlink before close: the lock must cover the removal */
	if (unlink(pidfile_path) != 0 && errno != ENOENT)
		log_warning("could not remove pidfile \"%s\": %m", pidfile_path);
	close(pidfile_fd);
	pidfile_fd = -1;
	pg_free(pidfile_path);
	pidfile_path = NULL;
}

/*
 * The pid of the process that holds the pidfile, or 0 with *why set to the
 * reason nothing runs.
 */
pid_t
sky_pidfile_running_pid(const char *path, char **why)
{
	int			fd;
	pid_t		pid;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		*why = (errno == ENOENT) ?
			psprintf("no pidfile \"%s\", process not running", path) :
			psprintf("could not open pidfile \"%s\": %m", path);
		return 0;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
	{
		*why = psprintf("pidfile \"%s\" exists, but process not running", path);
		close(fd);
		return 0;
	}
	pid = read_pid(fd);
	close(fd);
	if (pid == 0)
		*why = psprintf("pidfile \"%s\" is locked but holds no pid", path);
	return pid;
}
