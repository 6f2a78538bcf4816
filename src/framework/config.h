/*-------------------------------------------------------------------------
 *
 * config.h
 *	  INI configuration files compatible with Skytools scripts.
 *
 * The rules are those of Python 3's configparser as Skytools uses it:
 * sections, a [DEFAULT] section visible from all others, "key = value" or
 * "key: value", case-insensitive keys, continuation lines, full-line
 * comments, %(name)s interpolation with %% as a literal percent sign, and
 * the built-in defaults job_name, service_name, host_name, config_dir and
 * config_file.  With config_format = 2, ${key} and ${section:key} instead
 * (python3-skytools 3.8).  Overrides given with --set win over the file.
 *
 * src/framework/config.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_CONFIG_H
#define SKY_CONFIG_H

typedef struct SkyConfigEntry
{
	char	   *key;
	char	   *value;
	int			lineno;			/* 0 for built-ins and overrides */
	bool		used;			/* looked up since the file was loaded */
	struct SkyConfigEntry *next;
} SkyConfigEntry;

typedef struct SkyConfigSection
{
	char	   *name;
	SkyConfigEntry *entries;
	struct SkyConfigSection *next;
} SkyConfigSection;

typedef struct SkyConfig
{
	char	   *path;			/* absolute path of the file */
	SkyConfigSection *sections; /* every section in file order */
	SkyConfigSection *main;		/* the program's section */
	SkyConfigSection *defaults; /* [DEFAULT], or NULL */
	SkyConfigEntry *builtins;	/* job_name, service_name, ... */
	SkyConfigEntry *overrides;	/* --set KEY=VALUE, in order given */
} SkyConfig;

extern SkyConfig *sky_config_load(const char *path,
								  const char *const *service_names,
								  const SkyConfigEntry *overrides,
								  char **errmsg);
extern void sky_config_free(SkyConfig *cf);
extern SkyConfigEntry *sky_config_add_override(SkyConfigEntry *list,
											   const char *assignment,
											   char **errmsg);

extern bool sky_config_has(SkyConfig *cf, const char *key);
extern char *sky_config_get(SkyConfig *cf, const char *key, const char *def);
extern char *sky_config_try_get(SkyConfig *cf, const char *key, const char *def,
								char **errmsg);
extern char *sky_config_get_file(SkyConfig *cf, const char *key, const char *def);
extern int	sky_config_get_int(SkyConfig *cf, const char *key, int def);
extern double sky_config_get_float(SkyConfig *cf, const char *key, double def);
extern bool sky_config_get_bool(SkyConfig *cf, const char *key, bool def);
extern bool sky_parse_bool(const char *value, bool *result);
extern int64 sky_config_get_bytes(SkyConfig *cf, const char *key, int64 def);
extern char *sky_expand_home(const char *path);
extern void sky_config_note_unused(SkyConfig *cf, const char *progname);

#endif							/* SKY_CONFIG_H */
