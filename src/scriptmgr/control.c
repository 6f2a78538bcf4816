/*-------------------------------------------------------------------------
 *
 * control.c
 *	  Starting, signalling and waiting for jobs.
 *
 * A job is started as Skytools did it, "SCRIPT CONFIG ARGS -d" through the
 * shell (script and args may hold several words), in the service's cwd.
 * Our programs' -d reports whether startup worked, so the status of that
 * command is the job's startup result.  A service with "user" runs its jobs
 * as that user: directly when we are that user, by switching user when we
 * are root, else through "sudo -n".  Signals go the same way, and unlike
 * Skytools' "sudo kill PID" they are the signal asked for, not SIGTERM.
 *
 * src/scriptmgr/control.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/pidfile.h"
#include "pqexpbuffer.h"
#include "scriptmgr/scriptmgr.h"

typedef enum RunAs
{
	RUN_AS_SELF,				/* no user, or we are that user */
	RUN_SWITCH_USER,			/* we are root */
	RUN_WITH_SUDO
} RunAs;

static RunAs
run_as(const SmJob *job)
{
	const char *user = job->service->user;
	struct passwd *pw;

	if (user[0] == '\0')
		return RUN_AS_SELF;
	pw = getpwnam(user);
	if (pw != NULL && pw->pw_uid == geteuid())
		return RUN_AS_SELF;
	if (geteuid() == 0 && pw != NULL)
		return RUN_SWITCH_USER;
	return RUN_WITH_SUDO;
}

/* root becomes the service's user, with its groups and home, like sudo -H */
static void
switch_user(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
	{
		fprintf(stderr, "scriptmgr: unknown user \"%s\"\n", user);
		_exit(1);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
	{
		fprintf(stderr, "scriptmgr: could not become user \"%s\": %s\n",
				user, strerror(errno));
		_exit(1);
	}
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
}

/* a word for the shell: single quotes, with ' as '\'' */
static void
append_shell_word(PQExpBuffer buf, const char *word)
{
	appendPQExpBufferChar(buf, '\'');
	for (; *word; word++)
	{
		if (*word == '\'')
			appendPQExpBufferStr(buf, "'\\''");
		else
			appendPQExpBufferChar(buf, *word);
	}
	appendPQExpBufferChar(buf, '\'');
}

/* "exec SCRIPT 'CONFIG' ARGS [-d]": script and args are words, as in Skytools */
static char *
job_command(const SmJob *job, bool daemon)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "exec %s ", job->service->script);
	append_shell_word(&buf, job->config_abs);
	if (job->service->args[0] != '\0')
		appendPQExpBuffer(&buf, " %s", job->service->args);
	if (daemon)
		appendPQExpBufferStr(&buf, " -d");
	return buf.data;
}

static void exec_command(const SmJob *job, bool daemon) pg_attribute_noreturn();

/*
 * In a child (or for exec): go to cwd, take the job's user and replace
 * this process by the shell running the job's command.
 */
static void
exec_command(const SmJob *job, bool daemon)
{
	char	   *cmd = job_command(job, daemon);

	if (chdir(job->service->cwd) != 0)
	{
		fprintf(stderr, "scriptmgr: could not change to directory \"%s\": %s\n",
				job->service->cwd, strerror(errno));
		_exit(1);
	}
	switch (run_as(job))
	{
		case RUN_AS_SELF:
			execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
			break;
		case RUN_SWITCH_USER:
			switch_user(job->service->user);
			execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
			break;
		case RUN_WITH_SUDO:
			execlp("sudo", "sudo", "-nH", "-u", job->service->user,
				   "/bin/sh", "-c", cmd, (char *) NULL);
			break;
	}
	fprintf(stderr, "scriptmgr: could not run \"%s\": %s\n", cmd, strerror(errno));
	_exit(1);
}

/* The pid of the running job (the holder of its pidfile lock), or 0. */
pid_t
sm_job_pid(const SmJob *job)
{
	char	   *why;
	pid_t		pid;

	if (job->pidfile[0] == '\0')
		return 0;
	pid = sky_pidfile_running_pid(job->pidfile, &why);
	pg_free(why);
	return pid;
}

