/*-------------------------------------------------------------------------
 *
 * pidfile.h
 *	  Pidfiles protected by a lock.
 *
 * src/framework/pidfile.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_PIDFILE_H
#define SKY_PIDFILE_H

#include <sys/types.h>

extern bool sky_pidfile_acquire(const char *path);
extern void sky_pidfile_release(void);
extern pid_t sky_pidfile_running_pid(const char *path, char **why);

#endif							/* SKY_PIDFILE_H */
