/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  shard (old name part): a node keeps only its shard of the table.
 *
 * On the root the trigger stores the row's hash in ev_extra3
 * ("hash=N"); other nodes apply, and copy downstream, only the events
 * whose (hash & shard_mask) = shard_nr, and the initial copy selects the
 * same rows.  shard_nr, shard_mask and shard_count come from the local
 * database (config shard_info_sql), the hash function from config
 * shard_hash_func.
 *
 * src/londiste3/handlers/shard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

#define DEFAULT_HASH_FUNC "partconf.get_hash_raw"
#define DEFAULT_INFO_SQL "select shard_nr, shard_mask, shard_count from partconf.conf"

static const char *const shard_args[] = {"key", "hash_key", "encoding",
"ignore_truncate", "disable_replay", NULL};

typedef struct Shard
{
	char	   *hash_expr;		/* hash function applied to the key column */
	char	   *qdest;
	bool		disable_replay;
	bool		fix_utf8;		/* encoding=utf8 */
	bool		loaded;			/* shard_nr and shard_mask known */
	int64_t		shard_nr;
	int64_t		shard_mask;
} Shard;

static bool
shard_init(LdHandler *h)
{
	Shard	   *sh = h->private;
	const char *key = NULL;
	const char *value = NULL;
	char	   *func;
	char	   *qfunc;
	char	   *qkey;

	if (!pgq_dict_get(h->args, "hash_key", &key))
		pgq_dict_get(h->args, "key", &key);
	if (key == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Specify hash key field as hash_key argument");
		return false;
	}
	if (pgq_dict_get(h->args, "ignore_truncate", &value) &&
		(value == NULL || (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)))
	{
		sky_log(SKY_LOG_ERROR, "Bad argument ignore_truncate value '%s'",
				value ? value : "");
		return false;
	}
	if (!ld_check_encoding(h, &sh->fix_utf8))
		return false;
	value = NULL;
	pgq_dict_get(h->args, "disable_replay", &value);
	sh->disable_replay = value != NULL &&
		(strcmp(value, "1") == 0 || strcmp(value, "true") == 0);
	func = sky_config_get(h->ld->script.cf, "shard_hash_func", DEFAULT_HASH_FUNC);
	qfunc = ld_sql_fqident(func);
	qkey = ld_sql_ident(key);
	sh->hash_expr = psprintf("%s(%s)", qfunc, qkey);
	sh->qdest = ld_sql_fqident(h->dest_table);
	pg_free(func);
	pg_free(qfunc);
	pg_free(qkey);
	return true;
}

static void
shard_free(LdHandler *h)
{
	Shard	   *sh = h->private;

	pg_free(sh->hash_expr);
	pg_free(sh->qdest);
}

static bool
shard_needs_table(const LdHandler *h)
{
	return !((Shard *) h->private)->disable_replay;
}

static void
shard_trigger_args(const LdHandler *h, LdStringList *args)
{
	Shard	   *sh = h->private;
	char	   *arg = psprintf("ev_extra3='hash='||%s", sh->hash_expr);

	ld_names_add(args, arg);
	pg_free(arg);
}

/* the node's shard, checked: mask + 1 = count, a power of two */
static bool
shard_store_info(LdHandler *h, PGresult *res)
{
	Shard	   *sh = h->private;
	int64_t		nr;
	int64_t		mask;
	int64_t		count;

	if (PQntuples(res) != 1 || PQnfields(res) < 3 ||
		PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
		PQgetisnull(res, 0, 2))
	{
		sky_log(SKY_LOG_ERROR, "Error loading shard info");
		return false;
	}
	nr = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	mask = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	count = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	if ((count & mask) != 0 || mask + 1 != count)
	{
		sky_log(SKY_LOG_ERROR, "Invalid shard info");
		return false;
	}
	if (nr < 0 || nr >= count)
	{
		sky_log(SKY_LOG_ERROR, "Invalid shard nr");
		return false;
	}
	sh->shard_nr = nr;
	sh->shard_mask = mask;
	sh->loaded = true;
	return true;
}

static char *
shard_info_sql(LdHandler *h)
{
	return sky_config_get(h->ld->script.cf, "shard_info_sql", DEFAULT_INFO_SQL);
}

static bool
shard_prepare(LdHandler *h, LdApply *apply)
{
	Shard	   *sh = h->private;
	char	   *sql;
	PGresult   *res;
	bool		ok;

	if (sh->loaded)
		return true;
	sql = shard_info_sql(h);
	res = ld_direct_query(apply, sql, 0, NULL);
	pg_free(sql);
	if (res == NULL)
		return false;
	ok = shard_store_info(h, res);
	PQclear(res);
	return ok;
}

