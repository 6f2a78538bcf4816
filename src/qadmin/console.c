/*-------------------------------------------------------------------------
 *
 * console.c
 *	  The interactive console: prompt, line editing, history, ^C and ^D.
 *
 * GNU readline's callback interface reads the terminal, so that the
 * program, not readline, waits for input and can react to ^C between
 * keystrokes: it clears the line (and any unfinished statement) and shows
 * a fresh prompt.  A statement may span lines; the prompt then ends in
 * "->".  Each statement goes into the history file as it is run, so a
 * crash or a kill loses none of it.
 *
 * src/qadmin/console.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>
#include <signal.h>
#include <sys/select.h>
#include <fcntl.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include "qadmin.h"

/* how many statements the history file keeps */
#define HISTORY_SIZE 500

static Session *console_session;
static StatementSplitter console_input;
static bool console_done;
static char *history_path;
static char *prompt;

/* "QUEUE@DB> ", or "QUEUE@DB-> " inside an unfinished statement */
static void
update_prompt(void)
{
	pg_free(prompt);
	prompt = psprintf("%s@%s%s ",
					  console_session->queue ? console_session->queue : "(noqueue)",
					  PQdb(console_session->conn),
					  splitter_has_pending(&console_input) ? "->" : ">");
	rl_set_prompt(prompt);
}

static void
open_history(void)
{
	const char *env = getenv("QADMIN_HISTFILE");
	const char *home = getenv("HOME");

	using_history();
	if (env && env[0])
		history_path = pg_strdup(env);
	else if (home && home[0])
		history_path = psprintf("%s/.qadmin_history", home);
	else
		return;
	/* a missing file is a first session */
	if (access(history_path, F_OK) == 0 && read_history(history_path) != 0)
		fprintf(stderr, "%s: could not read history file \"%s\"\n",
				progname, history_path);
}

/* Add a statement to the history and append it to the file at once. */
static void
remember_statement(const char *stmt)
{
	size_t		len = strlen(stmt);
	char	   *entry;
	char	   *c;
	int			fd;

	while (len > 0 && isspace((unsigned char) stmt[len - 1]))
		len--;
	entry = psprintf("%.*s;", (int) len, stmt);

	/* one line per entry: the file format keeps lines */
	for (c = entry; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	add_history(entry + strspn(entry, " \t"));
	pg_free(entry);
	if (!history_path)
		return;
	fd = open(history_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0)
		close(fd);
	if (append_history(1, history_path) != 0)
		fprintf(stderr, "%s: could not write history file \"%s\"\n",
				progname, history_path);
}

/* readline calls this with each line typed, or NULL at ^D */
static void
handle_line(char *line)
{
	char	   *stmt;
	int			lineno;

	if (!line)
	{
		/* ^D */
		putchar('\n');
		console_done = true;
		rl_callback_handler_remove();
		return;
	}
	splitter_feed(&console_input, line);
	splitter_feed(&console_input, "\n");
	free(line);
	while (!console_done && (stmt = splitter_next(&console_input, &lineno)) != NULL)
	{
		if (!is_blank_statement(stmt))
		{
			remember_statement(stmt);
			if (execute_text(console_session, stmt) == EXEC_QUIT)
				console_done = true;
		}
		pg_free(stmt);
		/* ^C during a query: the rest of the line goes too */
		if (cancel_take_interrupt())
			splitter_reset(&console_input);
	}
	if (!splitter_has_pending(&console_input))
		splitter_reset(&console_input);
	if (console_done)
		rl_callback_handler_remove();
	else
		update_prompt();
}

/* ^C at the prompt: forget the line and the unfinished statement */
static void
clear_input(void)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_point = rl_end = 0;
	rl_crlf();
	splitter_reset(&console_input);
	update_prompt();
	rl_on_new_line();
	rl_redisplay();
}

int
run_console(Session *s)
{
	sigset_t	sigint_only;

	console_session = s;
	splitter_init(&console_input, 1);
	open_history();
	install_completion(s, &console_input);

	/* ^C is ours (cancel.c); readline keeps the terminal size up to date */
	rl_catch_signals = 0;
	rl_callback_handler_install("", handle_line);
	update_prompt();
	rl_on_new_line();
	rl_redisplay();

	sigemptyset(&sigint_only);
	sigaddset(&sigint_only, SIGINT);
	while (!console_done)
	{
		fd_set		fds;
		sigset_t	unblocked;
		int			ready;

		/*
		 * A ^C may have come while readline was busy: look at the flag with
		 * SIGINT blocked, and let pselect unblock it atomically, so that
		 * one arriving in between interrupts the wait.
		 */
		sigprocmask(SIG_BLOCK, &sigint_only, &unblocked);
		if (cancel_take_interrupt())
		{
			sigprocmask(SIG_SETMASK, &unblocked, NULL);
			clear_input();
			continue;
		}
		FD_ZERO(&fds);
		FD_SET(fileno(rl_instream), &fds);
		ready = pselect(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL, &unblocked);
		sigprocmask(SIG_SETMASK, &unblocked, NULL);
		if (ready < 0)
		{
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: could not wait for input: %m\n", progname);
			break;
		}
		rl_callback_read_char();
	}
	if (!console_done)
		rl_callback_handler_remove();
	if (history_path)
		history_truncate_file(history_path, HISTORY_SIZE);
	pg_free(prompt);
	pg_free(history_path);
	pg_free(console_input.buf);
	return QADMIN_EXIT_OK;
}
