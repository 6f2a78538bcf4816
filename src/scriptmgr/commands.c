/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  scriptmgr's commands over the jobs chosen by -a, -t or by name.
 *
 * Differences from scriptmgr3 (doc/scriptmgr.md says why): an unknown job
 * makes every command exit 1, not only start; a job without a pidfile is a
 * failure for start, stop and reload; restart always waits until the old
 * process is gone before starting the new one (scriptmgr3 slept 2 s, and a
 * job slow to stop then refused the start); restart reports failed starts.
 * Where systemd runs a job (systemd.c), start, stop, restart and reload
 * are systemctl's.
 *
 * src/scriptmgr/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/log.h"
#include "scriptmgr/scriptmgr.h"

/*
 * The jobs a command applies to, in order; unknown names are logged and
 * make *failed true.  NULL-terminated.
 */
static SmJob **
select_jobs(SmJobs *jobs, SmTargets *targets, bool *failed)
{
	SmJob	  **sel = pg_malloc0(sizeof(SmJob *) * (jobs->njobs + targets->nnames + 1));
	int			n = 0;
	int			i;

	if (targets->nnames > 0)
	{
		for (i = 0; i < targets->nnames; i++)
		{
			SmJob	   *job = sm_find_job(jobs, targets->names[i]);

			if (job == NULL)
			{
				log_error("Unknown job: %s", targets->names[i]);
				*failed = true;
			}
			else
				sel[n++] = job;
		}
	}
	else if (targets->type != NULL)
	{
		if (sm_find_service(jobs, targets->type) == NULL)
		{
			log_error("Unknown service type: %s", targets->type);
			*failed = true;
		}
		for (i = 0; i < jobs->njobs; i++)
			if (strcmp(jobs->jobs[i].service->name, targets->type) == 0)
				sel[n++] = &jobs->jobs[i];
	}
	else if (targets->all)
	{
		for (i = 0; i < jobs->njobs; i++)
			sel[n++] = &jobs->jobs[i];
	}
	return sel;
}

/*
 * Signal each job (disabled ones skipped); pids[i] gets the pid signalled.
 * A job systemd runs is stopped or reloaded by systemctl instead, which
 * sends the same signal and, for stop, returns once the job is gone.
 */
static bool
signal_jobs(SmJob **sel, int sig, pid_t *pids)
{
	bool		ok = true;
	int			i;

	for (i = 0; sel[i] != NULL; i++)
	{
		char	   *unit;

		pids[i] = 0;
		if (sel[i]->disabled)
		{
			log_info("Skipping %s", sel[i]->job_name);
			continue;
		}
		log_info("%s %s", sig == SIGHUP ? "Reloading" : "Stopping", sel[i]->job_name);
		unit = sm_job_unit(sel[i]);
		if (unit != NULL)
			ok &= sm_systemctl(sig == SIGHUP ? "reload" : "stop", sel[i], unit);
		else if (!sm_signal_job(sel[i], sig, &pids[i]))
			ok = false;
		pg_free(unit);
	}
	return ok;
}

static void
wait_jobs(SmJob **sel, pid_t *pids)
{
	int			i;

	for (i = 0; sel[i] != NULL; i++)
		if (pids[i] != 0)
			sm_wait_for_exit(sel[i], pids[i]);
}

/* Start each job, through systemctl when systemd runs it. */
static bool
start_jobs(SmJob **sel)
{
	bool		ok = true;
	int			i;

	for (i = 0; sel[i] != NULL; i++)
	{
		char	   *unit = sm_job_unit(sel[i]);

		if (unit != NULL && !sel[i]->disabled)
		{
			log_info("Starting %s", sel[i]->job_name);
			ok &= sm_systemctl("start", sel[i], unit);
		}
		else if (!sm_start_job(sel[i]))
			ok = false;
		pg_free(unit);
	}
	if (!ok)
		log_error("some scripts failed");
	return ok;
}

/*
 * Restart: systemctl restart for the jobs systemd runs; the others are
 * stopped, waited for and started again.
 */
static bool
restart_jobs(SmJob **sel, pid_t *pids)
{
	SmJob	  **forked;
	bool		ok = true;
	int			nforked = 0;
	int			i;

	for (i = 0; sel[i] != NULL; i++)
		;
	forked = pg_malloc0(sizeof(SmJob *) * (i + 1));
	for (i = 0; sel[i] != NULL; i++)
	{
		char	   *unit = sm_job_unit(sel[i]);

		if (unit == NULL)
			forked[nforked++] = sel[i];
		else if (sel[i]->disabled)
			log_info("Skipping %s", sel[i]->job_name);
		else
		{
			log_info("Restarting %s", sel[i]->job_name);
			ok &= sm_systemctl("restart", sel[i], unit);
		}
		pg_free(unit);
	}
	if (nforked > 0)
	{
		ok &= signal_jobs(forked, SIGINT, pids);
		wait_jobs(forked, pids);
		ok &= start_jobs(forked);
	}
	pg_free(forked);
	return ok;
}

