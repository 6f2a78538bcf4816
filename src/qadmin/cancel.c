/*-------------------------------------------------------------------------
 *
 * cancel.c
 *	  ^C: cancel the running query, or interrupt the input.
 *
 * The SIGINT handler only does what is safe in a signal handler: it asks
 * the server to cancel the running query (PQcancel is meant for that) and
 * sets a flag.  The console clears its input line when it sees the flag;
 * a script stops.
 *
 * src/qadmin/cancel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <signal.h>
#include <unistd.h>

#include "qadmin.h"

static PGcancel *volatile cancel_handle = NULL;
static volatile sig_atomic_t query_running = 0;
static volatile sig_atomic_t interrupted = 0;
static bool stderr_is_terminal = false;

static void
handle_sigint(int signo)
{
	int			save_errno = errno;
	char		errbuf[256];

	interrupted = 1;
	if (query_running && cancel_handle)
	{
		(void) PQcancel(cancel_handle, errbuf, sizeof(errbuf));
		/* the server's error then starts a line of its own, not after "^C" */
		if (stderr_is_terminal && write(STDERR_FILENO, "\n", 1) < 0)
		{
			/* nothing to be done about it here */
		}
	}
	errno = save_errno;
}

/* Install the handler; without SA_RESTART, so that waits see EINTR. */
void
cancel_init(void)
{
	struct sigaction sa;

	stderr_is_terminal = isatty(STDERR_FILENO);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
}

/* The connection whose queries ^C cancels (NULL: none). */
void
cancel_set_connection(PGconn *conn)
{
	PGcancel   *old = cancel_handle;
	sigset_t	block,
				save;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &save);
	cancel_handle = conn ? PQgetCancel(conn) : NULL;
	sigprocmask(SIG_SETMASK, &save, NULL);
	if (old)
		PQfreeCancel(old);
}

void
cancel_query_started(void)
{
	query_running = 1;
}

void
cancel_query_finished(void)
{
	query_running = 0;
}

/* Was ^C pressed since the last call?  Clears the flag. */
bool
cancel_take_interrupt(void)
{
	bool		was = interrupted;

	interrupted = 0;
	return was;
}
