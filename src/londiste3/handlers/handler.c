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
 * src/londiste3/handlers/handler.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "pqexpbuffer.h"
#include "londiste3/handlers/handler.h"

extern const LdHandlerClass ld_handler_londiste;
extern const LdHandlerClass ld_handler_bulk;
extern const LdHandlerClass ld_handler_dispatch_classes[];
extern const int ld_handler_dispatch_count;
extern const LdHandlerClass ld_handler_qtable;
extern const LdHandlerClass ld_handler_qsplitter;
extern const LdHandlerClass ld_handler_applyfn;
extern const LdHandlerClass ld_handler_vtable;
extern const LdHandlerClass ld_handler_fake_local;
extern const LdHandlerClass ld_handler_multimaster;
extern const LdHandlerClass ld_handler_shard;
extern const LdHandlerClass ld_handler_part;
extern const LdHandlerClass ld_handler_obfuscate;

/*
 * Every handler class, in the order python3-londiste registers them within
 * a module.  dispatch's module also holds its preset variants (dispatch.c).
 */
typedef struct HandlerGroup
{
	const LdHandlerClass *classes;	/* an array ... */
	const int  *count;			/* ... of this many, or one class if NULL */
} HandlerGroup;

static const HandlerGroup handler_groups[] = {
	{&ld_handler_londiste, NULL},
	{&ld_handler_bulk, NULL},
	{ld_handler_dispatch_classes, &ld_handler_dispatch_count},
	{&ld_handler_qtable, NULL},
	{&ld_handler_qsplitter, NULL},
	{&ld_handler_applyfn, NULL},
	{&ld_handler_vtable, NULL},
	{&ld_handler_fake_local, NULL},
	{&ld_handler_multimaster, NULL},
	{&ld_handler_shard, NULL},
	{&ld_handler_part, NULL},
	{&ld_handler_obfuscate, NULL},
};

static int
group_size(const HandlerGroup *g)
{
	return g->count != NULL ? *g->count : 1;
}

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

/*
 * The config's handler_modules, split; python3-londiste reads the key as a
 * list (commas, blanks around items).  Modules we do not have are reported
 * once, with Python's message.
 */
static LdStringList *
config_modules(Londiste *ld)
{
	static LdStringList modules;
	static bool loaded = false;
	char	   *value;
	char	   *item;
	char	   *save;

	if (loaded)
		return &modules;
	loaded = true;
	value = sky_config_get(ld->script.cf, "handler_modules", "");
	for (item = strtok_r(value, ", \t", &save); item != NULL;
		 item = strtok_r(NULL, ", \t", &save))
	{
		bool		known = false;
		int			g;

		for (g = 0; g < lengthof(handler_groups) && !known; g++)
		{
			const char *module = handler_groups[g].classes[0].module;

			known = module != NULL && strcmp(module, item) == 0;
		}
		if (!known)
		{
			printf("Failed to load handler module: %s\n", item);
			continue;
		}
		modules.items = pg_realloc(modules.items,
								   sizeof(char *) * (modules.n + 1));
		modules.items[modules.n++] = pg_strdup(item);
	}
	pg_free(value);
	return &modules;
}

/* is the class turned on by the config's handler_modules? */
static bool
class_enabled(Londiste *ld, const LdHandlerClass *cls)
{
	LdStringList *modules;
	int			i;

	if (cls->module == NULL)
		return true;
	modules = config_modules(ld);
	for (i = 0; i < modules->n; i++)
		if (strcmp(modules->items[i], cls->module) == 0)
			return true;
	return false;
}

/* The enabled class of that name, or NULL. */
const LdHandlerClass *
ld_handler_class(Londiste *ld, const char *name)
{
	int			g;
	int			i;

	for (g = 0; g < lengthof(handler_groups); g++)
		for (i = 0; i < group_size(&handler_groups[g]); i++)
		{
			const LdHandlerClass *cls = &handler_groups[g].classes[i];

			if (strcmp(cls->name, name) == 0 && class_enabled(ld, cls))
				return cls;
		}
	return NULL;
}

