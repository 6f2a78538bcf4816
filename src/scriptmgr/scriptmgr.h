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

#include "scriptmgr/jobs.h"

/* control.c */
extern pid_t sm_job_pid(const SmJob *job);
extern bool sm_start_job(const SmJob *job);
extern bool sm_signal_job(const SmJob *job, int sig, pid_t *signalled);
extern void sm_wait_for_exit(const SmJob *job, pid_t pid);
extern void sm_exec_job(const SmJob *job) pg_attribute_noreturn();

/* systemd.c */
extern void sm_systemd_init(bool no_systemd);
extern char *sm_job_unit(const SmJob *job);
extern bool sm_systemctl(const char *verb, const SmJob *job, const char *unit);
extern char *sm_unit_state(const char *unit);

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
