/*-------------------------------------------------------------------------
 *
 * daemon.c
 *	  Detaching from the terminal with a readiness report.
 *
 * Skytools' parent process exited 0 the moment it forked, so "started" said
 * nothing about whether the daemon came up.  Here the parent waits on a
 * pipe until the child reports readiness (pidfile written, startup done)
 * and exits 0 only then.  If the child dies first, the parent sees the pipe
 * close and exits with the child's status (1 if that was 0).  The child
 * keeps the caller's stderr until it is ready, so startup errors still
 * reach the terminal that started it.
 *
 * src/framework/daemon.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/daemon.h"
#include "framework/log.h"

static int	ready_fd = -1;

void
sky_daemonize(void)
{
	int			pipefd[2];
	pid_t		pid;
	int			devnull;

	if (pipe(pipefd) != 0)
		sky_fatal("could not create pipe: %m");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		sky_fatal("could not fork: %m");
	if (pid > 0)
	{
		char		c;
		ssize_t		n;
		int			status;

		close(pipefd[1]);
		do
			n = read(pipefd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			WEXITSTATUS(status) != 0)
			_exit(WEXITSTATUS(status));
		_exit(1);
	}

	close(pipefd[0]);
	ready_fd = pipefd[1];
	fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	if (setsid() < 0)
		sky_fatal("could not create a new session: %m");
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0)
		sky_fatal("could not open /dev/null: %m");
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	if (devnull > STDERR_FILENO)
		close(devnull);
}

/*
 * Tell the waiting parent that startup succeeded, and let go of the
 * terminal's stderr.  Without a parent (foreground run) nothing happens.
 */
void
sky_daemon_ready(void)
{
	int			devnull;
	char		c = 'R';

	if (ready_fd < 0)
		return;
	devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
	{
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	sky_log_set_stderr(false);
	if (write(ready_fd, &c, 1) != 1)
		log_warning("could not report readiness to the parent process: %m");
	close(ready_fd);
	ready_fd = -1;
}
