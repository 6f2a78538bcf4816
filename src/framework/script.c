/*-------------------------------------------------------------------------
 *
 * script.c
 *	  The Skytools script frame: switches, configuration, logging, daemon
 *	  mode and the main loop, shared by every client program.
 *
 * The switches and config keys are those of Skytools' DBScript so that
 * existing configs and habits keep working (tools.md section 1).  The
 * differences are deliberate fixes: the pidfile is locked, the daemon's
 * parent reports whether startup worked, a reload rebuilds the config from
 * scratch and reopens the log file, and -r/-s/-k exit 1 when there was
 * nothing to signal.
 *
 * src/framework/script.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <signal.h>
#include <unistd.h>

#include "framework/daemon.h"
#include "framework/log.h"
#include "framework/pidfile.h"
#include "framework/script.h"
#include "framework/signals.h"

static void apply_config(SkyScript *script);
static void release_pidfile_at_exit(void);

/*
 * Handle one of the frame's options.  Returns false if c is not one of
 * them, so that the program can report it as unknown.
 */
bool
sky_script_option(SkyScript *script, int c, const char *arg)
{
	char	   *errmsg;

	switch (c)
	{
		case 'q':
			script->quiet = true;
			break;
		case 'v':
			script->verbose++;
			break;
		case 'd':
			script->daemon = true;
			break;
		case 'r':
			script->send_signal = SIGHUP;
			break;
		case 's':
			script->send_signal = SIGINT;
			break;
		case 'k':
			script->send_signal = SIGTERM;
			break;
		case SKY_OPT_INI:
			script->print_ini = true;
			break;
		case SKY_OPT_SET:
			script->overrides = sky_config_add_override(script->overrides, arg, &errmsg);
			if (errmsg != NULL)
			{
				fprintf(stderr, "%s: %s\n", script->progname, errmsg);
				exit(2);
			}
			break;
		default:
			return false;
	}
	return true;
}

/*
 * Print the program's sample config.  A --set KEY=VALUE replaces the
 * sample's line for KEY (commented out or not); keys the sample does not
 * mention are added at the end of the main section.
 */
