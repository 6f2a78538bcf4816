/*-------------------------------------------------------------------------
 *
 * script.h
 *	  The Skytools script frame: switches, configuration, logging, daemon
 *	  mode and the main loop, shared by every client program.
 *
 * A program parses its command line with getopt_long, passing each option
 * it does not know itself to sky_script_option(); SKY_SCRIPT_SHORTOPTS and
 * SKY_SCRIPT_LONGOPTS go into its option tables.  Then it calls
 * sky_script_load() with the config file, and either does its one-shot
 * work or calls sky_script_start() and sky_script_loop().
 *
 * src/framework/script.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_SCRIPT_H
#define SKY_SCRIPT_H

#include <getopt.h>

#include "framework/config.h"

/* long-only options of the frame; program options must not use these */
#define SKY_OPT_INI 1001
#define SKY_OPT_SET 1002

#define SKY_SCRIPT_SHORTOPTS "qvdrsk"
#define SKY_SCRIPT_LONGOPTS \
	{"quiet", no_argument, NULL, 'q'}, \
	{"verbose", no_argument, NULL, 'v'}, \
	{"daemon", no_argument, NULL, 'd'}, \
	{"reload", no_argument, NULL, 'r'}, \
	{"stop", no_argument, NULL, 's'}, \
	{"kill", no_argument, NULL, 'k'}, \
	{"ini", no_argument, NULL, SKY_OPT_INI}, \
	{"set", required_argument, NULL, SKY_OPT_SET}

#define SKY_SCRIPT_HELP \
	"  -q, --quiet            log only warnings and errors\n" \
	"  -v, --verbose          log debug messages (twice: trace)\n" \
	"  -d, --daemon           run in the background (needs pidfile)\n" \
	"  -r, --reload           make the running process reload its config\n" \
	"  -s, --stop             make the running process stop after its current work\n" \
	"  -k, --kill             make the running process stop now\n" \
	"      --ini              print a commented sample config file\n" \
	"      --set=KEY=VALUE    override a config value (repeatable)\n"

typedef enum SkyWorkResult
{
	SKY_WORK_IDLE,				/* nothing to do: sleep loop_delay */
	SKY_WORK_MORE,				/* call again at once */
	SKY_WORK_FAILED				/* logged; sleep exception_sleep */
} SkyWorkResult;

typedef struct SkyScript
{
	/* set by the program */
	const char *progname;
	const char *const *service_names;	/* accepted main sections */
	const char *ini_template;	/* for --ini */

	/* from the command line */
	int			verbose;
	bool		quiet;
	bool		daemon;
	int			send_signal;	/* SIGHUP/SIGINT/SIGTERM for -r/-s/-k */
	bool		print_ini;
	SkyConfigEntry *overrides;
	char	   *config_path;

	/* from the config file */
	SkyConfig  *cf;
	char	   *job_name;
	char	   *pidfile;
	char	   *logfile;
	double		loop_delay;
	double		exception_sleep;
} SkyScript;

typedef SkyWorkResult (*SkyWorkFunc) (SkyScript *script, void *arg);
typedef bool (*SkyReloadFunc) (SkyScript *script, void *arg);

extern bool sky_script_option(SkyScript *script, int c, const char *arg);
extern void sky_script_print_ini(SkyScript *script);
extern bool sky_script_load(SkyScript *script, const char *config_path);
extern int	sky_script_send_signal(SkyScript *script);
extern bool sky_script_start(SkyScript *script);
extern int	sky_script_loop(SkyScript *script, SkyWorkFunc work,
							SkyReloadFunc reload, void *arg);

#endif							/* SKY_SCRIPT_H */
