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
 * supervisor can tell it from an orderly stop, and only within
 * stop_timeout seconds: a unit of work stuck longer (a query waiting on a
 * lock, a dead network) is abandoned by exiting, which the database sees as
 * a lost connection and rolls back.
 *
 * Handlers only set flags (and post a semaphore, which is safe there).
 * They are installed without SA_RESTART so that a sleep between two units
 * of work ends as soon as a signal arrives.  The SIGTERM deadline is kept
 * by a thread of its own, because the main thread may be blocked in a
 * query when it passes, and a signal handler may not log.
 *
 * src/framework/signals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/signals.h"

volatile sig_atomic_t sky_reload_pending = 0;
volatile sig_atomic_t sky_stop_pending = 0;
volatile sig_atomic_t sky_terminate_pending = 0;

static volatile sig_atomic_t first_sigint_time = 0;

static sem_t terminate_sem;
static double stop_timeout = 0;

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
	if (!sky_terminate_pending)
		sem_post(&terminate_sem);
	sky_terminate_pending = 1;
}

/*
 * Wait for SIGTERM, then give the main thread stop_timeout seconds to
 * finish its unit of work and exit; after that, exit from here.
 */
static void *
stop_deadline_thread(void *arg)
{
	struct timespec deadline;

	while (sem_wait(&terminate_sem) != 0)
		;
	if (stop_timeout <= 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t) stop_timeout;
	deadline.tv_nsec += (long) ((stop_timeout - (time_t) stop_timeout) * 1e9);
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0)
		;
	log_error("did not stop within stop_timeout (%g s) after SIGTERM, exiting now",
			  stop_timeout);
	_exit(1);
	return NULL;
}

/* seconds between SIGTERM and a forced exit; 0 waits for the work to end */
void
sky_signals_set_stop_timeout(double seconds)
{
	stop_timeout = seconds;
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
	pthread_t	thread;
	sigset_t	all;
	sigset_t	old;

	/* the thread must never take our signals: start it with all blocked */
	sem_init(&terminate_sem, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&thread, NULL, stop_deadline_thread, NULL) == 0)
		pthread_detach(thread);
	else
		log_warning("could not start the stop_timeout thread: SIGTERM waits for the current work");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

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
