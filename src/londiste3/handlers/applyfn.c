/*-------------------------------------------------------------------------
 *
 * applyfn.c
 *	  applyfn: every event of the table becomes a call of a database
 *	  function; multimaster: the same with merge_on_time, for a table fed
 *	  by several root queues.
 *
 * src/londiste3/handlers/applyfn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

static const char *const applyfn_args[] = {"func_name", "func_conf", NULL};

typedef struct ApplyFn
{
	char	   *qfunc;			/* quoted function name */
	char	   *conf;			/* its first argument */
	char		tick[32];		/* the batch's tick id, "" if unknown */
} ApplyFn;

static bool
applyfn_setup(LdHandler *h, const char *func, const char *conf)
{
	ApplyFn    *af = h->private;

	if (func == NULL || func[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "handler %s needs func_name", h->cls->name);
		return false;
	}
	af->qfunc = ld_sql_fqident(func);
	af->conf = pg_strdup(conf ? conf : "");
	return true;
}

static bool
applyfn_init(LdHandler *h)
{
	const char *func = NULL;
	const char *conf = NULL;

	pgq_dict_get(h->args, "func_name", &func);
	pgq_dict_get(h->args, "func_conf", &conf);
	return applyfn_setup(h, func, conf);
}

/*
 * multimaster: func_name defaults to merge_on_time, and func_conf to the
 * other arguments, urlencoded.
 */
static bool
multimaster_init(LdHandler *h)
{
	const char *func = NULL;
	const char *conf = NULL;
	bool		ok;

	if (!pgq_dict_get(h->args, "func_name", &func))
		func = "merge_on_time";
	if (!pgq_dict_get(h->args, "func_conf", &conf))
	{
		PgqDict    *rest = pgq_dict_new();
		char	   *encoded;
		int			i;

		for (i = 0; i < pgq_dict_count(h->args); i++)
		{
			const char *key = pgq_dict_key(h->args, i);

			if (strcmp(key, "func_name") != 0)
				pgq_dict_set(rest, key, pgq_dict_value(h->args, i));
		}
		encoded = pgq_urlencode(rest);
		ok = applyfn_setup(h, func, encoded);
		pgq_free(encoded);
		pgq_dict_free(rest);
		return ok;
	}
	return applyfn_setup(h, func, conf);
}

static void
applyfn_free(LdHandler *h)
{
	ApplyFn    *af = h->private;

	pg_free(af->qfunc);
	pg_free(af->conf);
}

static bool
applyfn_prepare(LdHandler *h, LdApply *apply)
{
	ApplyFn    *af = h->private;

	af->tick[0] = '\0';
	if (h->batch != NULL)
		snprintf(af->tick, sizeof(af->tick), "%lld",
				 (long long) h->batch->tick_id);
	return true;
}

static bool
applyfn_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	ApplyFn    *af = h->private;
	char		id[32];
	char		txid[32];
	char		retry[16];
	const char *args[12];
	PQExpBufferData sql;
	bool		ok;
	int			i;

	snprintf(id, sizeof(id), "%lld", (long long) ev->id);
	snprintf(txid, sizeof(txid), "%lld", (long long) ev->txid);
	snprintf(retry, sizeof(retry), "%d", ev->retry);
	args[0] = af->conf;
	args[1] = af->tick[0] ? af->tick : NULL;
	args[2] = id;
	args[3] = ev->time;
	args[4] = txid;
	args[5] = ev->retry < 0 ? NULL : retry;
	args[6] = ev->type;
	args[7] = ev->data;
	args[8] = ev->extra1;
	args[9] = ev->extra2;
	args[10] = ev->extra3;
	args[11] = ev->extra4;
	initPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "select %s(", af->qfunc);
	for (i = 0; i < lengthof(args); i++)
	{
		if (i > 0)
			appendPQExpBufferStr(&sql, ", ");
		ld_append_literal(&sql, args[i]);
	}
	appendPQExpBufferStr(&sql, ");");
	sky_log(SKY_LOG_DEBUG, "applyfn.sql: %s", sql.data);
	ok = ld_apply_sql(apply, sql.data);
	termPQExpBuffer(&sql);
	return ok;
}

const LdHandlerClass ld_handler_applyfn = {
	.name = "applyfn",
	.module = "londiste.handlers.applyfn",
	.doc = "Applies each event by calling a database function.\n"
	"\n"
	"The function gets (func_conf, tick_id, ev_id, ev_time, ev_txid,\n"
	"ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3,\n"
	"ev_extra4), all as text literals, in batch order.\n"
	"\n"
	"Arguments:\n"
	"  func_name=NAME  the function, optionally schema-qualified (required)\n"
	"  func_conf=TEXT  its first argument (default empty)\n",
	.args = applyfn_args,
	.private_size = sizeof(ApplyFn),
	.init = applyfn_init,
	.prepare_batch = applyfn_prepare,
	.process_event = applyfn_event,
	.free_private = applyfn_free,
};

/* the table's trigger must not stop merging events from several roots */
static void
multimaster_trigger_args(const LdHandler *h, LdStringList *args)
{
	ld_names_add(args, "no_merge");
}

const LdHandlerClass ld_handler_multimaster = {
	.name = "multimaster",
	.module = "londiste.handlers.multimaster",
	.doc = "Replica fed by several master nodes: conflicts merged by time.\n"
	"\n"
	"Each event is applied by calling merge_on_time() (or func_name),\n"
	"which must exist in the database, as the applyfn handler does; its\n"
	"configuration argument is every other handler argument, urlencoded.\n"
	"Only one master can do the initial copy: add the table from the\n"
	"others with --expect-sync.  The trigger gets no_merge.\n",
	.args = NULL,
	.private_size = sizeof(ApplyFn),
	.init = multimaster_init,
	.add_trigger_args = multimaster_trigger_args,
	.prepare_batch = applyfn_prepare,
	.process_event = applyfn_event,
	.free_private = applyfn_free,
};
