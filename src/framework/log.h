/*-------------------------------------------------------------------------
 *
 * log.h
 *	  Logging for the client programs, in the Skytools line format.
 *
 * Every line is "YYYY-MM-DD HH:MM:SS,mmm PID LEVEL message", the format
 * Skytools scripts have always written, so that existing log watchers keep
 * working.  Lines go to stderr and, when configured, to a log file that is
 * rotated by size (log_size, log_count, as Skytools did) and reopened on
 * request (SIGHUP) so that logrotate can move it away instead.
 *
 * src/framework/log.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_LOG_H
#define SKY_LOG_H

/* Levels use Python's logging numbers; TRACE is Skytools' extra level. */
typedef enum SkyLogLevel
{
	SKY_LOG_TRACE = 5,
	SKY_LOG_DEBUG = 10,
	SKY_LOG_INFO = 20,
	SKY_LOG_WARNING = 30,
	SKY_LOG_ERROR = 40,
	SKY_LOG_FATAL = 50
} SkyLogLevel;

extern void sky_log_init(void);
extern void sky_log_set_level(SkyLogLevel level);
extern void sky_log_set_stderr(bool enabled);
extern bool sky_log_set_file(const char *path);
extern bool sky_log_reopen(void);
extern void sky_log_set_rotation(long size, int count);
extern void sky_log_set_fatal_exit(int code);

extern void sky_log(SkyLogLevel level, const char *fmt,...) pg_attribute_printf(2, 3);
extern void sky_fatal(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

#define log_trace(...) sky_log(SKY_LOG_TRACE, __VA_ARGS__)
#define log_debug(...) sky_log(SKY_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) sky_log(SKY_LOG_INFO, __VA_ARGS__)
#define log_warning(...) sky_log(SKY_LOG_WARNING, __VA_ARGS__)
#define log_error(...) sky_log(SKY_LOG_ERROR, __VA_ARGS__)

#endif							/* SKY_LOG_H */