/* Is the first word of script a program we could run from cwd? */
static bool
script_runnable(const SmService *svc)
{
	size_t		len = strcspn(svc->script, " \t");
	char	   *prog = pnstrdup(svc->script, len);
	bool		ok = false;

	if (strchr(prog, '/') != NULL)
	{
		char	   *path;

		if (prog[0] == '/')
			path = pg_strdup(prog);
		else
			path = psprintf("%s/%s", svc->cwd, prog);

		ok = access(path, X_OK) == 0;
		pg_free(path);
	}
	else
	{
		const char *envpath = getenv("PATH");
		char	   *dirs = pg_strdup(envpath ? envpath : "/usr/bin:/bin");
		char	   *dir;
		char	   *saveptr = NULL;

		for (dir = strtok_r(dirs, ":", &saveptr); dir != NULL && !ok;
			 dir = strtok_r(NULL, ":", &saveptr))
		{
			char	   *path = psprintf("%s/%s", dir, prog);

			ok = access(path, X_OK) == 0;
			pg_free(path);
		}
		pg_free(dirs);
	}
	if (!ok)
		log_error("service [%s]: script \"%s\" is not an executable program",
				  svc->name, prog);
	pg_free(prog);
	return ok;
}

/* check: every job usable; the problems are logged, the count printed */
static int
check_jobs(SmJobs *jobs)
{
	int			problems = jobs->errors;
	int			i;

	for (i = 0; i < jobs->nservices; i++)
	{
		SmService  *svc = &jobs->services[i];
		struct stat st;

		if (svc->disabled)
			continue;
		if (stat(svc->cwd, &st) != 0 || !S_ISDIR(st.st_mode))
		{
			log_error("service [%s]: cwd \"%s\" is not a directory", svc->name, svc->cwd);
			problems++;
		}
		else if (!script_runnable(svc))
			problems++;
	}
	for (i = 0; i < jobs->njobs; i++)
	{
		if (!jobs->jobs[i].disabled && jobs->jobs[i].pidfile[0] == '\0')
		{
			log_error("job %s (%s): no pidfile, scriptmgr cannot start or stop it",
					  jobs->jobs[i].job_name, jobs->jobs[i].config);
			problems++;
		}
	}
	printf("%d jobs, %d problems\n", jobs->njobs, problems);
	return problems > 0 ? 1 : 0;
}

int
sm_run_command(SmJobs *jobs, const char *command, SmTargets *targets)
{
	bool		failed = false;
	bool		reads_only = (strcmp(command, "status") == 0 ||
							  strcmp(command, "info") == 0 ||
							  strcmp(command, "list") == 0);
	SmJob	  **sel;
	pid_t	   *pids;
	int			i;

	if (strcmp(command, "check") == 0)
		return check_jobs(jobs);
	if (strcmp(command, "exec") == 0)
	{
		SmJob	   *job;

		if (targets->nnames != 1 || targets->all || targets->type != NULL)
		{
			fprintf(stderr, "scriptmgr: exec takes exactly one job name\n");
			return 2;
		}
		job = sm_find_job(jobs, targets->names[0]);
		if (job == NULL)
		{
			log_error("Unknown job: %s", targets->names[0]);
			return 1;
		}
		if (job->disabled)
		{
			log_error("job %s is disabled", job->job_name);
			return 1;
		}
		sm_exec_job(job);
	}
	if (!reads_only &&
		strcmp(command, "start") != 0 && strcmp(command, "stop") != 0 &&
		strcmp(command, "restart") != 0 && strcmp(command, "reload") != 0)
	{
		fprintf(stderr, "scriptmgr: unknown command: %s\n", command);
		return 2;
	}

	if (reads_only && targets->nnames == 0 && targets->type == NULL)
		targets->all = true;
	sel = select_jobs(jobs, targets, &failed);
	if (sel[0] == NULL && !reads_only)
	{
		if (!failed)
			log_error("no jobs given?");
		return 1;
	}

	for (i = 0; sel[i] != NULL; i++)
		;
	pids = pg_malloc0(sizeof(pid_t) * (i + 1));

	if (strcmp(command, "status") == 0)
		for (i = 0; sel[i] != NULL; i++)
			sm_print_status(sel[i]);
	else if (strcmp(command, "info") == 0)
		for (i = 0; sel[i] != NULL; i++)
			sm_print_info(sel[i]);
	else if (strcmp(command, "list") == 0)
		for (i = 0; sel[i] != NULL; i++)
			sm_print_list_line(sel[i]);
	else if (strcmp(command, "start") == 0)
		failed |= !start_jobs(sel);
	else if (strcmp(command, "stop") == 0)
	{
		failed |= !signal_jobs(sel, SIGINT, pids);
		if (targets->wait)
			wait_jobs(sel, pids);
	}
	else if (strcmp(command, "restart") == 0)
	{
		failed |= !restart_jobs(sel, pids);
	}
	else if (strcmp(command, "reload") == 0)
		failed |= !signal_jobs(sel, SIGHUP, pids);

	fflush(stdout);
	return failed ? 1 : 0;
}
