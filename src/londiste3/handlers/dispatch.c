/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  dispatch: rows routed into time partitions (or one table), with
 *	  row modes, field maps and direct or bulk loading; and its preset
 *	  variants [bulk_]{hourly,daily,monthly,yearly}_{event,batch,field,time},
 *	  direct and bulk_direct.
 *
 * A partition is named from the parent and the row's time (batch end,
 * event time, a date field or now), "<parent>_YYYY_MM_DD" for days; a
 * missing one is made by part_template, else part_func (default
 * londiste.create_partition, then public.create_partition), else as a
 * copy of the parent.  Statements (or the bulk loads, loader.c) go out
 * at the end of the batch, one table after the other in first-use order.
 *
 * src/londiste3/handlers/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

#define DISPATCH_MODULE "londiste.handlers.dispatch"
#define PART_FUNC_NEW "londiste.create_partition"
#define PART_FUNC_OLD "public.create_partition"

static const char *const dispatch_args[] = {
	"table_mode", "part_func", "part_mode", "part_field", "period",
	"part_name", "part_template", "pre_part", "post_part", "row_mode",
	"event_types", "load_mode", "method", "fields", "skip_fields", "table",
	"retention_period", "ignore_old_events", "ignore_truncate", "encoding",
	"analyze", NULL
};

/* each variant's defaults; NULL: dispatch's own */
typedef struct DispatchPreset
{
	const char *table_mode;
	const char *row_mode;
	const char *load_mode;
	const char *period;
	const char *part_mode;
} DispatchPreset;

/* one target table of the batch and what goes into it */
typedef struct PartTable
{
	char	   *name;			/* unquoted, as named */
	char	   *qname;
	PQExpBufferData sql;		/* direct: the statements */
	LdRowMap   *rows;			/* bulk: rows by key */
	LdStringList fields;		/* bulk: the latest row's columns */
} PartTable;

typedef struct Dispatch
{
	/* configuration */
	char		table_mode;		/* 'p'art, 'd'irect, 'i'gnore */
	const char *part_mode;
	const char *part_field;
	const char *period;
	const char *part_name;
	const char *part_template;
	const char *pre_part;
	const char *post_part;
	const char *part_func;
	const char *retention_period;
	bool		ignore_old_events;
	const char *row_mode;
	char		event_types[4];
	bool		bulk;
	int			method;
	bool		analyze;
	bool		fix_utf8;		/* encoding=utf8 */
	LdStringList skip_fields;
	LdStringList map_from;		/* fields=a:b,... as two lists; none: all */
	LdStringList map_to;
	char	   *qparent;

	/* state */
	LdStringList pkeys;			/* after skip and map; from the first event */
	bool		have_pkeys;
	PartTable  *tables;
	int			ntables;
	LdStringList ignored;		/* obsolete partitions */
	LdBulkLoad	load;
} Dispatch;

extern const LdHandlerClass ld_handler_dispatch_classes[];
extern const int ld_handler_dispatch_count;
static const DispatchPreset dispatch_presets[];

/* args value, else the preset's, else def */
static const char *
conf_value(LdHandler *h, const char *key, const char *preset, const char *def)
{
	const char *value;

	if (pgq_dict_get(h->args, key, &value) && value != NULL)
		return value;
	return preset != NULL ? preset : def;
}

/* a value that must be one of a list, as Python's get_arg checks it */
static bool
conf_choice(LdHandler *h, const char *key, const char *preset,
			const char *const *allowed, const char **result)
{
	const char *value = conf_value(h, key, preset, allowed[0]);
	int			i;

	for (i = 0; allowed[i] != NULL; i++)
		if (strcmp(allowed[i], value) == 0)
		{
			*result = allowed[i];
			return true;
		}
	sky_log(SKY_LOG_ERROR, "Bad argument %s value '%s'", key, value);
	return false;
}

static bool
conf_flag(LdHandler *h, const char *key, bool *result)
{
	static const char *const zero_one[] = {"0", "1", NULL};
	const char *value;

	if (!conf_choice(h, key, NULL, zero_one, &value))
		return false;
	*result = value[0] == '1';
	return true;
}

