/*-------------------------------------------------------------------------
 *
 * signals.h
 *	  Signal handling of long-running client programs.
 *
 * src/framework/signals.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_SIGNALS_H
#define SKY_SIGNALS_H

#include <signal.h>

extern volatile sig_atomic_t sky_reload_pending;
extern volatile sig_atomic_t sky_stop_pending;
extern volatile sig_atomic_t sky_terminate_pending;

extern void sky_signals_install(void);
extern void sky_signals_set_stop_timeout(double seconds);
extern void sky_sleep(double seconds);

#endif							/* SKY_SIGNALS_H */