/* 1: the event is of this shard, 0: of another, -1: no hash (logged) */
static int
shard_event_is_local(LdHandler *h, const PgqEvent *ev)
{
	Shard	   *sh = h->private;
	PgqDict    *meta;
	const char *hash = NULL;
	int			result;

	if (ev->extra3 == NULL || (meta = pgq_urldecode(ev->extra3)) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "handlers.shard: extra3 not filled on %s",
				h->table_name);
		return -1;
	}
	if (!pgq_dict_get(meta, "hash", &hash) || hash == NULL)
	{
		sky_log(SKY_LOG_ERROR, "handlers.shard: no hash in extra3 on %s",
				h->table_name);
		pgq_dict_free(meta);
		return -1;
	}
	result = (strtoll(hash, NULL, 10) & sh->shard_mask) == sh->shard_nr;
	pgq_dict_free(meta);
	return result;
}

static bool
shard_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	Shard	   *sh = h->private;
	PQExpBufferData sql;
	bool		ok;
	int			local;

	if (sh->disable_replay)
		return true;
	local = shard_event_is_local(h, ev);
	if (local <= 0)
		return local == 0;
	initPQExpBuffer(&sql);
	ok = ld_sql_row_event(h, ev, sh->qdest, sh->fix_utf8, &sql) &&
		ld_apply_sql(apply, sql.data);
	termPQExpBuffer(&sql);
	return ok;
}

/*
 * The rows of this shard, for the initial copy and compare; the shard
 * info is read again from the local database.  Without it no condition
 * is safe (all rows would be copied): the process stops, as Python's
 * exception ends it.
 */
static char *
shard_copy_condition(LdHandler *h)
{
	Shard	   *sh = h->private;
	PGconn	   *local = ld_local(h->ld);
	char	   *sql;
	PGresult   *res;

	sql = shard_info_sql(h);
	res = PQexec(local, sql);
	pg_free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		sky_fatal("%s: cannot read the shard info: %s", h->table_name,
				  PQerrorMessage(local));
	if (!shard_store_info(h, res))
		sky_fatal("%s: no copy condition without the shard info", h->table_name);
	PQclear(res);
	return psprintf("(%s & %lld) = %lld", sh->hash_expr,
					(long long) sh->shard_mask, (long long) sh->shard_nr);
}

/* downstream gets this shard's events only; other events pass */
static const PgqEvent *
shard_copy_event(LdHandler *h, const PgqEvent *ev)
{
	if (ev->type != NULL && strcmp(ev->type, "R") == 0)
		return ev;
	return shard_event_is_local(h, ev) == 0 ? NULL : ev;
}

static bool
shard_copy_columns(LdHandler *h, LdStringList *src_cols, LdStringList *dst_cols)
{
	return !((Shard *) h->private)->disable_replay;
}

#define SHARD_DOC \
	"Keeps one shard of the table: rows whose key hash is this node's.\n" \
	"\n" \
	"On the root the trigger stores hash=<shard_hash_func(key)> in\n" \
	"ev_extra3.  Other nodes apply and pass downstream only the events\n" \
	"with (hash & shard_mask) = shard_nr, and copy only those rows.  The\n" \
	"node's shard_nr, shard_mask and shard_count are read with\n" \
	"shard_info_sql (default: from partconf.conf); the hash function is\n" \
	"shard_hash_func (default partconf.get_hash_raw).\n" \
	"\n" \
	"Arguments:\n" \
	"  key=COLUMN        the column hashed\n" \
	"  hash_key=COLUMN   the same, wins over key\n" \
	"  encoding=utf8     replace invalid UTF-8 in the rows (logged)\n" \
	"  ignore_truncate=1 do not replay TRUNCATE\n" \
	"  disable_replay=1  apply nothing and copy nothing here (events\n" \
	"                    are still passed on); the table need not exist\n"

const LdHandlerClass ld_handler_shard = {
	.name = "shard",
	.module = "londiste.handlers.shard",
	.doc = SHARD_DOC,
	.args = shard_args,
	.private_size = sizeof(Shard),
	.init = shard_init,
	.needs_table = shard_needs_table,
	.add_trigger_args = shard_trigger_args,
	.prepare_batch = shard_prepare,
	.process_event = shard_event,
	.copy_condition = shard_copy_condition,
	.copy_event = shard_copy_event,
	.copy_columns = shard_copy_columns,
	.free_private = shard_free,
};

const LdHandlerClass ld_handler_part = {
	.name = "part",
	.module = "londiste.handlers.shard",
	.doc = "Old name of the shard handler, kept for existing setups.\n"
	"\n" SHARD_DOC,
	.args = shard_args,
	.private_size = sizeof(Shard),
	.init = shard_init,
	.needs_table = shard_needs_table,
	.add_trigger_args = shard_trigger_args,
	.prepare_batch = shard_prepare,
	.process_event = shard_event,
	.copy_condition = shard_copy_condition,
	.copy_event = shard_copy_event,
	.copy_columns = shard_copy_columns,
	.free_private = shard_free,
};
