/*-------------------------------------------------------------------------
 *
 * signals.c
 *	  Signal handling of long-running client programs.
 *
 * The Skytools meaning of the signals is kept: SIGHUP reloads the
 * configuration (and here also reopens the log file), SIGINT asks to stop
 * after the current unit of work, a second SIGINT within a second exits at
 * once.  SIGTERM used to kill mid-work without a word; now it also stops
 * after the current unit of work, but the exit status is 1 so that a
 * supervisor can tell it from an orderly stop.
 *
 * Handlers only set flags.  They are installed without SA_RESTART so that
 * a sleep between two units of work ends as soon as a signal arrives.
 *
 * src/framework/signals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "framework/signals.h"

volatile sig_atomic_t sky_reload_pending = 0;
volatile sig_atomic_t sky_stop_pending = 0;
volatile sig_atomic_t sky_terminate_pending = 0;

static volatile sig_atomic_t first_sigint_time = 0;

static void
handle_sighup(int signo)
{
	sky_reload_pending = 1;
}

static void
handle_sigint(int signo)
{
	time_t		now = time(NULL);

	if (sky_stop_pending && now - first_sigint_time <= 1)
		_exit(1);
	sky_stop_pending = 1;
	first_sigint_time = now;
}

static void
handle_sigterm(int signo)
{
	sky_terminate_pending = 1;
}

static void
install(int signo, void (*handler) (int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(signo, &sa, NULL);
}

void
sky_signals_install(void)
{
	install(SIGHUP, handle_sighup);
	install(SIGINT, handle_sigint);
	install(SIGTERM, handle_sigterm);
}

/*
 * Sleep, but return early when any of our signals arrives.  The signals are
 * blocked while the flags are checked and unblocked atomically by ppoll(),
 * so one arriving between the check and the sleep still ends the sleep.
 */
void
sky_sleep(double seconds)
{
	struct timespec ts;
	sigset_t	block;
	sigset_t	old;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t) seconds;
	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);

	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (!sky_reload_pending && !sky_stop_pending && !sky_terminate_pending)
		(void) ppoll(NULL, 0, &ts, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}