static bool
dispatch_init(LdHandler *h)
{
	static const char *const table_modes[] = {"part", "direct", "ignore", NULL};
	static const char *const part_modes[] = {"batch_time", "event_time",
	"date_field", "current_time", NULL};
	static const char *const row_modes[] = {"plain", "keep_all", "keep_latest", NULL};
	static const char *const load_modes[] = {"direct", "bulk", NULL};
	static const char *const periods[] = {"day", "month", "year", "hour", NULL};
	static const char *const methods[] = {"0", "1", "2", "3", NULL};
	const DispatchPreset *preset =
		&dispatch_presets[h->cls - ld_handler_dispatch_classes];
	Dispatch   *d = h->private;
	const char *value;
	const char *table;
	LdStringList fields = {0};
	int			i;

	if (!conf_choice(h, "table_mode", preset->table_mode, table_modes, &value))
		return false;
	d->table_mode = value[0];
	if (!conf_flag(h, "analyze", &d->analyze) ||
		!ld_check_encoding(h, &d->fix_utf8))
		return false;
	if (d->table_mode == 'p')
	{
		if (!conf_choice(h, "part_mode", preset->part_mode, part_modes,
						 &d->part_mode))
			return false;
		d->part_field = conf_value(h, "part_field", NULL, NULL);
		if (strcmp(d->part_mode, "date_field") == 0 && d->part_field == NULL)
		{
			sky_log(SKY_LOG_ERROR, "part_mode date_field requires part_field!");
			return false;
		}
		if (!conf_choice(h, "period", preset->period, periods, &d->period))
			return false;
		d->part_name = conf_value(h, "part_name", NULL, NULL);
		d->part_template = conf_value(h, "part_template", NULL, NULL);
		d->pre_part = conf_value(h, "pre_part", NULL, NULL);
		d->post_part = conf_value(h, "post_part", NULL, NULL);
		d->part_func = conf_value(h, "part_func", NULL, PART_FUNC_NEW);
		d->retention_period = conf_value(h, "retention_period", NULL, NULL);
		if (!conf_flag(h, "ignore_old_events", &d->ignore_old_events))
			return false;
	}
	if (!conf_choice(h, "row_mode", preset->row_mode, row_modes, &d->row_mode) ||
		!conf_choice(h, "load_mode", preset->load_mode, load_modes, &value))
		return false;
	d->bulk = strcmp(value, "bulk") == 0;
	if (!conf_choice(h, "method", NULL, methods, &value))
		return false;
	d->method = value[0] - '0';

	value = conf_value(h, "event_types", NULL, "*");
	if (strcmp(value, "*") == 0)
		strcpy(d->event_types, "IUD");
	else
	{
		LdStringList types = {0};

		ld_names_split(&types, value, ',');
		for (i = 0; i < types.n; i++)
		{
			char	   *t = types.items[i];

			if (strlen(t) != 1 || strchr("IUDiud", t[0]) == NULL)
			{
				sky_log(SKY_LOG_ERROR, "Unsupported operation: %s", t);
				ld_names_reset(&types);
				return false;
			}
			if (strchr(d->event_types, pg_ascii_toupper(t[0])) == NULL)
				d->event_types[strlen(d->event_types)] = pg_ascii_toupper(t[0]);
		}
		ld_names_reset(&types);
	}

	value = conf_value(h, "skip_fields", NULL, "");
	ld_names_split(&d->skip_fields, value, ',');
	for (i = 0; i < d->skip_fields.n; i++)
	{
		char	   *f = d->skip_fields.items[i];
		char	   *p;

		/* trimmed and lower-cased, as given to Python */
		while (*f == ' ')
			memmove(f, f + 1, strlen(f));
		for (p = f + strlen(f); p > f && p[-1] == ' '; p--)
			p[-1] = '\0';
		for (p = f; *p; p++)
			*p = pg_ascii_tolower(*p);
	}
	value = conf_value(h, "fields", NULL, "*");
	if (strcmp(value, "*") != 0)
	{
		ld_names_split(&fields, value, ',');
		for (i = 0; i < fields.n; i++)
		{
			char	   *colon = strchr(fields.items[i], ':');

			if (colon != NULL)
				*colon = '\0';
			ld_names_add(&d->map_from, fields.items[i]);
			ld_names_add(&d->map_to, colon ? colon + 1 : fields.items[i]);
		}
		ld_names_reset(&fields);
	}

	/* table= names the destination, as --dest-table would */
	table = conf_value(h, "table", NULL, NULL);
	if (table != NULL)
	{
		pg_free(h->dest_table);
		h->dest_table = pg_strdup(table);
	}
	d->qparent = ld_sql_fqident(h->dest_table);
	ld_bulk_init(&d->load);
	return true;
}

static void
drop_tables(Dispatch *d)
{
	int			i;

	for (i = 0; i < d->ntables; i++)
	{
		pg_free(d->tables[i].name);
		pg_free(d->tables[i].qname);
		termPQExpBuffer(&d->tables[i].sql);
		ld_rowmap_free(d->tables[i].rows);
		ld_names_reset(&d->tables[i].fields);
	}
	pg_free(d->tables);
	d->tables = NULL;
	d->ntables = 0;
}

