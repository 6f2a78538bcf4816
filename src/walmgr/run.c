/*-------------------------------------------------------------------------
 *
 * run.c
 *	  Running other programs: shell commands from the ini (restart,
 *	  periodic, ...) and programs without a shell, with a time limit.
 *
 * src/walmgr/run.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/log.h"
#include "pqexpbuffer.h"
#include "walmgr.h"

/* s in single quotes for /bin/sh, with embedded quotes escaped */
char *
wm_shell_quote(const char *s)
{
	PQExpBufferData buf;
	char	   *result;

	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '\'');
	for (; *s; s++)
	{
		if (*s == '\'')
			appendPQExpBufferStr(&buf, "'\\''");
		else
			appendPQExpBufferChar(&buf, *s);
	}
	appendPQExpBufferChar(&buf, '\'');
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * Run a shell command from the config (restart, periodic, ...).  Returns
 * its exit status, logging a failure; with --dry-run only logs it.
 */
int
wm_run_shell(Walmgr *wm, const char *what, const char *command)
{
	int			status;

	if (wm->dry_run)
	{
		log_info("dry run: would run %s: %s", what, command);
		return 0;
	}
	log_info("running %s: %s", what, command);
	fflush(NULL);
	status = system(command);
	if (status == -1)
	{
		log_error("could not run %s: %m", what);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
	{
		log_error("%s failed with exit status %d", what, WEXITSTATUS(status));
		return WEXITSTATUS(status);
	}
	log_error("%s was terminated by signal %d", what, WTERMSIG(status));
	return 1;
}

/*
 * Run a program (no shell) and wait for it, at most timeout seconds when
 * timeout > 0: then it gets SIGTERM, and SIGKILL 10 s later.  Returns its
 * exit status, 1 if it could not run or was killed (all logged).
 */
int
wm_run_argv(Walmgr *wm, const char *what, char *const *argv, int timeout)
{
	PQExpBufferData shown;
	pid_t		pid;
	int			status;
	int			i;
	time_t		start = time(NULL);
	bool		termed = false;

	initPQExpBuffer(&shown);
	for (i = 0; argv[i] != NULL; i++)
		appendPQExpBuffer(&shown, "%s%s", i ? " " : "", argv[i]);
	if (wm->dry_run)
	{
		log_info("dry run: would run %s: %s", what, shown.data);
		termPQExpBuffer(&shown);
		return 0;
	}
	log_info("running %s: %s", what, shown.data);
	termPQExpBuffer(&shown);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		log_error("could not fork: %m");
		return 1;
	}
	if (pid == 0)
	{
		execv(argv[0], argv);
		fprintf(stderr, "could not execute \"%s\": %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;)
	{
		pid_t		r = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
		{
			log_error("could not wait for %s: %m", what);
			return 1;
		}
		if (timeout > 0 && time(NULL) - start >= timeout + (termed ? 10 : 0))
		{
			log_error("%s did not finish within %d s, stopping it", what, timeout);
			kill(pid, termed ? SIGKILL : SIGTERM);
			termed = true;
		}
		if (timeout > 0)
			pg_usleep(100 * 1000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !termed)
		return 0;
	if (WIFEXITED(status))
		log_error("%s failed with exit status %d", what, WEXITSTATUS(status));
	else
		log_error("%s was terminated by signal %d", what, WTERMSIG(status));
	return (WIFEXITED(status) && WEXITSTATUS(status) != 0) ? WEXITSTATUS(status) : 1;
}
