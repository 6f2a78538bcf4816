/*-------------------------------------------------------------------------
 *
 * jobs.c
 *	  Discovery of jobs: the service sections of skytools.ini and the
 *	  config files its config_list matches.
 *
 * Every section of skytools.ini other than [scriptmgr] describes a service
 * type.  A config file matched by config_list becomes one job for each of
 * its sections named like a service; a file with a [scriptmgr] section is
 * scriptmgr's own config and is skipped.  Unlike Skytools, a job name used
 * twice is reported and the later job ignored (Skytools kept both in its
 * list and let the later one win its map, so status showed it twice).
 *
 * src/scriptmgr/jobs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>
#include <glob.h>
#include <pwd.h>

#include "framework/log.h"
#include "pqexpbuffer.h"
#include "scriptmgr/jobs.h"

/* a view of skytools.ini with one service section as the main one */
static SkyConfig
section_view(SkyConfig *cf, SkyConfigSection *sect)
{
	SkyConfig	view = *cf;

	view.main = sect;
	/* --set is for [scriptmgr] only */
	view.overrides = NULL;
	return view;
}

void
sm_load_services(SkyConfig *cf, SmJobs *jobs)
{
	SkyConfigSection *s;
	int			n = 0;

	for (s = cf->sections; s != NULL; s = s->next)
		n++;
	jobs->services = pg_malloc0(sizeof(SmService) * (n + 1));
	jobs->nservices = 0;
	for (s = cf->sections; s != NULL; s = s->next)
	{
		SkyConfig	view;
		SmService  *svc;

		if (s == cf->main || s == cf->defaults)
			continue;
		view = section_view(cf, s);
		svc = &jobs->services[jobs->nservices++];
		svc->name = pg_strdup(s->name);
		svc->disabled = sky_config_get_bool(&view, "disabled", false);
		/* a disabled service needs no script, as in Skytools */
		svc->script = sky_config_get_file(&view, "script",
										  svc->disabled ? "/disabled" : NULL);
		svc->cwd = sky_config_get_file(&view, "cwd", NULL);
		svc->args = sky_config_get(&view, "args", "");
		svc->user = sky_config_get(&view, "user", "");
	}
}

SmService *
sm_find_service(SmJobs *jobs, const char *name)
{
	int			i;

	for (i = 0; i < jobs->nservices; i++)
		if (strcmp(jobs->services[i].name, name) == 0)
			return &jobs->services[i];
	return NULL;
}

SmJob *
sm_find_job(SmJobs *jobs, const char *name)
{
	int			i;

	for (i = 0; i < jobs->njobs; i++)
		if (strcmp(jobs->jobs[i].job_name, name) == 0)
			return &jobs->jobs[i];
	return NULL;
}

/* $VAR and ${VAR} replaced from the environment; unknown ones stay, as in Python */
static char *
expand_vars(const char *s)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	while (*s)
	{
		const char *start = s;
		bool		braced;
		size_t		len;
		char	   *name;
		const char *value;

		if (*s != '$')
		{
			appendPQExpBufferChar(&buf, *s++);
			continue;
		}
		s++;
		braced = (*s == '{');
		if (braced)
			s++;
		len = 0;
		while (isalnum((unsigned char) s[len]) || s[len] == '_')
			len++;
		if (len == 0 || (braced && s[len] != '}'))
		{
			appendPQExpBufferChar(&buf, '$');
			s = start + 1;
			continue;
		}
		name = pnstrdup(s, len);
		value = getenv(name);
		pg_free(name);
		s += len + (braced ? 1 : 0);
		if (value != NULL)
			appendPQExpBufferStr(&buf, value);
		else
			appendBinaryPQExpBuffer(&buf, start, s - start);
	}
	return buf.data;
}

/*
 * Section names of an INI file in file order: what decides which services
 * a file holds before it is loaded by the framework's rules.
 */
static char **
section_names(const char *path, int *count)
{
	FILE	   *fp = fopen(path, "r");
	char		line[8192];
	char	  **names = NULL;
	int			n = 0;

	*count = 0;
	if (fp == NULL)
		return NULL;
	while (fgets(line, sizeof(line), fp) != NULL)
	{
		char	   *end;

		if (line[0] != '[' || (end = strchr(line, ']')) == NULL)
			continue;
		names = pg_realloc(names, sizeof(char *) * (n + 1));
		names[n++] = pnstrdup(line + 1, end - line - 1);
	}
	fclose(fp);
	*count = n;
	return names;
}

/*
 * The pidfile as scriptmgr uses it: "~" is the home of the service's user
 * (Skytools took its own), a relative path is relative to cwd.
 */
static char *
job_pidfile(const char *raw, const SmService *svc)
{
	if (raw[0] == '\0' || raw[0] == '/')
		return pg_strdup(raw);
	if (raw[0] == '~')
	{
		if ((raw[1] == '/' || raw[1] == '\0') && svc->user[0] != '\0')
		{
			struct passwd *pw = getpwnam(svc->user);

			if (pw != NULL)
				return psprintf("%s%s", pw->pw_dir, raw + 1);
		}
		return sky_expand_home(raw);
	}
	if (svc->cwd[0] == '\0')
		return pg_strdup(raw);
	if (svc->cwd[strlen(svc->cwd) - 1] == '/')
		return psprintf("%s%s", svc->cwd, raw);
	return psprintf("%s/%s", svc->cwd, raw);
}