static void
dispatch_free(LdHandler *h)
{
	Dispatch   *d = h->private;

	drop_tables(d);
	ld_names_reset(&d->skip_fields);
	ld_names_reset(&d->map_from);
	ld_names_reset(&d->map_to);
	ld_names_reset(&d->pkeys);
	ld_names_reset(&d->ignored);
	pg_free(d->qparent);
	if (d->load.del.data != NULL)
		ld_bulk_term(&d->load);
}

static bool
dispatch_prepare(LdHandler *h, LdApply *apply)
{
	drop_tables(h->private);
	return true;
}

/* the row without skipped fields, renamed by the field map */
static PgqDict *
filter_row(Dispatch *d, PgqDict *row)
{
	PgqDict    *out = pgq_dict_new();
	int			i;

	if (d->map_from.n > 0)
	{
		for (i = 0; i < d->map_from.n; i++)
		{
			const char *value = NULL;

			if (!ld_names_contains(&d->skip_fields, d->map_from.items[i]))
				pgq_dict_get(row, d->map_from.items[i], &value);
			pgq_dict_set(out, d->map_to.items[i], value);
		}
	}
	else
	{
		for (i = 0; i < pgq_dict_count(row); i++)
			if (!ld_names_contains(&d->skip_fields, pgq_dict_key(row, i)))
				pgq_dict_set(out, pgq_dict_key(row, i), pgq_dict_value(row, i));
	}
	pgq_dict_free(row);
	return out;
}

static void
filter_pkeys(Dispatch *d, const LdStringList *pkeys)
{
	int			i;
	int			j;

	for (i = 0; i < pkeys->n; i++)
	{
		const char *pk = pkeys->items[i];

		if (ld_names_contains(&d->skip_fields, pk))
			continue;
		if (d->map_from.n == 0)
		{
			ld_names_add(&d->pkeys, pk);
			continue;
		}
		for (j = 0; j < d->map_from.n; j++)
			if (strcmp(d->map_from.items[j], pk) == 0)
			{
				ld_names_add(&d->pkeys, d->map_to.items[j]);
				break;
			}
	}
	d->have_pkeys = true;
}

/* "%(key)s" replaced from vals (NULL values print as None), "%%" as "%" */
static bool
fill_template(const char *tmpl, const PgqDict *vals, PQExpBuffer out)
{
	const char *p;

	for (p = tmpl; *p; p++)
	{
		const char *close;
		const char *value;
		char	   *key;

		if (p[0] != '%')
		{
			appendPQExpBufferChar(out, *p);
			continue;
		}
		if (p[1] == '%')
		{
			appendPQExpBufferChar(out, '%');
			p++;
			continue;
		}
		if (p[1] != '(' || (close = strchr(p, ')')) == NULL || close[1] != 's')
		{
			sky_log(SKY_LOG_ERROR, "bad template, only %%(name)s and %%%% allowed: %s",
					tmpl);
			return false;
		}
		key = pnstrdup(p + 2, close - (p + 2));
		if (!pgq_dict_get(vals, key, &value))
		{
			sky_log(SKY_LOG_ERROR, "unknown template key: %s", key);
			pg_free(key);
			return false;
		}
		appendPQExpBufferStr(out, value ? value : "None");
		pg_free(key);
		p = close + 1;
	}
	return true;
}

/* "YYYY-MM-DD[ HH...]" into its parts; false if it does not start so */
static bool
parse_time(const char *text, int *year, int *month, int *day, int *hour)
{
	*hour = 0;
	if (text == NULL || sscanf(text, "%4d-%2d-%2d", year, month, day) != 3)
		return false;
	if (strlen(text) >= 13 && (text[10] == ' ' || text[10] == 'T'))
		*hour = atoi(text + 11);
	return true;
}

