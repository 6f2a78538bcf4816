/*-------------------------------------------------------------------------
 *
 * generator.c
 *	  skytools-generator: run by systemd at boot and on daemon-reload, it
 *	  reads /etc/skytools.ini and its config_list as scriptmgr does and,
 *	  for each enabled job, writes into its first argument (the generator's
 *	  normal directory)
 *
 *	    skytools@JOB.service.d/50-skytools.conf   User= and WorkingDirectory=
 *	    skytools.target.wants/skytools@JOB.service   so the target starts it
 *
 * with JOB unit-escaped.  A job that cannot be described is logged and
 * skipped; the boot never fails because of a job: the exit status is 0
 * unless the output directory cannot be written at all.  Messages go to
 * the kernel log (/dev/kmsg) when it can be opened, else to stderr.
 *
 * Environment, for tests: SKYTOOLS_INI (default /etc/skytools.ini) and
 * SKYTOOLS_KMSG (default /dev/kmsg).
 *
 * src/systemd/generator.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/log.h"
#include "scriptmgr/jobs.h"
#include "systemd/unit_name.h"

#define DEFAULT_INI "/etc/skytools.ini"

static const char *const service_names[] = {"scriptmgr", NULL};

/* systemd expands specifiers in these values; a literal % is %% */
static void
write_setting(FILE *fp, const char *key, const char *value)
{
	const char *p;

	fprintf(fp, "%s=", key);
	for (p = value; *p; p++)
	{
		if (*p == '%')
			fputc('%', fp);
		fputc(*p, fp);
	}
	fputc('\n', fp);
}

static bool
write_dropin(const char *outdir, const char *unit, const SmJob *job)
{
	const SmService *svc = job->service;
	char	   *dir = psprintf("%s/%s.d", outdir, unit);
	char	   *path = psprintf("%s/%s", dir, SKYTOOLS_DROPIN_NAME);
	FILE	   *fp;
	bool		ok;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
	{
		log_error("could not create directory \"%s\": %m", dir);
		return false;
	}
	fp = fopen(path, "w");
	if (fp == NULL)
	{
		log_error("could not write \"%s\": %m", path);
		return false;
	}
	fprintf(fp, "# written by skytools-generator for job %s of [%s] in %s\n",
			job->job_name, svc->name, job->config_abs);
	fprintf(fp, "[Service]\n");
	if (svc->user[0] != '\0')
	{
		write_setting(fp, "User", svc->user);
		/* the template's Group=skytools gives way to the user's own group */
		fprintf(fp, "Group=\n");
	}
	write_setting(fp, "WorkingDirectory", svc->cwd);
	ok = (ferror(fp) == 0);
	if (fclose(fp) != 0)
		ok = false;
	if (!ok)
		log_error("could not write \"%s\": %m", path);
	pg_free(dir);
	pg_free(path);
	return ok;
}

static bool
add_wants_link(const char *wantsdir, const char *unit)
{
	char	   *link = psprintf("%s/%s", wantsdir, unit);
	char	   *target = psprintf("../%s", unit);
	bool		ok = true;

	if (symlink(target, link) != 0)
	{
		if (errno == EEXIST && unlink(link) == 0 && symlink(target, link) == 0)
			ok = true;
		else
		{
			log_error("could not create symbolic link \"%s\": %m", link);
			ok = false;
		}
	}
	pg_free(link);
	pg_free(target);
	return ok;
}

/* Why a job cannot get a unit, or NULL when it can. */
static const char *
job_problem(const SmJob *job, const char *unit)
{
	if (job->job_name[0] == '\0')
		return "its job name is empty";
	if (strlen(unit) > UNIT_NAME_MAX)
		return "its unit name would be longer than systemd allows";
	if (job->service->cwd[0] != '/')
		return "the cwd of its service is not an absolute path";
	return NULL;
}

/* Messages go where systemd's boot log gathers them, when we can. */
static void
log_to_kernel(void)
{
	const char *kmsg = getenv("SKYTOOLS_KMSG");
	int			fd;

	fd = open(kmsg ? kmsg : "/dev/kmsg", O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	/* one write(2) per log line is one kernel log record */
	if (fd != STDERR_FILENO)
	{
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	const char *ini = getenv("SKYTOOLS_INI");
	const char *outdir;
	char	   *wantsdir;
	SkyConfig  *cf;
	SmJobs		jobs = {0};
	char	   *errmsg;
	int			i;

	if (argc < 2 || argc > 4 || argv[1][0] == '-')
	{
		fprintf(stderr, "Usage: skytools-generator NORMAL-DIR [EARLY-DIR LATE-DIR]\n"
				"Run by systemd; writes units for the jobs of %s.\n", DEFAULT_INI);
		exit(2);
	}
	outdir = argv[1];
	if (ini == NULL || ini[0] == '\0')
		ini = DEFAULT_INI;

	log_to_kernel();
	sky_log_init();
	/* a broken skytools.ini must not fail the boot */
	sky_log_set_fatal_exit(0);

	wantsdir = psprintf("%s/skytools.target.wants", outdir);
	if (mkdir(wantsdir, 0755) != 0 && errno != EEXIST)
	{
		log_error("skytools-generator: could not create directory \"%s\": %m", wantsdir);
		exit(1);
	}

	if (access(ini, F_OK) != 0 && errno == ENOENT)
		exit(0);				/* nothing configured */
	cf = sky_config_load(ini, service_names, NULL, &errmsg);
	if (cf == NULL)
	{
		log_error("skytools-generator: %s", errmsg);
		exit(0);
	}
	sm_load_services(cf, &jobs);
	sm_discover_jobs(cf, &jobs);

	for (i = 0; i < jobs.njobs; i++)
	{
		const SmJob *job = &jobs.jobs[i];
		char	   *unit;
		const char *problem;

		if (job->disabled)
			continue;
		unit = job_unit_name(job->job_name);
		problem = job_problem(job, unit);
		if (problem != NULL)
			log_error("skytools-generator: job \"%s\" in %s skipped: %s",
					  job->job_name, job->config_abs, problem);
		else if (write_dropin(outdir, unit, job))
			add_wants_link(wantsdir, unit);
		pg_free(unit);
	}
	exit(0);
}
