/*-------------------------------------------------------------------------
 *
 * config.c
 *	  INI configuration files compatible with Skytools scripts.
 *
 * Skytools reads its configuration with Python's configparser, and
 * Debian ships the Python 3 flavour, so that is the behaviour followed
 * here: duplicate sections or keys are errors, a ";" after a value is part
 * of the value (Python 2 used to cut it off, so a warning says so), and
 * interpolation errors surface when the value is read, not when the file is
 * loaded.  A file is always parsed from scratch; a reload builds a new
 * SkyConfig, so keys removed from the file really disappear.
 * config_format = 2 switches to python3-skytools 3.8's ${...} references.
 *
 * src/framework/config.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <limits.h>
#include <pwd.h>
#include <unistd.h>

#include "framework/config.h"
#include "framework/log.h"
#include "pqexpbuffer.h"

/* Python's configparser gives up beyond this many nested references */
#define MAX_INTERPOLATION_DEPTH 10

static char *str_strip(char *s);
static char *str_lower(const char *s);
static SkyConfigEntry *entry_find(SkyConfigEntry *list, const char *key);
static SkyConfigEntry *entry_new(const char *key, const char *value, int lineno);
static bool parse_file(SkyConfig *cf, const char *text, char **errmsg);
static const char *raw_lookup(SkyConfig *cf, const char *key);
static bool interpolate(SkyConfig *cf, const char *key, const char *raw,
						int depth, PQExpBuffer out, char **errmsg);
static const char *section_lookup(SkyConfig *cf, SkyConfigSection *sect,
								  const char *key);
static bool interpolate_ext(SkyConfig *cf, SkyConfigSection *sect,
							const char *key, const char *raw, int depth,
							PQExpBuffer out, char **errmsg);

static char *
str_strip(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t' || *s == '\f' || *s == '\v')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
					   end[-1] == '\r' || end[-1] == '\f' || end[-1] == '\v'))
		end--;
	*end = '\0';
	return s;
}

