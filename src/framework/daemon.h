/*-------------------------------------------------------------------------
 *
 * daemon.h
 *	  Detaching from the terminal with a readiness report.
 *
 * src/framework/daemon.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_DAEMON_H
#define SKY_DAEMON_H

extern void sky_daemonize(void);
extern void sky_daemon_ready(void);

#endif							/* SKY_DAEMON_H */