void
sky_script_print_ini(SkyScript *script)
{
	const char *p = script->ini_template;
	SkyConfigEntry *o;
	int			nover = 0;
	bool	   *used;

	for (o = script->overrides; o != NULL; o = o->next)
		nover++;
	used = pg_malloc0(sizeof(bool) * (nover + 1));

	while (*p)
	{
		const char *eol = strchr(p, '\n');
		size_t		len = eol ? (size_t) (eol - p) : strlen(p);
		const char *k = p;
		int			i = 0;
		bool		replaced = false;

		while (k < p + len && (*k == '#' || *k == ';' || *k == ' '))
			k++;
		for (o = script->overrides; o != NULL; o = o->next, i++)
		{
			size_t		klen = strlen(o->key);
			const char *after = k + klen;

			/* "key = ..." or "key: ...", not a comment that starts with the word */
			if (after > p + len || strncmp(k, o->key, klen) != 0)
				continue;
			while (after < p + len && *after == ' ')
				after++;
			if (after < p + len && (*after == '=' || *after == ':'))
			{
				printf("%s = %s\n", o->key, o->value);
				used[i] = true;
				replaced = true;
				break;
			}
		}
		if (!replaced)
			printf("%.*s\n", (int) len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
	for (o = script->overrides, nover = 0; o != NULL; o = o->next, nover++)
		if (!used[nover])
			printf("%s = %s\n", o->key, o->value);
	pg_free(used);
}

/* Pick up the frame's own keys from the loaded config. */
static void
apply_config(SkyScript *script)
{
	SkyConfig  *cf = script->cf;
	char	   *logfile;

	pg_free(script->job_name);
	script->job_name = sky_config_get(cf, "job_name", NULL);
	pg_free(script->pidfile);
	script->pidfile = sky_config_get_file(cf, "pidfile", "");
	script->loop_delay = sky_config_get_float(cf, "loop_delay", 1.0);
	script->exception_sleep = sky_config_get_float(cf, "exception_sleep", 20.0);
	/* below systemd's default TimeoutStopSec, so we exit before SIGKILL */
	sky_signals_set_stop_timeout(sky_config_get_float(cf, "stop_timeout", 30.0));

	/* Skytools' defaults: 10 MB, 3 old files */
	sky_log_set_rotation((long) sky_config_get_bytes(cf, "log_size", 10 * 1024 * 1024),
						 sky_config_get_int(cf, "log_count", 3));
	logfile = sky_config_get_file(cf, "logfile", "");
	if (script->logfile == NULL || strcmp(logfile, script->logfile) != 0)
	{
		/* on failure the log stays where it was; that was logged */
		if (sky_log_set_file(logfile[0] ? logfile : NULL))
		{
			pg_free(script->logfile);
			script->logfile = logfile;
			logfile = NULL;
		}
	}
	pg_free(logfile);
}

/*
 * Load the config file and set up logging from the switches and the
 * config.  Returns false after logging the error.
 */
bool
sky_script_load(SkyScript *script, const char *config_path)
{
	char	   *errmsg;

	if (script->quiet)
		sky_log_set_level(SKY_LOG_WARNING);
	else if (script->verbose >= 2)
		sky_log_set_level(SKY_LOG_TRACE);
	else if (script->verbose == 1)
		sky_log_set_level(SKY_LOG_DEBUG);

	script->config_path = pg_strdup(config_path);
	script->cf = sky_config_load(config_path, script->service_names,
								 script->overrides, &errmsg);
	if (script->cf == NULL)
	{
		log_error("%s", errmsg);
		pg_free(errmsg);
		return false;
	}
	apply_config(script);
	return true;
}

/*
 * -r, -s, -k: signal the process that holds the pidfile.  Returns the exit
 * status: 0 if a signal was sent, 1 if nothing could be signalled (Skytools
 * said 0 here, which made "stop" look successful when nothing ran).
 */
int
sky_script_send_signal(SkyScript *script)
{
	pid_t		pid;
	char	   *why;

	if (script->pidfile[0] == '\0')
	{
		log_error("no pidfile in config, nothing to do");
		return 1;
	}
	pid = sky_pidfile_running_pid(script->pidfile, &why);
	if (pid == 0)
	{
		log_error("%s", why);
		return 1;
	}
	if (kill(pid, script->send_signal) != 0)
	{
		log_error("could not send signal to process %d: %m", (int) pid);
		return 1;
	}
	log_info("signal %d sent to process %d", script->send_signal, (int) pid);
	return 0;
}

static void
release_pidfile_at_exit(void)
{
	sky_pidfile_release();
}

/*
 * Go to the background if asked, take the pidfile and install the signal
 * handlers.  A program that does more startup work afterwards calls
 * sky_daemon_ready() when it is done; sky_script_loop() does it otherwise.
 */
bool
sky_script_start(SkyScript *script)
{
	if (script->daemon)
	{
		if (script->pidfile[0] == '\0')
		{
			log_error("daemon mode needs a pidfile in the config");
			return false;
		}
		sky_daemonize();
	}
	if (script->pidfile[0] != '\0')
	{
		if (!sky_pidfile_acquire(script->pidfile))
			return false;
		atexit(release_pidfile_at_exit);
	}
	sky_signals_install();
	return true;
}

/*
 * Call work until stopped.  Before each call a pending reload is carried
 * out: the config file is read again from scratch (keeping --set), the log
 * file reopened, and reload (if given) lets the program pick up its keys;
 * a config that fails to load is reported and the old one kept.
 *
 * Returns the exit status: 0 after SIGINT or a single run (loop_delay <= 0),
 * 1 after SIGTERM.
 */
int
sky_script_loop(SkyScript *script, SkyWorkFunc work, SkyReloadFunc reload,
				void *arg)
{
	bool		unused_noted = false;

	sky_daemon_ready();
	for (;;)
	{
		SkyWorkResult result;

		if (sky_reload_pending)
		{
			SkyConfig  *cf;
			char	   *errmsg;

			sky_reload_pending = 0;
			sky_log_reopen();
			cf = sky_config_load(script->config_path, script->service_names,
								 script->overrides, &errmsg);
			if (cf == NULL)
			{
				log_error("config reload failed, keeping the old config: %s", errmsg);
				pg_free(errmsg);
			}
			else
			{
				SkyConfig  *old_cf = script->cf;

				script->cf = cf;
				apply_config(script);
				if (reload == NULL || reload(script, arg))
				{
					sky_config_free(old_cf);
					log_info("Config reloaded");
				}
				else
				{
					/*
					 * The program refused it (and said why): back to the old
					 * one, which the program takes again to undo whatever it
					 * had already taken from the new one.
					 */
					sky_config_free(cf);
					script->cf = old_cf;
					apply_config(script);
					(void) reload(script, arg);
					log_error("config reload refused, keeping the old config");
				}
				unused_noted = false;
			}
		}
		if (sky_terminate_pending)
		{
			log_info("terminated by signal");
			return 1;
		}
		if (sky_stop_pending)
		{
			log_info("stopping");
			return 0;
		}

		result = work(script, arg);

		/* after one round of work, every key the program reads was read */
		if (!unused_noted)
		{
			sky_config_note_unused(script->cf, script->progname);
			unused_noted = true;
		}
		if (script->loop_delay <= 0)
			return (result == SKY_WORK_FAILED) ? 1 : 0;
		if (result == SKY_WORK_MORE)
			continue;
		if (result == SKY_WORK_FAILED)
		{
			/* the work function has logged what went wrong */
			log_info("Job %s: trying again in %g s", script->job_name,
					  script->exception_sleep);
			sky_sleep(script->exception_sleep);
		}
		else
			sky_sleep(script->loop_delay);
	}
}
