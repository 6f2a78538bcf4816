/*-------------------------------------------------------------------------
 *
 * scriptmgr.h
 *	  Jobs found through /etc/skytools.ini and what scriptmgr does to them.
 *
 * src/scriptmgr/scriptmgr.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCRIPTMGR_H
#define SCRIPTMGR_H

#include <sys/types.h>

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

/* jobs.c */
extern void sm_load_services(SkyConfig *cf, SmJobs *jobs);
extern void sm_discover_jobs(SkyConfig *cf, SmJobs *jobs);
extern SmJob *sm_find_job(SmJobs *jobs, const char *name);
extern SmService *sm_find_service(SmJobs *jobs, const char *name);

/* control.c */
extern pid_t sm_job_pid(const SmJob *job);
extern bool sm_start_job(const SmJob *job);
extern bool sm_signal_job(const SmJob *job, int sig, pid_t *signalled);
extern void sm_wait_for_exit(const SmJob *job, pid_t pid);
extern void sm_exec_job(const SmJob *job) pg_attribute_noreturn();

/* output.c */
extern void sm_print_status(const SmJob *job);
extern void sm_print_info(const SmJob *job);
extern void sm_print_list_line(const SmJob *job);

/* commands.c */
typedef struct SmTargets
{
	bool		all;			/* -a */
	const char *type;			/* -t SERVICE */
	bool		wait;			/* -w */
	char	  **names;			/* job names given */
	int			nnames;
} SmTargets;

extern int	sm_run_command(SmJobs *jobs, const char *command, SmTargets *targets);

#endif							/* SCRIPTMGR_H */
