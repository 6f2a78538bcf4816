/*-------------------------------------------------------------------------
 *
 * handler.c
 *	  The list of table handlers, and handler strings.
 *
 * A handler string is "name" or "name(args)", args urlencoded; when it is
 * read, commas inside the parentheses count as '&', so that a user may
 * write "bulk(method=1,foo=2)".  An empty name means the built-in
 * "londiste" handler.
 *
 * python3-londiste 3.11 offers only the built-in handler unless the config
 * lists more modules in handler_modules; the same list (by the Python
 * module names) turns ours on, so a config means the same to both.
 *
 * src/londiste3/handler.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handler.h"

extern const LdHandlerClass ld_handler_londiste;

/* every handler class; those with a module need it in handler_modules */
static const LdHandlerClass *const handler_classes[] = {
	&ld_handler_londiste,
	NULL
};

/*
 * Split a handler string into its name and arguments.  Returns false for a
 * malformed string; *args is an empty dict when there are none.
 */
bool
ld_handler_parse(const char *spec, char **name, PgqDict **args)
{
	const char *open = strchr(spec, '(');
	size_t		len = strlen(spec);

	*name = NULL;
	*args = NULL;
	if (open == NULL || open == spec)
	{
		if (open == spec)
			return false;
		*name = pg_strdup(spec[0] != '\0' ? spec : "londiste");
		*args = pgq_dict_new();
		return true;
	}
	if (spec[len - 1] != ')')
		return false;
	*name = pnstrdup(spec, open - spec);
	if (open + 1 == spec + len - 1)
		*args = pgq_dict_new();
	else
	{
		char	   *inner = pnstrdup(open + 1, spec + len - 1 - (open + 1));
		char	   *p;

		for (p = inner; *p; p++)
			if (*p == ',')
				*p = '&';
		*args = pgq_urldecode(inner);
		pg_free(inner);
	}
	if (*args == NULL)
	{
		pg_free(*name);
		*name = NULL;
		return false;
	}
	return true;
}

/* "name" or "name(urlencoded args)"; palloc'd */
char *
ld_handler_format(const char *name, const PgqDict *args)
{
	char	   *encoded;
	char	   *result;

	if (args == NULL || pgq_dict_count(args) == 0)
		return pg_strdup(name);
	encoded = pgq_urlencode(args);
	result = psprintf("%s(%s)", name, encoded);
	pgq_free(encoded);
	return result;
}

/* is the class turned on by the config's handler_modules? */
static bool
class_enabled(Londiste *ld, const LdHandlerClass *cls)
{
	char	   *modules;
	char	   *item;
	char	   *save;
	bool		found = false;

	if (cls->module == NULL)
		return true;
	modules = sky_config_get(ld->script.cf, "handler_modules", "");
	for (item = strtok_r(modules, ", \t", &save); item != NULL && !found;
		 item = strtok_r(NULL, ", \t", &save))
		found = strcmp(item, cls->module) == 0;
	pg_free(modules);
	return found;
}

/* The enabled class of that name, or NULL. */
const LdHandlerClass *
ld_handler_class(Londiste *ld, const char *name)
{
	int			i;

	for (i = 0; handler_classes[i] != NULL; i++)
		if (strcmp(handler_classes[i]->name, name) == 0 &&
			class_enabled(ld, handler_classes[i]))
			return handler_classes[i];
	return NULL;
}

/* the enabled classes, in list order; free *classes with pg_free */
void
ld_handler_list(Londiste *ld, const LdHandlerClass ***classes, int *n)
{
	int			i;

	*n = 0;
	*classes = pg_malloc0(sizeof(LdHandlerClass *) * lengthof(handler_classes));
	for (i = 0; handler_classes[i] != NULL; i++)
		if (class_enabled(ld, handler_classes[i]))
			(*classes)[(*n)++] = handler_classes[i];
}

/*
 * A handler for one table from its handler string (NULL or "" for the
 * built-in one).  Logs the error and returns NULL for an unknown handler
 * or an argument the handler does not take.
 */
LdHandler *
ld_handler_new(Londiste *ld, const char *spec, const char *table_name,
			   const char *dest_table)
{
	const LdHandlerClass *cls;
	LdHandler  *h;
	char	   *name;
	PgqDict    *args;
	int			i;

	if (!ld_handler_parse(spec ? spec : "", &name, &args))
	{
		sky_log(SKY_LOG_ERROR, "invalid handler format: %s", spec);
		return NULL;
	}
	cls = ld_handler_class(ld, name);
	if (cls == NULL)
	{
		sky_log(SKY_LOG_ERROR, "unknown handler: %s", name);
		pg_free(name);
		pgq_dict_free(args);
		return NULL;
	}
	pg_free(name);
	if (cls->args != NULL)
	{
		for (i = 0; i < pgq_dict_count(args); i++)
		{
			const char *key = pgq_dict_key(args, i);
			int			j;

			for (j = 0; cls->args[j] != NULL; j++)
				if (strcmp(cls->args[j], key) == 0)
					break;
			if (cls->args[j] == NULL)
			{
				sky_log(SKY_LOG_ERROR, "Invalid handler argument: ['%s']", key);
				pgq_dict_free(args);
				return NULL;
			}
		}
	}
	h = pg_malloc0(sizeof(LdHandler));
	h->cls = cls;
	h->table_name = pg_strdup(table_name);
	h->dest_table = pg_strdup(dest_table ? dest_table : table_name);
	h->args = args;
	if (cls->private_size > 0)
		h->private = pg_malloc0(cls->private_size);
	return h;
}

void
ld_handler_free(LdHandler *h)
{
	if (h == NULL)
		return;
	if (h->cls->free_private != NULL)
		h->cls->free_private(h);
	pg_free(h->private);
	pgq_dict_free(h->args);
	pg_free(h->table_name);
	pg_free(h->dest_table);
	pg_free(h);
}

bool
ld_handler_needs_table(const LdHandler *h)
{
	return h->cls->needs_table == NULL || h->cls->needs_table(h);
}