/* the partition's name and time for an event's row */
static bool
split_format(LdHandler *h, const PgqEvent *ev, const PgqDict *row,
			 PQExpBuffer name, char **part_time)
{
	Dispatch   *d = h->private;
	const char *text = NULL;
	char		now[32];
	char		buf[16];
	int			year;
	int			month;
	int			day;
	int			hour;
	PgqDict    *vals;
	bool		ok;

	if (strcmp(d->part_mode, "batch_time") == 0)
		text = h->batch ? h->batch->tick_time : NULL;
	else if (strcmp(d->part_mode, "event_time") == 0)
		text = ev->time;
	else if (strcmp(d->part_mode, "current_time") == 0)
	{
		time_t		t = time(NULL);
		struct tm	tm;

		localtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
		text = now;
	}
	else
	{
		pgq_dict_get(row, d->part_field, &text);
		if (text == NULL)
		{
			sky_log(SKY_LOG_ERROR, "part_field(%s) is NULL: event %lld",
					d->part_field, (long long) ev->id);
			return false;
		}
	}
	if (!parse_time(text, &year, &month, &day, &hour))
	{
		sky_log(SKY_LOG_ERROR, "%s: cannot read a time from '%s' (%s)",
				h->table_name, text ? text : "", d->part_mode);
		return false;
	}
	/* a date field's time is taken to the second, as Python does */
	*part_time = strcmp(d->part_mode, "date_field") == 0 ?
		pnstrdup(text, 19) : pg_strdup(text);

	vals = pgq_dict_new();
	pgq_dict_set(vals, "parent", h->dest_table);
	snprintf(buf, sizeof(buf), "%04d", year);
	pgq_dict_set(vals, "year", buf);
	snprintf(buf, sizeof(buf), "%02d", month);
	pgq_dict_set(vals, "month", buf);
	snprintf(buf, sizeof(buf), "%02d", day);
	pgq_dict_set(vals, "day", buf);
	snprintf(buf, sizeof(buf), "%02d", hour);
	pgq_dict_set(vals, "hour", buf);
	if (d->part_name != NULL)
		ok = fill_template(d->part_name, vals, name);
	else
	{
		static const char *const parts[] = {"year", "month", "day", "hour"};
		int			i;

		appendPQExpBufferStr(name, h->dest_table);
		for (i = 0; i < lengthof(parts); i++)
		{
			const char *value;

			pgq_dict_get(vals, parts[i], &value);
			appendPQExpBuffer(name, "_%s", value);
			if (strcmp(d->period, i == 0 ? "year" : i == 1 ? "month" :
					   i == 2 ? "day" : "hour") == 0)
				break;
		}
		ok = true;
	}
	pgq_dict_free(vals);
	return ok;
}