static char *
str_lower(const char *s)
{
	char	   *r = pg_strdup(s);
	char	   *p;

	for (p = r; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	return r;
}

static SkyConfigEntry *
entry_find(SkyConfigEntry *list, const char *key)
{
	for (; list != NULL; list = list->next)
		if (strcmp(list->key, key) == 0)
			return list;
	return NULL;
}

static SkyConfigEntry *
entry_new(const char *key, const char *value, int lineno)
{
	SkyConfigEntry *e = pg_malloc0(sizeof(SkyConfigEntry));

	e->key = pg_strdup(key);
	e->value = pg_strdup(value);
	e->lineno = lineno;
	return e;
}

/*
 * Parse the text of an INI file into cf->sections.
 *
 * Values are collected line by line: an indented line after a key line
 * continues that value, joined with a newline, and blank lines inside a
 * value are kept as empty lines (configparser's empty_lines_in_values).
 */
static bool
parse_file(SkyConfig *cf, const char *text, char **errmsg)
{
	char	   *copy = pg_strdup(text);
	char	   *line = copy;
	int			lineno = 0;
	SkyConfigSection *sect = NULL;
	SkyConfigSection **sect_tail = &cf->sections;
	SkyConfigEntry **entry_tail = NULL;
	SkyConfigEntry *cur = NULL;	/* entry that continuation lines extend */
	int			cur_indent = 0;
	int			pending_blank = 0;
	bool		ok = true;

	while (line != NULL && ok)
	{
		char	   *next = strchr(line, '\n');
		char	   *stripped;
		int			indent = 0;

		if (next != NULL)
			*next++ = '\0';
		lineno++;

		while (line[indent] == ' ' || line[indent] == '\t')
			indent++;
		stripped = str_strip(line);

		if (stripped[0] == '\0')
		{
			if (cur != NULL)
				pending_blank++;
		}
		else if (stripped[0] == '#' || stripped[0] == ';')
		{
			/* full-line comment, also allowed inside a multi-line value */
		}
		else if (cur != NULL && indent > cur_indent)
		{
			PQExpBufferData joined;

			initPQExpBuffer(&joined);
			appendPQExpBufferStr(&joined, cur->value);
			for (; pending_blank > 0; pending_blank--)
				appendPQExpBufferChar(&joined, '\n');
			appendPQExpBuffer(&joined, "\n%s", stripped);
			pg_free(cur->value);
			cur->value = pg_strdup(joined.data);
			termPQExpBuffer(&joined);
		}
		else if (stripped[0] == '[' && strrchr(stripped, ']') != NULL &&
				 strrchr(stripped, ']') > stripped + 1)
		{
			char	   *name = pnstrdup(stripped + 1,
										strrchr(stripped, ']') - stripped - 1);
			SkyConfigSection *s;

			for (s = cf->sections; s != NULL; s = s->next)
				if (strcmp(s->name, name) == 0)
					break;
			if (s != NULL)
			{
				*errmsg = psprintf("%s:%d: section \"%s\" already exists",
								   cf->path, lineno, name);
				ok = false;
				pg_free(name);
				break;
			}
			sect = pg_malloc0(sizeof(SkyConfigSection));
			sect->name = name;
			*sect_tail = sect;
			sect_tail = &sect->next;
			entry_tail = &sect->entries;
			if (strcmp(name, "DEFAULT") == 0)
				cf->defaults = sect;
			cur = NULL;
			pending_blank = 0;
		}
		else if (sect == NULL)
		{
			*errmsg = psprintf("%s:%d: file contains no section headers",
							   cf->path, lineno);
			ok = false;
		}
		else
		{
			size_t		keylen = strcspn(stripped, "=:");
			char	   *key;
			char	   *value;

			if (stripped[keylen] == '\0' || keylen == 0)
			{
				*errmsg = psprintf("%s:%d: cannot parse line: %s",
								   cf->path, lineno, stripped);
				ok = false;
				break;
			}
			value = str_strip(stripped + keylen + 1);
			stripped[keylen] = '\0';
			key = str_lower(str_strip(stripped));
			if (entry_find(sect->entries, key) != NULL)
			{
				*errmsg = psprintf("%s:%d: key \"%s\" in section \"%s\" already exists",
								   cf->path, lineno, key, sect->name);
				pg_free(key);
				ok = false;
				break;
			}

			/*
			 * Python 2's parser cut a value at " ;", Python 3's keeps it.  An
			 * old file that relied on the cut now has a different value, so
			 * point it out.
			 */
			if (strstr(value, " ;") != NULL || strstr(value, "\t;") != NULL)
				log_warning("%s:%d: \";\" in the value of \"%s\" is part of the value, not a comment",
							cf->path, lineno, key);

			cur = entry_new(key, value, lineno);
			cur_indent = indent;
			pending_blank = 0;
			*entry_tail = cur;
			entry_tail = &cur->next;
			pg_free(key);
		}
		line = next;
	}
	pg_free(copy);
	return ok;
}

/*
 * Read and parse an INI file and select the program's main section: the
 * first of service_names present in the file.
 */
SkyConfig *
sky_config_load(const char *path, const char *const *service_names,
				const SkyConfigEntry *overrides, char **errmsg)
{
	SkyConfig  *cf;
	FILE	   *fp;
	PQExpBufferData text;
	char		buf[8192];
	size_t		n;
	char		abspath[PATH_MAX];
	char		hostname[256];
	char	   *base;
	char	   *dot;
	const char *const *svc;
	const SkyConfigEntry *o;
	SkyConfigEntry **tail;

	*errmsg = NULL;
	fp = fopen(path, "r");
	if (fp == NULL)
	{
		*errmsg = psprintf("could not open config file \"%s\": %m", path);
		return NULL;
	}
	initPQExpBuffer(&text);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		appendBinaryPQExpBuffer(&text, buf, n);
	if (ferror(fp))
	{
		*errmsg = psprintf("could not read config file \"%s\": %m", path);
		fclose(fp);
		termPQExpBuffer(&text);
		return NULL;
	}
	fclose(fp);

	cf = pg_malloc0(sizeof(SkyConfig));
	if (realpath(path, abspath) == NULL)
		strlcpy(abspath, path, sizeof(abspath));
	cf->path = pg_strdup(abspath);

	if (!parse_file(cf, text.data, errmsg))
	{
		termPQExpBuffer(&text);
		sky_config_free(cf);
		return NULL;
	}
	termPQExpBuffer(&text);

	for (svc = service_names; *svc != NULL && cf->main == NULL; svc++)
	{
		SkyConfigSection *s;

		for (s = cf->sections; s != NULL; s = s->next)
			if (strcmp(s->name, *svc) == 0)
			{
				cf->main = s;
				break;
			}
	}
	if (cf->main == NULL)
	{
		*errmsg = psprintf("wrong config file \"%s\": no section [%s]",
						   cf->path, service_names[0]);
		sky_config_free(cf);
		return NULL;
	}

	/* built-in defaults, lowest precedence */
	base = pg_strdup(last_dir_separator(cf->path) ?
					 last_dir_separator(cf->path) + 1 : cf->path);
	dot = strrchr(base, '.');
	if (dot != NULL && dot != base)
		*dot = '\0';
	if (gethostname(hostname, sizeof(hostname)) != 0)
		strlcpy(hostname, "localhost", sizeof(hostname));
	hostname[sizeof(hostname) - 1] = '\0';
	tail = &cf->builtins;
	*tail = entry_new("job_name", base, 0);
	tail = &(*tail)->next;
	*tail = entry_new("service_name", cf->main->name, 0);
	tail = &(*tail)->next;
	*tail = entry_new("host_name", hostname, 0);
	tail = &(*tail)->next;
	*tail = entry_new("config_file", cf->path, 0);
	tail = &(*tail)->next;
	{
		char	   *dir = pg_strdup(cf->path);

		get_parent_directory(dir);
		*tail = entry_new("config_dir", dir, 0);
		pg_free(dir);
	}
	pg_free(base);

	tail = &cf->overrides;
	for (o = overrides; o != NULL; o = o->next)
	{
		*tail = entry_new(o->key, o->value, 0);
		tail = &(*tail)->next;
	}

	/* a format we do not know would be read with the wrong rules */
	{
		const char *format = raw_lookup(cf, "config_format");

		if (format != NULL && strcmp(format, "1") != 0 && strcmp(format, "2") != 0)
		{
			*errmsg = psprintf("config file \"%s\": unsupported config_format \"%s\" (1 or 2 expected)",
							   cf->path, format);
			sky_config_free(cf);
			return NULL;
		}
	}
	return cf;
}

static void
free_entries(SkyConfigEntry *e)
{
	while (e != NULL)
	{
		SkyConfigEntry *next = e->next;

		pg_free(e->key);
		pg_free(e->value);
		pg_free(e);
		e = next;
	}
}

void
sky_config_free(SkyConfig *cf)
{
	SkyConfigSection *s;

	if (cf == NULL)
		return;
	s = cf->sections;
	while (s != NULL)
	{
		SkyConfigSection *next = s->next;

		free_entries(s->entries);
		pg_free(s->name);
		pg_free(s);
		s = next;
	}
	free_entries(cf->builtins);
	free_entries(cf->overrides);
	pg_free(cf->path);
	pg_free(cf);
}

/*
 * Append a --set KEY=VALUE to an override list.  A later --set of the same
 * key replaces the earlier one.
 */
SkyConfigEntry *
sky_config_add_override(SkyConfigEntry *list, const char *assignment,
						char **errmsg)
{
	const char *eq = strchr(assignment, '=');
	char	   *key;
	char	   *raw;
	SkyConfigEntry *e;

	*errmsg = NULL;
	if (eq == NULL || eq == assignment)
	{
		*errmsg = psprintf("invalid --set \"%s\": expected KEY=VALUE", assignment);
		return list;
	}
	raw = pnstrdup(assignment, eq - assignment);
	key = str_lower(str_strip(raw));
	pg_free(raw);
	e = entry_find(list, key);
	if (e != NULL)
	{
		pg_free(e->value);
		e->value = pg_strdup(eq + 1);
	}
	else
	{
		SkyConfigEntry **tail = &list;

		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = entry_new(key, eq + 1, 0);
	}
	pg_free(key);
	return list;
}

/*
 * Uninterpolated value of key: --set, then the section, [DEFAULT],
 * built-ins.  Keys are case-insensitive, as configparser's are.
 */
static const char *
raw_lookup(SkyConfig *cf, const char *key)
{
	char	   *lkey = str_lower(key);
	SkyConfigEntry *e;
	const char *value = NULL;

	if ((e = entry_find(cf->overrides, lkey)) != NULL ||
		(e = entry_find(cf->main->entries, lkey)) != NULL ||
		(cf->defaults != NULL &&
		 (e = entry_find(cf->defaults->entries, lkey)) != NULL) ||
		(e = entry_find(cf->builtins, lkey)) != NULL)
	{
		e->used = true;
		value = e->value;
	}
	pg_free(lkey);
	return value;
}

static bool
interpolate(SkyConfig *cf, const char *key, const char *raw, int depth,
			PQExpBuffer out, char **errmsg)
{
	const char *p = raw;

	if (depth > MAX_INTERPOLATION_DEPTH)
	{
		*errmsg = psprintf("value of \"%s\" nests %%(name)s references too deeply (more than %d levels)",
						   key, MAX_INTERPOLATION_DEPTH);
		return false;
	}
	while (*p)
	{
		const char *pct = strchr(p, '%');

		if (pct == NULL)
		{
			appendPQExpBufferStr(out, p);
			break;
		}
		appendBinaryPQExpBuffer(out, p, pct - p);
		if (pct[1] == '%')
		{
			appendPQExpBufferChar(out, '%');
			p = pct + 2;
		}
		else if (pct[1] == '(')
		{
			const char *close = strchr(pct + 2, ')');
			char	   *ref;
			char	   *name;
			const char *refval;

			if (close == NULL || close[1] != 's')
			{
				*errmsg = psprintf("bad interpolation syntax in value of \"%s\": %s",
								   key, raw);
				return false;
			}
			ref = pnstrdup(pct + 2, close - pct - 2);
			name = str_lower(ref);
			pg_free(ref);
			refval = raw_lookup(cf, name);
			if (refval == NULL)
			{
				*errmsg = psprintf("value of \"%s\" refers to \"%s\", which is not set",
								   key, name);
				pg_free(name);
				return false;
			}
			/*
			 * Like configparser, descend only into values that hold
			 * references: the depth limit counts references, not plain
			 * values at the end of a chain.
			 */
			if (strchr(refval, '%') == NULL)
				appendPQExpBufferStr(out, refval);
			else if (!interpolate(cf, name, refval, depth + 1, out, errmsg))
			{
				pg_free(name);
				return false;
			}
			pg_free(name);
			p = close + 2;
		}
		else
		{
			*errmsg = psprintf("\"%%\" must be followed by \"%%\" or \"(\" in value of \"%s\": %s",
							   key, raw);
			return false;
		}
	}
	return true;
}

/*
 * Uninterpolated value of key as seen from section sect: its own entries,
 * [DEFAULT], built-ins; --set applies to the main section only.
 */
static const char *
section_lookup(SkyConfig *cf, SkyConfigSection *sect, const char *key)
{
	char	   *lkey;
	SkyConfigEntry *e;
	const char *value = NULL;

	if (sect == cf->main)
		return raw_lookup(cf, key);
	lkey = str_lower(key);
	if ((e = entry_find(sect->entries, lkey)) != NULL ||
		(cf->defaults != NULL &&
		 (e = entry_find(cf->defaults->entries, lkey)) != NULL) ||
		(e = entry_find(cf->builtins, lkey)) != NULL)
	{
		e->used = true;
		value = e->value;
	}
	pg_free(lkey);
	return value;
}

/*
 * config_format = 2 (python3-skytools 3.8, configparser's extended
 * interpolation): ${key} from the same section, ${section:key} from
 * another, $$ for a literal dollar sign; "%" has no meaning.  References
 * inside a value found in another section resolve in that section.
 */
static bool
interpolate_ext(SkyConfig *cf, SkyConfigSection *sect, const char *key,
				const char *raw, int depth, PQExpBuffer out, char **errmsg)
{
	const char *p = raw;

	if (depth > MAX_INTERPOLATION_DEPTH)
	{
		*errmsg = psprintf("value of \"%s\" nests ${...} references too deeply (more than %d levels)",
						   key, MAX_INTERPOLATION_DEPTH);
		return false;
	}
	while (*p)
	{
		const char *dollar = strchr(p, '$');
		const char *close;
		char	   *ref;
		char	   *colon;
		SkyConfigSection *target = sect;
		const char *refval;
		bool		ok;

		if (dollar == NULL)
		{
			appendPQExpBufferStr(out, p);
			break;
		}
		appendBinaryPQExpBuffer(out, p, dollar - p);
		if (dollar[1] == '$')
		{
			appendPQExpBufferChar(out, '$');
			p = dollar + 2;
			continue;
		}
		close = (dollar[1] == '{') ? strchr(dollar + 2, '}') : NULL;
		if (close == NULL)
		{
			*errmsg = psprintf("\"$\" must be followed by \"$\" or \"{\" in value of \"%s\": %s",
							   key, raw);
			return false;
		}
		ref = pnstrdup(dollar + 2, close - dollar - 2);
		colon = strchr(ref, ':');
		if (colon != NULL)
		{
			*colon = '\0';
			for (target = cf->sections; target != NULL; target = target->next)
				if (strcmp(target->name, ref) == 0)
					break;
			if (target == NULL)
			{
				*errmsg = psprintf("value of \"%s\" refers to section [%s], which does not exist",
								   key, ref);
				pg_free(ref);
				return false;
			}
		}
		refval = section_lookup(cf, target, colon ? colon + 1 : ref);
		if (refval == NULL)
		{
			*errmsg = psprintf("value of \"%s\" refers to \"%s\", which is not set",
							   key, colon ? colon + 1 : ref);
			pg_free(ref);
			return false;
		}
		if (strchr(refval, '$') == NULL)
		{
			appendPQExpBufferStr(out, refval);
			ok = true;
		}
		else
			ok = interpolate_ext(cf, target, colon ? colon + 1 : ref, refval, depth + 1, out, errmsg);
		pg_free(ref);
		if (!ok)
			return false;
		p = close + 1;
	}
	return true;
}

/*
 * Log at DEBUG the keys of the main section and of --set that nothing has
 * looked up.  Old configs carry keys only the Python tools knew
 * (use_skylog, ...), so they are no error; but a misspelt key shows here.
 */
void
sky_config_note_unused(SkyConfig *cf, const char *progname)
{
	SkyConfigEntry *e;

	for (e = cf->main->entries; e != NULL; e = e->next)
		if (!e->used)
			log_debug("config key \"%s\" (line %d) is not used by %s",
					  e->key, e->lineno, progname);
	for (e = cf->overrides; e != NULL; e = e->next)
		if (!e->used)
			log_debug("--set key \"%s\" is not used by %s", e->key, progname);
}

bool
sky_config_has(SkyConfig *cf, const char *key)
{
	return raw_lookup(cf, key) != NULL;
}

/*
 * Interpolated value of key, or a copy of def when the key is not set.
 * A missing key without a default, or a broken interpolation, gives NULL
 * and *errmsg (palloc'd), for callers that can skip what they were reading.
 */
char *
sky_config_try_get(SkyConfig *cf, const char *key, const char *def, char **errmsg)
{
	const char *raw = raw_lookup(cf, key);
	PQExpBufferData buf;
	char	   *why = NULL;
	bool		ok;
	char	   *result;

	*errmsg = NULL;
	if (raw == NULL)
	{
		if (def == NULL)
		{
			*errmsg = psprintf("config file \"%s\": required key \"%s\" is not set in section [%s]",
							   cf->path, key, cf->main->name);
			return NULL;
		}
		return pg_strdup(def);
	}
	initPQExpBuffer(&buf);
	if (raw_lookup(cf, "config_format") != NULL &&
		strcmp(raw_lookup(cf, "config_format"), "2") == 0)
		ok = interpolate_ext(cf, cf->main, key, raw, 1, &buf, &why);
	else
		ok = interpolate(cf, key, raw, 1, &buf, &why);
	if (!ok)
	{
		*errmsg = psprintf("config file \"%s\": %s", cf->path, why);
		pg_free(why);
		termPQExpBuffer(&buf);
		return NULL;
	}
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * The same, where a missing key without a default, or a broken
 * interpolation, is fatal: there is no sensible way to go on with half a
 * configuration.
 */
char *
sky_config_get(SkyConfig *cf, const char *key, const char *def)
{
	char	   *errmsg;
	char	   *result = sky_config_try_get(cf, key, def, &errmsg);

	if (result == NULL)
		sky_fatal("%s", errmsg);
	return result;
}

/*
 * Expand a leading "~" or "~user" to a home directory, as Python's
 * os.path.expanduser does; anything else is returned unchanged.
 */
char *
sky_expand_home(const char *path)
{
	const char *rest;
	const char *home = NULL;

	if (path[0] != '~')
		return pg_strdup(path);
	rest = strchr(path, '/');
	if (rest == NULL)
		rest = path + strlen(path);
	if (rest == path + 1)
	{
		home = getenv("HOME");
		if (home == NULL || home[0] == '\0')
		{
			struct passwd *pw = getpwuid(geteuid());

			home = pw ? pw->pw_dir : NULL;
		}
	}
	else
	{
		char	   *user = pnstrdup(path + 1, rest - path - 1);
		struct passwd *pw = getpwnam(user);

		pg_free(user);
		home = pw ? pw->pw_dir : NULL;
	}
	if (home == NULL)
		return pg_strdup(path);
	return psprintf("%s%s", home, rest);
}

/* A path: "~" expanded; "" and "-" pass through (stdin/stdout markers). */
char *
sky_config_get_file(SkyConfig *cf, const char *key, const char *def)
{
	char	   *value = sky_config_get(cf, key, def);
	char	   *expanded;

	if (value[0] == '\0' || strcmp(value, "-") == 0)
		return value;
	expanded = sky_expand_home(value);
	pg_free(value);
	return expanded;
}

int
sky_config_get_int(SkyConfig *cf, const char *key, int def)
{
	char	   *value;
	char	   *end;
	long		v;

	if (!sky_config_has(cf, key))
		return def;
	value = sky_config_get(cf, key, NULL);
	errno = 0;
	v = strtol(value, &end, 10);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0' || v < INT_MIN || v > INT_MAX)
		sky_fatal("config file \"%s\": value of \"%s\" is not an integer: \"%s\"",
				  cf->path, key, value);
	pg_free(value);
	return (int) v;
}

double
sky_config_get_float(SkyConfig *cf, const char *key, double def)
{
	char	   *value;
	char	   *end;
	double		v;

	if (!sky_config_has(cf, key))
		return def;
	value = sky_config_get(cf, key, NULL);
	errno = 0;
	v = strtod(value, &end);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0')
		sky_fatal("config file \"%s\": value of \"%s\" is not a number: \"%s\"",
				  cf->path, key, value);
	pg_free(value);
	return v;
}

bool
sky_config_get_bool(SkyConfig *cf, const char *key, bool def)
{
	char	   *value;
	bool		result;

	if (!sky_config_has(cf, key))
		return def;
	value = sky_config_get(cf, key, NULL);
	if (!sky_parse_bool(value, &result))
		sky_fatal("config file \"%s\": value of \"%s\" is not a boolean: \"%s\"",
				  cf->path, key, value);
	pg_free(value);
	return result;
}

/* Python's configparser booleans: 1/yes/true/on, 0/no/false/off, any case */
bool
sky_parse_bool(const char *value, bool *result)
{
	static const char *const truthy[] = {"1", "yes", "true", "on", NULL};
	static const char *const falsy[] = {"0", "no", "false", "off", NULL};
	int			i;

	for (i = 0; truthy[i] != NULL; i++)
		if (pg_strcasecmp(value, truthy[i]) == 0)
		{
			*result = true;
			return true;
		}
	for (i = 0; falsy[i] != NULL; i++)
		if (pg_strcasecmp(value, falsy[i]) == 0)
		{
			*result = false;
			return true;
		}
	return false;
}

/* A size: a number with an optional unit K, M or G (B and spaces allowed). */
int64
sky_config_get_bytes(SkyConfig *cf, const char *key, int64 def)
{
	char	   *value;
	char	   *end;
	double		v;
	int64		mult = 1;

	if (!sky_config_has(cf, key))
		return def;
	value = sky_config_get(cf, key, NULL);
	errno = 0;
	v = strtod(value, &end);
	while (*end == ' ')
		end++;
	switch (pg_toupper((unsigned char) *end))
	{
		case 'K':
			mult = 1024;
			end++;
			break;
		case 'M':
			mult = 1024 * 1024;
			end++;
			break;
		case 'G':
			mult = 1024 * 1024 * 1024;
			end++;
			break;
	}
	if (pg_toupper((unsigned char) *end) == 'B')
		end++;
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0' || v < 0)
		sky_fatal("config file \"%s\": value of \"%s\" is not a size: \"%s\"",
				  cf->path, key, value);
	pg_free(value);
	return (int64) (v * mult);
}
