/*-------------------------------------------------------------------------
 *
 * systemd.c
 *	  Jobs run by systemd: when systemd is the init system and
 *	  skytools-generator gave a job its unit (skytools@JOB.service), start,
 *	  stop, restart and reload go through systemctl, so that systemd keeps
 *	  track of the process it would otherwise find started behind its back.
 *	  Other jobs, and every job with --no-systemd, are forked as before.
 *
 * Environment, for tests: SKYTOOLS_SYSTEMD_DIR (default /run/systemd/system,
 * which exists while systemd is the init system), SKYTOOLS_GENERATOR_DIR
 * (default /run/systemd/generator) and SKYTOOLS_SYSTEMCTL (default
 * "systemctl", looked up in PATH).
 *
 * src/scriptmgr/systemd.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/log.h"
#include "scriptmgr/scriptmgr.h"
#include "systemd/unit_name.h"

static bool systemd_running = false;

static const char *
env_or(const char *name, const char *def)
{
	const char *value = getenv(name);

	return (value != NULL && value[0] != '\0') ? value : def;
}

void
sm_systemd_init(bool no_systemd)
{
	struct stat st;

	systemd_running = !no_systemd &&
		stat(env_or("SKYTOOLS_SYSTEMD_DIR", "/run/systemd/system"), &st) == 0 &&
		S_ISDIR(st.st_mode);
}

/* The job's unit when systemd runs it, else NULL. */
char *
sm_job_unit(const SmJob *job)
{
	char	   *unit;
	char	   *dropin;
	bool		generated;

	if (!systemd_running)
		return NULL;
	unit = job_unit_name(job->job_name);
	dropin = psprintf("%s/%s.d/%s",
					  env_or("SKYTOOLS_GENERATOR_DIR", "/run/systemd/generator"),
					  unit, SKYTOOLS_DROPIN_NAME);
	generated = (access(dropin, F_OK) == 0);
	pg_free(dropin);
	if (!generated)
	{
		pg_free(unit);
		return NULL;
	}
	return unit;
}

/*
 * Run "systemctl VERB UNIT"; with output non-NULL, its stdout's first line
 * goes there (up to outlen bytes).  Returns systemctl's exit status, or -1
 * when it could not be run.
 */
static int
run_systemctl(const char *verb, const char *unit, char *output, size_t outlen)
{
	const char *systemctl = env_or("SKYTOOLS_SYSTEMCTL", "systemctl");
	int			fds[2] = {-1, -1};
	pid_t		pid;
	int			status;

	fflush(NULL);
	if (output != NULL && pipe(fds) != 0)
	{
		log_error("could not create a pipe: %m");
		return -1;
	}
	pid = fork();
	if (pid < 0)
	{
		log_error("could not fork: %m");
		if (output != NULL)
		{
			close(fds[0]);
			close(fds[1]);
		}
		return -1;
	}
	if (pid == 0)
	{
		if (output != NULL)
		{
			dup2(fds[1], STDOUT_FILENO);
			close(fds[0]);
			close(fds[1]);
		}
		execlp(systemctl, systemctl, verb, unit, (char *) NULL);
		fprintf(stderr, "scriptmgr: could not run %s: %m\n", systemctl);
		_exit(127);
	}
	if (output != NULL)
	{
		FILE	   *fp;

		close(fds[1]);
		output[0] = '\0';
		fp = fdopen(fds[0], "r");
		if (fp != NULL)
		{
			if (fgets(output, outlen, fp) != NULL)
				output[strcspn(output, "\n")] = '\0';
			/* read to the end, so that systemctl never blocks on the pipe */
			while (fgetc(fp) != EOF)
				;
			fclose(fp);
		}
		else
			close(fds[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* systemctl start|stop|restart|reload UNIT; false, logged, when it failed */
bool
sm_systemctl(const char *verb, const SmJob *job, const char *unit)
{
	int			rc;

	log_debug("systemctl %s %s", verb, unit);
	rc = run_systemctl(verb, unit, NULL, 0);
	if (rc != 0)
	{
		log_error("systemctl %s %s failed for job %s (see \"journalctl -u %s\")",
				  verb, unit, job->job_name, unit);
		return false;
	}
	return true;
}

/* systemctl is-active UNIT: "active", "failed", ...; "unknown" on trouble */
char *
sm_unit_state(const char *unit)
{
	char		state[64];

	/* is-active exits non-zero for every state but active: that is no error */
	if (run_systemctl("is-active", unit, state, sizeof(state)) < 0 ||
		state[0] == '\0')
		return pg_strdup("unknown");
	return pg_strdup(state);
}