/* Run a command and return true if it exited 0. */
static bool
run_and_wait(pid_t pid)
{
	int			status;

	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
			return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Start one job in the background; false if it did not start. */
bool
sm_start_job(const SmJob *job)
{
	pid_t		pid;

	if (job->disabled)
	{
		log_info("Skipping %s", job->job_name);
		return true;
	}
	log_info("Starting %s", job->job_name);
	if (job->pidfile[0] == '\0')
	{
		log_error("No pidfile for %s, cannot launch", job->job_name);
		return false;
	}
	if (sm_job_pid(job) != 0)
	{
		log_warning("Script %s seems running", job->job_name);
		return true;
	}
	if (access(job->pidfile, F_OK) == 0)
		log_info("Ignoring stale pidfile for %s", job->job_name);

	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		log_error("could not fork: %m");
		return false;
	}
	if (pid == 0)
		exec_command(job, true);
	if (!run_and_wait(pid))
	{
		log_error("startup failed: %s", job->job_name);
		return false;
	}
	return true;
}

/*
 * Send sig to a running job.  *signalled is the pid signalled, or 0 when the
 * job did not run (a warning, not a failure).  Returns false on failure.
 */
bool
sm_signal_job(const SmJob *job, int sig, pid_t *signalled)
{
	pid_t		pid;

	*signalled = 0;
	if (job->pidfile[0] == '\0')
	{
		log_error("No pidfile for %s (%s)", job->job_name, job->config);
		return false;
	}
	pid = sm_job_pid(job);
	if (pid == 0 && access(job->pidfile, R_OK) != 0 && errno != ENOENT)
	{
		/* e.g. a user= job's pidfile we may not read: do not guess */
		log_error("could not read pidfile \"%s\" of %s: %m", job->pidfile, job->job_name);
		return false;
	}
	if (pid == 0)
	{
		log_warning("Job %s not running", job->job_name);
		return true;
	}
	if (run_as(job) == RUN_WITH_SUDO)
	{
		char		pidstr[32];
		pid_t		child;

		/* kill's -s takes the name without SIG */
		snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);
		fflush(NULL);
		child = fork();
		if (child < 0)
		{
			log_error("could not fork: %m");
			return false;
		}
		if (child == 0)
		{
			execlp("sudo", "sudo", "-n", "-u", job->service->user, "kill", "-s",
				   sig == SIGHUP ? "HUP" : sig == SIGINT ? "INT" : "TERM",
				   pidstr, (char *) NULL);
			fprintf(stderr, "scriptmgr: could not run sudo: %s\n", strerror(errno));
			_exit(1);
		}
		if (!run_and_wait(child))
		{
			log_error("Signaling %s failed", job->job_name);
			return false;
		}
	}
	else if (kill(pid, sig) != 0)
	{
		log_error("Signaling %s failed: %m", job->job_name);
		return false;
	}
	*signalled = pid;
	return true;
}

/* true while pid exists and is not a zombie nobody reaps (containers) */
static bool
process_alive(pid_t pid)
{
	char		path[64];
	char		stat[512];
	FILE	   *fp;
	char	   *paren;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return true;
	if (fgets(stat, sizeof(stat), fp) == NULL)
		stat[0] = '\0';
	fclose(fp);
	paren = strrchr(stat, ')');
	return !(paren != NULL && paren[1] == ' ' && paren[2] == 'Z');
}

/* Return once the process signalled is gone (polling every 0.1 s). */
void
sm_wait_for_exit(const SmJob *job, pid_t pid)
{
	bool		said = false;

	while (process_alive(pid))
	{
		struct timespec tick = {0, 100 * 1000 * 1000};

		if (!said)
		{
			log_info("Waiting for %s to stop", job->job_name);
			said = true;
		}
		nanosleep(&tick, NULL);
	}
}

/* Become the job, in the foreground: for systemd's ExecStart. */
void
sm_exec_job(const SmJob *job)
{
	fflush(NULL);
	exec_command(job, false);
	pg_unreachable();
}