/* does the table (unquoted fq name) or a function of nargs exist? */
static int
exists_relation(LdApply *apply, const char *name, int nargs)
{
	char	   *fq = ld_make_fqname(name);
	char	   *dot = strchr(fq, '.');
	char		nbuf[16];
	const char *params[3];
	PGresult   *res;
	int			found;

	*dot = '\0';
	params[0] = fq;
	params[1] = dot + 1;
	snprintf(nbuf, sizeof(nbuf), "%d", nargs);
	params[2] = nbuf;
	if (nargs < 0)
		res = ld_direct_query(apply,
							  "select 1 from pg_catalog.pg_class c"
							  " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
							  " where n.nspname = $1 and c.relname = $2",
							  2, params);
	else
		res = ld_direct_query(apply,
							  "select 1 from pg_catalog.pg_proc p"
							  " join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
							  " where n.nspname = $1 and p.proname = $2"
							  " and p.pronargs = $3::int2",
							  3, params);
	pg_free(fq);
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

static bool
run_template(LdApply *apply, const char *tmpl, const PgqDict *vals)
{
	PQExpBufferData sql;
	bool		ok;

	if (tmpl == NULL)
		return true;
	initPQExpBuffer(&sql);
	ok = fill_template(tmpl, vals, &sql);
	if (ok)
	{
		appendPQExpBufferChar(&sql, ';');
		ok = ld_apply_sql(apply, sql.data) && ld_apply_flush(apply);
	}
	termPQExpBuffer(&sql);
	return ok;
}

/* a boolean or setof text function of (name, retention, period) */
static PGresult *
retention_call(LdApply *apply, const char *func, const char *table,
			   Dispatch *d)
{
	const char *params[3] = {table, d->retention_period, d->period};
	char	   *sql = psprintf("select %s($1, $2, $3)", func);
	PGresult   *res = ld_direct_query(apply, sql, 3, params);

	pg_free(sql);
	return res;
}

/*
 * Make sure the partition exists; false on error.  An obsolete partition
 * (ignore_old_events with retention_period) goes to d->ignored instead.
 */
static bool
check_part(LdHandler *h, LdApply *apply, const char *dst, const char *part_time)
{
	Dispatch   *d = h->private;
	PgqDict    *vals;
	PGresult   *res;
	char	   *qdst;
	char	   *p;
	PQExpBufferData buf;
	bool		ok = true;
	int			found;

	if (d->ignore_old_events && d->retention_period != NULL)
	{
		res = retention_call(apply, "londiste.is_obsolete_partition", dst, d);
		if (res == NULL)
			return false;
		found = !PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (found)
		{
			sky_log(SKY_LOG_INFO, "Ignored table: %s", dst);
			ld_names_add(&d->ignored, dst);
			return true;
		}
	}
	found = exists_relation(apply, dst, -1);
	if (found != 0)
		return found > 0;

	qdst = ld_sql_fqident(dst);
	vals = pgq_dict_new();
	pgq_dict_set(vals, "dest", qdst);
	pgq_dict_set(vals, "part", qdst);
	pgq_dict_set(vals, "parent", d->qparent);
	initPQExpBuffer(&buf);
	for (found = 0; found < d->pkeys.n; found++)
		appendPQExpBuffer(&buf, "%s%s", found > 0 ? "," : "", d->pkeys.items[found]);
	pgq_dict_set(vals, "pkeys", buf.data);
	resetPQExpBuffer(&buf);
	for (p = qdst; *p; p++)
	{
		if (*p == '.')
			appendPQExpBufferStr(&buf, "__");
		else
			appendPQExpBufferChar(&buf, *p);
	}
	pgq_dict_set(vals, "schema_table", buf.data);
	pgq_dict_set(vals, "part_field", d->part_field);
	pgq_dict_set(vals, "part_time", part_time);
	pgq_dict_set(vals, "period", d->period);

	ok = run_template(apply, d->pre_part, vals);
	if (ok && d->part_template != NULL)
		ok = run_template(apply, d->part_template, vals);
	else if (ok)
	{
		const char *func = d->part_func;

		found = exists_relation(apply, func, 6);
		if (found == 0 && strcmp(func, PART_FUNC_NEW) == 0)
		{
			func = PART_FUNC_OLD;
			found = exists_relation(apply, func, 6);
		}
		if (found < 0)
			ok = false;
		else if (found > 0)
		{
			const char *params[6] = {d->qparent, qdst, NULL, d->part_field,
			part_time, d->period};
			char	   *sql;

			pgq_dict_get(vals, "pkeys", &params[2]);
			sql = psprintf("select %s($1, $2, $3, $4, $5, $6)", func);
			sky_log(SKY_LOG_DEBUG, "check_part.exec: func: %s", sql);
			res = ld_direct_query(apply, sql, 6, params);
			pg_free(sql);
			ok = res != NULL;
			PQclear(res);
		}
		else
		{
			/* no partition function: a plain copy of the parent */
			char	   *sql = psprintf("create table %s (like %s including all);",
									   qdst, d->qparent);

			sky_log(SKY_LOG_DEBUG, "part func %s not found, cloning table",
					d->part_func);
			ok = ld_apply_sql(apply, sql) && ld_apply_flush(apply);
			pg_free(sql);
		}
	}
	if (ok)
		ok = run_template(apply, d->post_part, vals);
	if (ok)
		sky_log(SKY_LOG_INFO, "Created table: %s", qdst);

	if (ok && d->retention_period != NULL)
	{
		res = retention_call(apply, "londiste.drop_obsolete_partitions",
							 h->dest_table, d);
		ok = res != NULL;
		resetPQExpBuffer(&buf);
		for (found = 0; ok && found < PQntuples(res); found++)
			appendPQExpBuffer(&buf, "%s%s", found > 0 ? ", " : "",
							  PQgetvalue(res, found, 0));
		if (buf.len > 0)
			sky_log(SKY_LOG_INFO, "Dropped tables: %s", buf.data);
		for (found = 0; ok && found < PQntuples(res); found++)
		{
			const char *dropped = PQgetvalue(res, found, 0);
			int			i;

			if (!d->ignore_old_events)
				continue;
			ld_names_add(&d->ignored, dropped);
			for (i = 0; i < d->ntables; i++)
				if (strcmp(d->tables[i].name, dropped) == 0)
				{
					/* its rows of this batch go nowhere now */
					resetPQExpBuffer(&d->tables[i].sql);
					if (d->tables[i].rows != NULL)
						ld_rowmap_reset(d->tables[i].rows);
				}
		}
		PQclear(res);
	}
	termPQExpBuffer(&buf);
	pgq_dict_free(vals);
	pg_free(qdst);
	return ok;
}

static PartTable *
find_table(Dispatch *d, const char *name)
{
	int			i;

	for (i = 0; i < d->ntables; i++)
		if (strcmp(d->tables[i].name, name) == 0)
			return &d->tables[i];
	return NULL;
}

static PartTable *
add_table(LdHandler *h, const char *name)
{
	Dispatch   *d = h->private;
	PartTable  *t;

	if (d->bulk && d->pkeys.n == 0)
	{
		sky_log(SKY_LOG_ERROR, "non-pk tables not supported: %s", name);
		return NULL;
	}
	d->tables = pg_realloc(d->tables, sizeof(PartTable) * (d->ntables + 1));
	t = &d->tables[d->ntables++];
	memset(t, 0, sizeof(PartTable));
	t->name = pg_strdup(name);
	t->qname = ld_sql_fqident(name);
	initPQExpBuffer(&t->sql);
	if (d->bulk)
		t->rows = ld_rowmap_new();
	return t;
}

/*
 * One row operation into a table's load.  Bulk: per key, the state moves
 * I-D => gone, U-D => D, D-I => U, gone-I => I; other pairs keep the old
 * state; the latest row is kept.
 */
static bool
load_row(Dispatch *d, PartTable *t, char op, const PgqDict *row)
{
	LdRowEntry *e;
	int			i;

	if (!d->bulk)
	{
		if (t->sql.len > 0)
			appendPQExpBufferChar(&t->sql, '\n');
		if (op == 'I')
		{
			ld_sql_insert(&t->sql, t->qname, row);
			return true;
		}
		if (op == 'U')
			return ld_sql_update(&t->sql, t->qname, row, &d->pkeys);
		return ld_sql_delete(&t->sql, t->qname, row, &d->pkeys);
	}
	if (d->method == 3 && op != 'I')
	{
		sky_log(SKY_LOG_ERROR, "%c not supported by method insert", op);
		return false;
	}
	e = ld_rowmap_get(t->rows, row, &d->pkeys);
	switch (e->op)
	{
		case 0:
			e->op = op;
			break;
		case 'I':
			if (op == 'D')
				e->op = '.';
			break;
		case 'U':
			if (op == 'D')
				e->op = 'D';
			break;
		case 'D':
			if (op == 'I')
				e->op = 'U';
			break;
		case '.':
			if (op == 'I')
				e->op = 'I';
			break;
	}
	if (e->row != NULL)
		pgq_dict_free(e->row);
	e->row = pgq_dict_new();
	for (i = 0; i < pgq_dict_count(row); i++)
		pgq_dict_set(e->row, pgq_dict_key(row, i), pgq_dict_value(row, i));
	/* an update of key columns only changes nothing */
	if (e->op == 'U' && pgq_dict_count(row) == d->pkeys.n)
		ld_rowmap_remove(t->rows, e);
	ld_names_reset(&t->fields);
	for (i = 0; i < pgq_dict_count(row); i++)
		ld_names_add(&t->fields, pgq_dict_key(row, i));
	return true;
}

/* the row modes: keep_all makes updates inserts and drops deletes */
static bool
route_row(Dispatch *d, PartTable *t, char op, const PgqDict *row)
{
	if (strcmp(d->row_mode, "keep_all") == 0)
	{
		if (op == 'D')
			return true;
		return load_row(d, t, 'I', row);
	}
	if (strcmp(d->row_mode, "keep_latest") == 0 && op == 'U')
		return load_row(d, t, 'D', row) && load_row(d, t, 'I', row);
	return load_row(d, t, op, row);
}

static bool
dispatch_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	Dispatch   *d = h->private;
	LdStringList evkeys = {0};
	PgqDict    *row;
	PQExpBufferData dst;
	PartTable  *t;
	char		op;
	bool		ok = true;

	if (d->table_mode == 'i')
		return true;
	if (!ld_parse_row_event(h, ev, &op, &evkeys, &row))
	{
		ld_names_reset(&evkeys);
		return false;
	}
	if (d->fix_utf8)
		ld_fix_row_utf8(h, row);
	if (strchr(d->event_types, op) == NULL)
	{
		ld_names_reset(&evkeys);
		pgq_dict_free(row);
		return true;
	}
	if (!d->have_pkeys)
		filter_pkeys(d, &evkeys);
	ld_names_reset(&evkeys);
	row = filter_row(d, row);

	initPQExpBuffer(&dst);
	if (d->table_mode == 'p')
	{
		char	   *part_time = NULL;

		ok = split_format(h, ev, row, &dst, &part_time);
		if (ok && !ld_names_contains(&d->ignored, dst.data) &&
			find_table(d, dst.data) == NULL)
			ok = check_part(h, apply, dst.data, part_time);
		pg_free(part_time);
	}
	else
		appendPQExpBufferStr(&dst, h->dest_table);

	if (ok && !ld_names_contains(&d->ignored, dst.data))
	{
		t = find_table(d, dst.data);
		if (t == NULL)
			t = add_table(h, dst.data);
		ok = t != NULL && route_row(d, t, op, row);
	}
	termPQExpBuffer(&dst);
	pgq_dict_free(row);
	return ok;
}