/*
 * The enabled classes, in the order python3-londiste lists them: the
 * built-in one, then each module's in handler_modules order.  Free
 * *classes with pg_free.
 */
void
ld_handler_list(Londiste *ld, const LdHandlerClass ***classes, int *n)
{
	LdStringList *modules = config_modules(ld);
	int			total = 0;
	int			g;
	int			i;
	int			m;

	for (g = 0; g < lengthof(handler_groups); g++)
		total += group_size(&handler_groups[g]);
	*n = 0;
	*classes = pg_malloc0(sizeof(LdHandlerClass *) * total);
	(*classes)[(*n)++] = &ld_handler_londiste;
	for (m = 0; m < modules->n; m++)
	{
		bool		seen = false;

		/* a module listed twice registers its classes once */
		for (i = 0; i < m && !seen; i++)
			seen = strcmp(modules->items[i], modules->items[m]) == 0;
		if (seen)
			continue;
		for (g = 0; g < lengthof(handler_groups); g++)
			for (i = 0; i < group_size(&handler_groups[g]); i++)
			{
				const LdHandlerClass *cls = &handler_groups[g].classes[i];

				if (cls->module != NULL &&
					strcmp(cls->module, modules->items[m]) == 0)
					(*classes)[(*n)++] = cls;
			}
	}
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
	char	   *name;
	PgqDict    *args;

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
	return ld_handler_create(ld, cls, args, table_name, dest_table);
}

/*
 * A handler of a known class; args (taken over) are checked against the
 * class's list and by its init hook.  NULL (logged) if they do not pass.
 */
LdHandler *
ld_handler_create(Londiste *ld, const LdHandlerClass *cls, PgqDict *args,
				  const char *table_name, const char *dest_table)
{
	LdHandler  *h;
	int			i;

	if (cls->args != NULL)
	{
		PQExpBufferData invalid;

		initPQExpBuffer(&invalid);
		for (i = 0; i < pgq_dict_count(args); i++)
		{
			const char *key = pgq_dict_key(args, i);
			int			j;

			for (j = 0; cls->args[j] != NULL; j++)
				if (strcmp(cls->args[j], key) == 0)
					break;
			if (cls->args[j] == NULL)
				appendPQExpBuffer(&invalid, "%s'%s'",
								  invalid.len > 0 ? ", " : "", key);
		}
		if (invalid.len > 0)
		{
			sky_log(SKY_LOG_ERROR, "Invalid handler argument: [%s]",
					invalid.data);
			termPQExpBuffer(&invalid);
			pgq_dict_free(args);
			return NULL;
		}
		termPQExpBuffer(&invalid);
	}
	h = pg_malloc0(sizeof(LdHandler));
	h->cls = cls;
	h->table_name = pg_strdup(table_name);
	h->dest_table = pg_strdup(dest_table ? dest_table : table_name);
	h->args = args;
	h->ld = ld;
	if (cls->private_size > 0)
		h->private = pg_malloc0(cls->private_size);
	if (cls->init != NULL && !cls->init(h))
	{
		ld_handler_free(h);
		return NULL;
	}
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

bool
ld_handler_copy_columns(LdHandler *h, LdStringList *src_cols,
						LdStringList *dst_cols)
{
	return h->cls->copy_columns == NULL ||
		h->cls->copy_columns(h, src_cols, dst_cols);
}

/* does the copy have to pass every row through ld_handler_copy_row()? */
bool
ld_handler_rewrites_copy(const LdHandler *h)
{
	return h->cls->copy_row != NULL;
}

char *
ld_handler_copy_row(LdHandler *h, const char *row,
					const LdStringList *src_cols)
{
	if (h->cls->copy_row == NULL)
		return pg_strdup(row);
	return h->cls->copy_row(h, row, src_cols);
}
