/*-------------------------------------------------------------------------
 *
 * output.c
 *	  What status, info and list print for a job.
 *
 * status and info print exactly what scriptmgr3 printed for the same
 * files, so that scripts reading them keep working: info is the repr of
 * the job's Python 2 dict, keys in the order Python 2.7 kept them.
 *
 * src/scriptmgr/output.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <unistd.h>

#include "pqexpbuffer.h"
#include "scriptmgr/scriptmgr.h"

/*
 * " OK       [svc] name": "OK" only while the job holds its pidfile
 * (Skytools: while the file existed, even after a crash).  A job that
 * systemd runs gets its unit's state after the line, which no scriptmgr3
 * output ever had: "  (skytools@JOB.service active)".
 */
void
sm_print_status(const SmJob *job)
{
	const char *state;
	char	   *unit = sm_job_unit(job);

	if (job->pidfile[0] == '\0')
		state = "pidfile?";
	else if (sm_job_pid(job) != 0)
		state = "OK";
	else
		state = "STOPPED";
	printf(" %-8s [%s] %s%s", state, job->service->name, job->job_name,
		   job->disabled ? "  (disabled)" : "");
	if (unit != NULL)
	{
		char	   *unit_state = sm_unit_state(unit);

		printf("  (%s %s)", unit, unit_state);
		pg_free(unit_state);
		pg_free(unit);
	}
	printf("\n");
}

/* Python 2's repr() of a byte string */
static void
append_py_repr(PQExpBuffer buf, const char *s)
{
	char		quote = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';

	appendPQExpBufferChar(buf, quote);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == (unsigned char) quote || c == '\\')
			appendPQExpBuffer(buf, "\\%c", c);
		else if (c == '\t')
			appendPQExpBufferStr(buf, "\\t");
		else if (c == '\n')
			appendPQExpBufferStr(buf, "\\n");
		else if (c == '\r')
			appendPQExpBufferStr(buf, "\\r");
		else if (c < ' ' || c >= 0x7f)
			appendPQExpBuffer(buf, "\\x%02x", c);
		else
			appendPQExpBufferChar(buf, c);
	}
	appendPQExpBufferChar(buf, quote);
}

void
sm_print_info(const SmJob *job)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "{'disabled': %s, 'user': ", job->disabled_repr);
	append_py_repr(&buf, job->service->user);
	appendPQExpBufferStr(&buf, ", 'service': ");
	append_py_repr(&buf, job->service->name);
	appendPQExpBufferStr(&buf, ", 'script': ");
	append_py_repr(&buf, job->service->script);
	appendPQExpBufferStr(&buf, ", 'args': ");
	append_py_repr(&buf, job->service->args);
	appendPQExpBufferStr(&buf, ", 'config': ");
	append_py_repr(&buf, job->config);
	appendPQExpBufferStr(&buf, ", 'cwd': ");
	append_py_repr(&buf, job->service->cwd);
	appendPQExpBufferStr(&buf, ", 'pidfile': ");
	append_py_repr(&buf, job->pidfile);
	appendPQExpBufferStr(&buf, ", 'job_name': ");
	append_py_repr(&buf, job->job_name);
	appendPQExpBufferStr(&buf, "}");
	puts(buf.data);
	termPQExpBuffer(&buf);
}

/*
 * One tab-separated line: job, service, state, pid, config, pidfile.
 * States: running, stopped, stale (a pidfile left by a dead process),
 * disabled (and not running), no-pidfile.
 */
void
sm_print_list_line(const SmJob *job)
{
	pid_t		pid = sm_job_pid(job);
	const char *state;

	if (pid != 0)
		state = "running";
	else if (job->disabled)
		state = "disabled";
	else if (job->pidfile[0] == '\0')
		state = "no-pidfile";
	else if (access(job->pidfile, F_OK) == 0)
		state = "stale";
	else
		state = "stopped";
	printf("%s\t%s\t%s\t%d\t%s\t%s\n", job->job_name, job->service->name, state,
		   (int) pid, job->config, job->pidfile);
}