static bool
flush_bulk(LdHandler *h, LdApply *apply, PartTable *t)
{
	Dispatch   *d = h->private;
	int			i;

	for (i = 0; i < ld_rowmap_size(t->rows); i++)
	{
		LdRowEntry *e = ld_rowmap_entry(t->rows, i);

		if (e == NULL)
			continue;
		if (e->op == 'I')
		{
			ld_append_copy_row(&d->load.ins, e->row, &t->fields);
			d->load.nins++;
		}
		else if (e->op == 'U')
		{
			ld_append_copy_row(&d->load.upd, e->row, &t->fields);
			d->load.nupd++;
		}
		else if (e->op == 'D')
		{
			ld_append_copy_row(&d->load.del, e->row, &t->fields);
			d->load.ndel++;
		}
	}
	d->load.table = t->name;
	d->load.cols = &t->fields;
	d->load.keys = &d->pkeys;
	d->load.method = d->method;
	d->load.analyze = d->analyze;
	/* partitions may hold older rows elsewhere: counts only for one table */
	d->load.check_counts = d->table_mode == 'd';
	return ld_bulk_run(apply, &d->load);
}

static bool
dispatch_finish(LdHandler *h, LdApply *apply)
{
	Dispatch   *d = h->private;
	bool		ok = true;
	int			i;

	for (i = 0; i < d->ntables && ok; i++)
	{
		PartTable  *t = &d->tables[i];

		if (d->bulk)
			ok = flush_bulk(h, apply, t);
		else if (t->sql.len > 0)
			ok = ld_apply_sql(apply, t->sql.data);
	}
	drop_tables(d);
	/* finish_batch is the last hook of a batch: nothing may stay queued */
	return ok && ld_apply_flush(apply);
}

