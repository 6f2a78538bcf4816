/*-------------------------------------------------------------------------
 *
 * jobs.h
 *	  The services and jobs that /etc/skytools.ini describes, and their
 *	  discovery.  Shared by scriptmgr and skytools-generator (src/systemd),
 *	  which must agree on what a job is.
 *
 * src/scriptmgr/jobs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCRIPTMGR_JOBS_H
#define SCRIPTMGR_JOBS_H

#include "framework/config.h"

/* a service type: one section of skytools.ini besides [scriptmgr] */
typedef struct SmService
{
	char	   *name;
	char	   *script;			/* words, run through the shell */
	char	   *cwd;
	char	   *args;			/* words placed after the config file */
	char	   *user;			/* "" to run jobs as ourselves */
	bool		disabled;
} SmService;

/* a job: one section of a config file that names a service */
typedef struct SmJob
{
	SmService  *service;
	char	   *config;			/* the path as config_list matched it */
	char	   *config_abs;		/* the same, absolute, for the job */
	char	   *job_name;
	char	   *pidfile;		/* absolute, or "" when not configured */
	bool		disabled;
	const char *disabled_repr;	/* how Skytools printed it: 0, True, False */
} SmJob;

typedef struct SmJobs
{
	SmService  *services;
	int			nservices;
	SmJob	   *jobs;			/* sorted by service, then job name */
	int			njobs;
	int			errors;			/* config files that could not be used */
} SmJobs;

extern void sm_load_services(SkyConfig *cf, SmJobs *jobs);
extern void sm_discover_jobs(SkyConfig *cf, SmJobs *jobs);
extern SmJob *sm_find_job(SmJobs *jobs, const char *name);
extern SmService *sm_find_service(SmJobs *jobs, const char *name);

#endif							/* SCRIPTMGR_JOBS_H */