/*
 * The job's own keys; false, with *errmsg, when one cannot be read: that
 * costs this job only, not every job (nor, in the generator, the boot).
 */
static bool
read_job_keys(SkyConfig *jcf, char **job_name, char **raw_pidfile,
			  char **disabled, char **errmsg)
{
	bool		value;

	*job_name = *raw_pidfile = *disabled = NULL;
	if ((*job_name = sky_config_try_get(jcf, "job_name", NULL, errmsg)) == NULL ||
		(*raw_pidfile = sky_config_try_get(jcf, "pidfile", "", errmsg)) == NULL)
		return false;
	if (!sky_config_has(jcf, "disabled"))
		return true;
	if ((*disabled = sky_config_try_get(jcf, "disabled", NULL, errmsg)) == NULL)
		return false;
	if (!sky_parse_bool(*disabled, &value))
	{
		*errmsg = psprintf("config file \"%s\": value of \"disabled\" is not a boolean: \"%s\"",
						   jcf->path, *disabled);
		return false;
	}
	return true;
}

static void
add_job(SmJobs *jobs, const char *path, SmService *svc)
{
	const char *const names[] = {svc->name, NULL};
	SkyConfig  *jcf;
	char	   *errmsg;
	char	   *job_name;
	char	   *raw_pidfile;
	char	   *disabled;
	char	   *abspath;
	SmJob	   *job;
	SmJob	   *other;

	jcf = sky_config_load(path, names, NULL, &errmsg);
	if (jcf == NULL)
	{
		log_error("%s", errmsg);
		pg_free(errmsg);
		jobs->errors++;
		return;
	}
	if (!read_job_keys(jcf, &job_name, &raw_pidfile, &disabled, &errmsg))
	{
		log_error("%s", errmsg);
		pg_free(errmsg);
		sky_config_free(jcf);
		jobs->errors++;
		return;
	}
	jobs->jobs = pg_realloc(jobs->jobs, sizeof(SmJob) * (jobs->njobs + 1));
	job = &jobs->jobs[jobs->njobs];
	memset(job, 0, sizeof(SmJob));
	job->service = svc;
	job->config = pg_strdup(path);
	abspath = realpath(path, NULL);
	job->config_abs = pg_strdup(abspath ? abspath : path);
	free(abspath);
	job->job_name = job_name;
	job->pidfile = job_pidfile(raw_pidfile, svc);
	pg_free(raw_pidfile);
	if (svc->disabled)
	{
		job->disabled = true;
		job->disabled_repr = "True";
	}
	else if (disabled != NULL)
	{
		sky_parse_bool(disabled, &job->disabled);
		job->disabled_repr = job->disabled ? "True" : "False";
	}
	else
		job->disabled_repr = "0";
	pg_free(disabled);
	sky_config_free(jcf);

	other = sm_find_job(jobs, job->job_name);
	if (other != NULL)
	{
		log_error("job name \"%s\" of [%s] in %s is already used by [%s] in %s; ignoring the second",
				  job->job_name, svc->name, path, other->service->name, other->config);
		jobs->errors++;
		return;
	}
	jobs->njobs++;
}

static void
add_config_file(SmJobs *jobs, const char *path)
{
	int			nsect;
	char	  **sect = section_names(path, &nsect);
	bool		found = false;
	int			i;

	for (i = 0; i < nsect; i++)
		if (strcmp(sect[i], "scriptmgr") == 0)
			return;				/* our own config */
	for (i = 0; i < nsect; i++)
	{
		SmService  *svc = sm_find_service(jobs, sect[i]);

		if (svc != NULL)
		{
			found = true;
			add_job(jobs, path, svc);
		}
	}
	if (!found)
		log_warning("Cannot find service for %s", path);
}

static int
job_order(const void *a, const void *b)
{
	const SmJob *ja = a;
	const SmJob *jb = b;
	int			c = strcmp(ja->service->name, jb->service->name);

	return c != 0 ? c : strcmp(ja->job_name, jb->job_name);
}

/* Find every job through config_list (comma-separated globs). */
void
sm_discover_jobs(SkyConfig *cf, SmJobs *jobs)
{
	char	   *list = sky_config_get(cf, "config_list", NULL);
	char	   *item;
	char	   *saveptr = NULL;

	for (item = strtok_r(list, ",", &saveptr); item != NULL;
		 item = strtok_r(NULL, ",", &saveptr))
	{
		char	   *pattern;
		char	   *home;
		glob_t		g;
		int			rc;
		size_t		i;

		while (isspace((unsigned char) *item))
			item++;
		for (i = strlen(item); i > 0 && isspace((unsigned char) item[i - 1]); i--)
			item[i - 1] = '\0';
		if (item[0] == '\0')
			continue;
		home = sky_expand_home(item);
		pattern = expand_vars(home);
		pg_free(home);
		rc = glob(pattern, 0, NULL, &g);
		if (rc == 0)
		{
			for (i = 0; i < g.gl_pathc; i++)
				add_config_file(jobs, g.gl_pathv[i]);
		}
		else if (rc != GLOB_NOMATCH)
		{
			log_error("could not read config_list entry \"%s\"", pattern);
			jobs->errors++;
		}
		globfree(&g);
		pg_free(pattern);
	}
	pg_free(list);
	if (jobs->njobs > 1)
		qsort(jobs->jobs, jobs->njobs, sizeof(SmJob), job_order);
}