/* the initial copy leaves out skipped fields and follows the field map */
static bool
dispatch_copy_columns(LdHandler *h, LdStringList *src_cols,
					  LdStringList *dst_cols)
{
	Dispatch   *d = h->private;
	LdStringList src = {0};
	LdStringList dst = {0};
	int			i;
	int			j;

	for (i = 0; i < src_cols->n; i++)
	{
		const char *col = src_cols->items[i];

		if (ld_names_contains(&d->skip_fields, col))
			continue;
		if (d->map_from.n == 0)
		{
			ld_names_add(&src, col);
			ld_names_add(&dst, col);
			continue;
		}
		for (j = 0; j < d->map_from.n; j++)
			if (strcmp(d->map_from.items[j], col) == 0)
			{
				ld_names_add(&src, col);
				ld_names_add(&dst, d->map_to.items[j]);
				break;
			}
	}
	ld_names_reset(src_cols);
	ld_names_reset(dst_cols);
	*src_cols = src;
	*dst_cols = dst;
	return true;
}

#define DISPATCH_DOC \
	"Splits a table's rows into time partitions, or loads one table.\n" \
	"\n" \
	"Needs urlencoded (logutriga) events.  Rows go to <parent>_YYYY,\n" \
	"_YYYY_MM, _YYYY_MM_DD or _YYYY_MM_DD_HH by period; a partition that\n" \
	"does not exist is created by part_template, else by part_func\n" \
	"(londiste.create_partition, then public.create_partition), else as a\n" \
	"copy of the parent.  All statements go out at the end of the batch.\n" \
	"\n" \
	"Arguments:\n" \
	"  table_mode=part|direct|ignore   partitions (default), the table\n" \
	"                       itself, or nothing\n" \
	"  part_mode=batch_time|event_time|date_field|current_time\n" \
	"                       the time that picks the partition (default\n" \
	"                       batch_time); date_field needs part_field\n" \
	"  part_field=COLUMN    the date field\n" \
	"  period=day|month|year|hour      the partition size (default day)\n" \
	"  part_name=TEMPLATE   the partition's name, from %(parent)s,\n" \
	"                       %(year)s, %(month)s, %(day)s, %(hour)s\n" \
	"  part_template=SQL    creates a partition, from %(dest)s, %(part)s,\n" \
	"                       %(parent)s, %(pkeys)s, %(schema_table)s,\n" \
	"                       %(part_field)s, %(part_time)s, %(period)s\n" \
	"  pre_part=SQL, post_part=SQL     run before and after, same keys\n" \
	"  part_func=FUNC       the partition function (6 arguments)\n" \
	"  retention_period=INTERVAL       drop older partitions after\n" \
	"                       creating one\n" \
	"  ignore_old_events=1  skip rows for partitions past retention\n" \
	"  row_mode=plain|keep_all|keep_latest   events as they are\n" \
	"                       (default), updates as inserts and no deletes,\n" \
	"                       or updates as delete and insert\n" \
	"  event_types=I,U,D    the event types applied (default all)\n" \
	"  load_mode=direct|bulk   statements (default) or COPY\n" \
	"  method=0|1|2|3       bulk: as the bulk handler's methods; 3 takes\n" \
	"                       inserts only\n" \
	"  analyze=1            bulk: analyze the temp table after loading\n" \
	"  fields=a,b:c         the columns kept, b renamed to c (default *)\n" \
	"  skip_fields=a,b      columns left out\n" \
	"  table=NAME           the destination table\n" \
	"  ignore_truncate=1    do not replay TRUNCATE\n" \
	"  encoding=utf8        replace invalid UTF-8 in the rows (logged)\n"

#define PRESET_DOC(preset) \
	"Dispatch with preset arguments: " preset ".\n" \
	"\n" \
	"Takes every argument of dispatch (see show-handlers dispatch); those\n" \
	"given win over the presets.\n"

#define DISPATCH_CLASS(cname, docstr) \
	{ \
		.name = cname, \
		.module = DISPATCH_MODULE, \
		.doc = docstr, \
		.args = dispatch_args, \
		.private_size = sizeof(Dispatch), \
		.init = dispatch_init, \
		.prepare_batch = dispatch_prepare, \
		.process_event = dispatch_event, \
		.finish_batch = dispatch_finish, \
		.copy_columns = dispatch_copy_columns, \
		.free_private = dispatch_free, \
	}

#define PART_VARIANT(load_prefix, load, period_name, period, mode_name, mode) \
	DISPATCH_CLASS(load_prefix period_name "_" mode_name, \
				   PRESET_DOC("table_mode=part, row_mode=keep_latest, load_mode=" \
							  load ", period=" period ", part_mode=" mode))

#define PART_VARIANTS_OF_PERIOD(load_prefix, load, period_name, period) \
	PART_VARIANT(load_prefix, load, period_name, period, "event", "event_time"), \
	PART_VARIANT(load_prefix, load, period_name, period, "batch", "batch_time"), \
	PART_VARIANT(load_prefix, load, period_name, period, "field", "date_field"), \
	PART_VARIANT(load_prefix, load, period_name, period, "time", "current_time")

#define PART_VARIANTS_OF_LOAD(load_prefix, load) \
	PART_VARIANTS_OF_PERIOD(load_prefix, load, "hourly", "hour"), \
	PART_VARIANTS_OF_PERIOD(load_prefix, load, "daily", "day"), \
	PART_VARIANTS_OF_PERIOD(load_prefix, load, "monthly", "month"), \
	PART_VARIANTS_OF_PERIOD(load_prefix, load, "yearly", "year")

/* in python3-londiste's registration order */
const LdHandlerClass ld_handler_dispatch_classes[] = {
	DISPATCH_CLASS("dispatch", DISPATCH_DOC),
	PART_VARIANTS_OF_LOAD("", "direct"),
	PART_VARIANTS_OF_LOAD("bulk_", "bulk"),
	DISPATCH_CLASS("bulk_direct",
				   PRESET_DOC("table_mode=direct, load_mode=bulk")),
	DISPATCH_CLASS("direct",
				   PRESET_DOC("table_mode=direct, load_mode=direct")),
};

const int	ld_handler_dispatch_count = lengthof(ld_handler_dispatch_classes);

#define PRESET(load, period, mode) \
	{"part", "keep_latest", load, period, mode}
#define PRESETS_OF_PERIOD(load, period) \
	PRESET(load, period, "event_time"), \
	PRESET(load, period, "batch_time"), \
	PRESET(load, period, "date_field"), \
	PRESET(load, period, "current_time")
#define PRESETS_OF_LOAD(load) \
	PRESETS_OF_PERIOD(load, "hour"), \
	PRESETS_OF_PERIOD(load, "day"), \
	PRESETS_OF_PERIOD(load, "month"), \
	PRESETS_OF_PERIOD(load, "year")

/* parallel to ld_handler_dispatch_classes */
static const DispatchPreset dispatch_presets[] = {
	{NULL, NULL, NULL, NULL, NULL},
	PRESETS_OF_LOAD("direct"),
	PRESETS_OF_LOAD("bulk"),
	{"direct", NULL, "bulk", NULL, NULL},
	{"direct", NULL, "direct", NULL, NULL},
};

StaticAssertDecl(lengthof(dispatch_presets) == lengthof(ld_handler_dispatch_classes),
				 "one preset per dispatch class");
