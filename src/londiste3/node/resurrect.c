/*-------------------------------------------------------------------------
 *
 * resurrect.c
 *	  londiste3 command resurrect: bring an old root (or branch) that was
 *	  taken over as dead back into the cascade.
 *
 * After "takeover OLD --dead-root" the new root holds the consumer
 * OLD.gravestone at the tick where it took over.  The old node may have
 * events after that tick that nobody got: they are written to
 * ./resurrect-lost-events.json (python3-pgq's format) and deleted from
 * its queue, with the ticks after the gravestone's; then the node is
 * demoted to a paused branch subscribed at the gravestone's tick.  The
 * operator checks the dump and resumes the worker.
 *
 * Two python3-pgq 3.11 defects are not copied: dropping the old
 * consumers sent "pgq.unregister_consumer(...)" without "select", and a
 * dump with no batch at all failed on the missing end tick.
 *
 * src/londiste3/node/resurrect.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <sys/stat.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/node/cascade.h"
#include "pqexpbuffer.h"

#define RESURRECT_DUMP_FILE "resurrect-lost-events.json"

/* per-table counts of the dumped events, as londiste reports them */
typedef struct TableStats
{
	char	   *table;
	long		inserts;
	long		updates;
	long		deletes;
	bool		can_rollback;
} TableStats;

typedef struct LostEvents
{
	FILE	   *dump;
	long		dumped;
	bool		had_batches;	/* events after the gravestone were found */
	long		deleted;
	int			ntables;
	TableStats *tables;
	int			ntruncated;
	char	  **truncated;
} LostEvents;

/* A JSON string as Python's json.dumps writes it (ASCII only). */
static void
append_json_string(PQExpBuffer buf, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	appendPQExpBufferChar(buf, '"');
	while (*p)
	{
		unsigned int cp;
		int			len;

		if (*p < 0x80)
		{
			switch (*p)
			{
				case '"':
					appendPQExpBufferStr(buf, "\\\"");
					break;
				case '\\':
					appendPQExpBufferStr(buf, "\\\\");
					break;
				case '\n':
					appendPQExpBufferStr(buf, "\\n");
					break;
				case '\r':
					appendPQExpBufferStr(buf, "\\r");
					break;
				case '\t':
					appendPQExpBufferStr(buf, "\\t");
					break;
				case '\b':
					appendPQExpBufferStr(buf, "\\b");
					break;
				case '\f':
					appendPQExpBufferStr(buf, "\\f");
					break;
				default:
					if (*p < 0x20)
						appendPQExpBuffer(buf, "\\u%04x", *p);
					else
						appendPQExpBufferChar(buf, *p);
			}
			p++;
			continue;
		}
		if ((*p & 0xE0) == 0xC0)
		{
			cp = *p & 0x1F;
			len = 2;
		}
		else if ((*p & 0xF0) == 0xE0)
		{
			cp = *p & 0x0F;
			len = 3;
		}
		else if ((*p & 0xF8) == 0xF0)
		{
			cp = *p & 0x07;
			len = 4;
		}
		else
		{
			/* not UTF-8: keep the byte's value */
			appendPQExpBuffer(buf, "\\u%04x", *p++);
			continue;
		}
		{
			int			i;

			for (i = 1; i < len; i++)
			{
				if ((p[i] & 0xC0) != 0x80)
					break;
				cp = (cp << 6) | (p[i] & 0x3F);
			}
			if (i < len)
			{
				appendPQExpBuffer(buf, "\\u%04x", *p++);
				continue;
			}
		}
		if (cp >= 0x10000)
		{
			cp -= 0x10000;
			appendPQExpBuffer(buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
							  0xDC00 + (cp & 0x3FF));
		}
		else
			appendPQExpBuffer(buf, "\\u%04x", cp);
		p += len;
	}
	appendPQExpBufferChar(buf, '"');
}

static void
append_json_field(PQExpBuffer buf, PGresult *res, int row, const char *column,
				  bool number)
{
	int			col = PQfnumber(res, column);

	appendPQExpBuffer(buf, "%s\"%s\": ", buf->len > 1 ? ", " : "", column);
	if (PQgetisnull(res, row, col))
		appendPQExpBufferStr(buf, "null");
	else if (number)
		appendPQExpBufferStr(buf, PQgetvalue(res, row, col));
	else
		append_json_string(buf, PQgetvalue(res, row, col));
}

static TableStats *
table_stats(LostEvents *lost, const char *table)
{
	int			i;

	for (i = 0; i < lost->ntables; i++)
		if (strcmp(lost->tables[i].table, table) == 0)
			return &lost->tables[i];
	lost->tables = pg_realloc(lost->tables, sizeof(TableStats) * (lost->ntables + 1));
	memset(&lost->tables[lost->ntables], 0, sizeof(TableStats));
	lost->tables[lost->ntables].table = pg_strdup(table);
	lost->tables[lost->ntables].can_rollback = true;
	return &lost->tables[lost->ntables++];
}

/*
 * One event into the dump file, and into the counts: londiste's row
 * events (I/U/D, with the old row in ev_extra3 when it was logged)
 * and truncates.
 */
static bool
dump_event(LostEvents *lost, PGresult *ev, int row, const char *tick_id,
		   const char *prev_tick_id)
{
	PQExpBufferData buf;
	const char *type = PQgetvalue(ev, row, PQfnumber(ev, "ev_type"));
	const char *table = PQgetvalue(ev, row, PQfnumber(ev, "ev_extra1"));
	bool		has_old_row = !PQgetisnull(ev, row, PQfnumber(ev, "ev_extra3")) &&
		PQgetvalue(ev, row, PQfnumber(ev, "ev_extra3"))[0] != '\0';

	if (lost->dump == NULL)
	{
		lost->dump = fopen(RESURRECT_DUMP_FILE, "w");
		if (lost->dump == NULL)
		{
			sky_log(SKY_LOG_ERROR, "could not create %s: %m", RESURRECT_DUMP_FILE);
			return false;
		}
		fputs("[", lost->dump);
	}
	else
		fputs(",", lost->dump);
	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '{');
	append_json_field(&buf, ev, row, "ev_id", true);
	append_json_field(&buf, ev, row, "ev_type", false);
	append_json_field(&buf, ev, row, "ev_data", false);
	append_json_field(&buf, ev, row, "ev_extra1", false);
	append_json_field(&buf, ev, row, "ev_extra2", false);
	append_json_field(&buf, ev, row, "ev_extra3", false);
	append_json_field(&buf, ev, row, "ev_extra4", false);
	append_json_field(&buf, ev, row, "ev_time", false);
	append_json_field(&buf, ev, row, "ev_txid", true);
	append_json_field(&buf, ev, row, "ev_retry", true);
	appendPQExpBuffer(&buf, ", \"tick_id\": %s, \"prev_tick_id\": %s}",
					  tick_id, prev_tick_id);
	fprintf(lost->dump, "\n%s", buf.data);
	termPQExpBuffer(&buf);
	lost->dumped++;

	if (strcmp(type, "TRUNCATE") == 0)
	{
		int			i;

		for (i = 0; i < lost->ntruncated; i++)
			if (strcmp(lost->truncated[i], table) == 0)
				return true;
		lost->truncated = pg_realloc(lost->truncated,
									 sizeof(char *) * (lost->ntruncated + 1));
		lost->truncated[lost->ntruncated++] = pg_strdup(table);
	}
	else if (strchr("IUD", type[0]) != NULL && type[0] != '\0' &&
			 (type[1] == '\0' || type[1] == ':'))
	{
		TableStats *ts = table_stats(lost, table);

		if (type[0] == 'I')
			ts->inserts++;
		else if (type[0] == 'U')
		{
			ts->updates++;
			if (!has_old_row)
				ts->can_rollback = false;
		}
		else
		{
			ts->deletes++;
			if (!has_old_row && type[1] == '\0')
				ts->can_rollback = false;
		}
	}
	return true;
}

/* xmin:xmax:xip,... */
typedef struct Snapshot
{
	unsigned long long xmin;
	unsigned long long xmax;
	int			nxip;
	unsigned long long *xip;
} Snapshot;

static Snapshot
parse_snapshot(const char *text)
{
	Snapshot	s = {0, 0, 0, NULL};
	char	   *end;

	s.xmin = strtoull(text, &end, 10);
	s.xmax = strtoull(end + 1, &end, 10);
	s.xip = pg_malloc0(sizeof(unsigned long long) * (strlen(text) + 1));
	while (*end == ':' || *end == ',')
	{
		char	   *next;
		unsigned long long x = strtoull(end + 1, &next, 10);

		if (next == end + 1)
			break;
		s.xip[s.nxip++] = x;
		end = next;
	}
	return s;
}

static bool
snapshot_contains(const Snapshot *s, unsigned long long txid)
{
	int			i;

	if (txid < s->xmin)
		return true;
	if (txid >= s->xmax)
		return false;
	for (i = 0; i < s->nxip; i++)
		if (s->xip[i] == txid)
			return false;
	return true;
}

static bool
run(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult   *res = sky_db_exec(conn, sql, n, params);

	PQclear(res);
	return res != NULL;
}

/*
 * Read the events after the gravestone's tick through a temporary
 * consumer, dump them, then delete them and their ticks from the queue.
 * The deletion takes exactly the events of the dumped batches: those
 * invisible in the first tick's snapshot and visible in the last one's.
 */
static bool
process_lost_events(Londiste *ld, PGconn *db, const char *this_node,
					const char *failover_tick, LostEvents *lost)
{
	const char *q = ld->queue_name;
	char	   *cons = psprintf("%s.dumper", this_node);
	char	   *final_tick = NULL;
	PGresult   *res;
	Snapshot	s1;
	Snapshot	s2;
	char	   *snap1;
	char	   *snap2;
	char	   *schema;
	char	   *table;
	int			ntables;
	int			i;
	PQExpBufferData where1;
	char	   *where2;

	sky_log(SKY_LOG_INFO, "Dumping lost events");
	{
		const char *p[3] = {q, cons, failover_tick};

		if (!run(db, "select pgq.register_consumer_at($1, $2, $3)", 3, p))
			return false;
	}
	for (;;)
	{
		const char *p[2] = {q, cons};
		PGresult   *batch = sky_db_exec(db, "select * from pgq.next_batch_info($1, $2)", 2, p);
		const char *bp[1];
		char	   *cur;
		char	   *prev;
		int			row;

		if (batch == NULL)
			return false;
		if (PQgetisnull(batch, 0, PQfnumber(batch, "batch_id")))
		{
			PQclear(batch);
			break;
		}
		bp[0] = PQgetvalue(batch, 0, PQfnumber(batch, "batch_id"));
		cur = pg_strdup(PQgetvalue(batch, 0, PQfnumber(batch, "cur_tick_id")));
		prev = pg_strdup(PQgetvalue(batch, 0, PQfnumber(batch, "prev_tick_id")));
		final_tick = cur;
		res = sky_db_exec(db, "select ev_id, ev_type, ev_data, ev_extra1, ev_extra2,"
						  " ev_extra3, ev_extra4, to_json(ev_time) #>> '{}' as ev_time,"
						  " ev_txid, ev_retry from pgq.get_batch_events($1)",
						  1, bp);
		if (res == NULL)
			return false;
		for (row = 0; row < PQntuples(res); row++)
			if (!dump_event(lost, res, row, cur, prev))
				return false;
		PQclear(res);
		if (!run(db, "select pgq.finish_batch($1)", 1, bp))
			return false;
		PQclear(batch);
	}
	if (lost->dump != NULL)
	{
		fputs("\n]\n", lost->dump);
		if (fclose(lost->dump) != 0)
		{
			sky_log(SKY_LOG_ERROR, "could not write %s: %m", RESURRECT_DUMP_FILE);
			return false;
		}
		lost->dump = NULL;
	}
	sky_log(SKY_LOG_INFO, "%ld events dumped", lost->dumped);
	{
		const char *p[2] = {q, cons};

		if (!run(db, "select pgq.unregister_consumer($1, $2)", 2, p))
			return false;
	}
	if (final_tick == NULL || strcmp(final_tick, failover_tick) == 0)
	{
		sky_log(SKY_LOG_INFO, "No batches found");
		return true;
	}
	lost->had_batches = true;

	{
		const char *p[2] = {failover_tick, final_tick};

		res = sky_db_exec(db, "select t1.tick_snapshot as s1, t2.tick_snapshot as s2"
						  " from pgq.tick t1, pgq.tick t2"
						  " where t1.tick_id = $1 and t2.tick_id = $2", 2, p);
		if (res == NULL)
			return false;
		if (PQntuples(res) != 1)
		{
			sky_log(SKY_LOG_ERROR, "ticks %s and %s not found", failover_tick, final_tick);
			return false;
		}
		snap1 = pg_strdup(PQgetvalue(res, 0, 0));
		snap2 = pg_strdup(PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	s1 = parse_snapshot(snap1);
	s2 = parse_snapshot(snap2);
	initPQExpBuffer(&where1);
	for (i = 0; i < s1.nxip; i++)
		if (snapshot_contains(&s2, s1.xip[i]))
			appendPQExpBuffer(&where1, "%s%llu", where1.len ? "," : "ev_txid in (", s1.xip[i]);
	if (where1.len)
		appendPQExpBufferChar(&where1, ')');
	where2 = psprintf("ev_txid >= %llu AND ev_txid <= %llu"
					  " and not txid_visible_in_snapshot(ev_txid, '%s')"
					  " and     txid_visible_in_snapshot(ev_txid, '%s')",
					  s1.xmax, s2.xmax, snap1, snap2);

	{
		const char *p[1] = {q};

		res = sky_db_exec(db, "select queue_ntables, queue_data_pfx from pgq.queue where queue_name = $1",
						  1, p);
		if (res == NULL || PQntuples(res) != 1)
			return false;
		ntables = atoi(PQgetvalue(res, 0, 0));
		schema = pg_strdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		table = strchr(schema, '.');
		if (table == NULL)
		{
			sky_log(SKY_LOG_ERROR, "unexpected queue table prefix %s", schema);
			return false;
		}
		*table++ = '\0';
	}

	sky_log(SKY_LOG_INFO, "Deleting lost events");
	if (!run(db, "begin", 0, NULL))
		return false;
	for (i = 0; i < ntables; i++)
	{
		char	   *part = psprintf("%s_%d", table, i);
		char	   *qs = PQescapeIdentifier(db, schema, strlen(schema));
		char	   *qt = PQescapeIdentifier(db, part, strlen(part));
		long		count = 0;
		int			w;

		for (w = 0; w < 2; w++)
		{
			char	   *sql;

			if (w == 0 && where1.len == 0)
				continue;
			sql = psprintf("delete from %s.%s where %s", qs, qt,
						   w == 0 ? where1.data : where2);
			sky_log(SKY_LOG_DEBUG, "%s", sql);
			res = sky_db_exec(db, sql, 0, NULL);
			if (res == NULL)
			{
				run(db, "rollback", 0, NULL);
				return false;
			}
			count += atol(PQcmdTuples(res));
			PQclear(res);
		}
		sky_log(SKY_LOG_DEBUG, "%ld events deleted", count);
		lost->deleted += count;
		PQfreemem(qs);
		PQfreemem(qt);
	}
	sky_log(SKY_LOG_INFO, "%ld events deleted", lost->deleted);
	{
		const char *p[3] = {q, failover_tick, final_tick};

		res = sky_db_exec(db, "delete from pgq.tick t using pgq.queue q"
						  " where q.queue_name = $1 and t.tick_queue = q.queue_id"
						  " and t.tick_id > $2 and t.tick_id <= $3", 3, p);
		if (res == NULL)
		{
			run(db, "rollback", 0, NULL);
			return false;
		}
		sky_log(SKY_LOG_INFO, "%s ticks deleted", PQcmdTuples(res));
		PQclear(res);
	}
	return run(db, "commit", 0, NULL);
}

/*
 * The member holding this node's gravestone, the tick there, and whether
 * a new root exists.  Subscribers first, then every member.
 */
static bool
find_gravestone(LdCascade *c, char **subs, int nsub, char **prov_node,
				char **failover_tick)
{
	const char *this_node = c->local->name;
	char	   *cons = psprintf("%s.gravestone", this_node);
	char	   *root_node = NULL;
	int			total = nsub + c->nmembers;
	char	  **done = pg_malloc0(sizeof(char *) * (total + 1));
	int			ndone = 0;
	int			i;

	*prov_node = NULL;
	*failover_tick = NULL;
	done[ndone++] = (char *) this_node;
	for (i = 0; i < total && !(root_node && *prov_node); i++)
	{
		const char *name = i < nsub ? subs[i] : c->members[i - nsub].name;
		const char *p2[2] = {c->ld->queue_name, cons};
		const char *p1[1] = {c->ld->queue_name};
		PGconn	   *conn;
		PGresult   *cres;
		PGresult   *nres;
		int			j;
		bool		seen = false;

		for (j = 0; j < ndone; j++)
			seen = seen || strcmp(done[j], name) == 0;
		if (seen)
			continue;
		done[ndone++] = (char *) name;
		if (!ld_cascade_alive(c, name))
		{
			sky_log(SKY_LOG_INFO, "Node %s is dead, skipping", name);
			continue;
		}
		sky_log(SKY_LOG_INFO, "Looking on node %s", name);
		conn = ld_cascade_conn(c, name);
		cres = conn ? sky_db_exec(conn, "select * from pgq.get_consumer_info($1, $2)", 2, p2) : NULL;
		nres = cres ? sky_db_exec(conn, "select * from pgq_node.get_node_info($1)", 1, p1) : NULL;
		if (nres == NULL)
		{
			sky_log(SKY_LOG_WARNING, "failed to check node %s", name);
			PQclear(cres);
			ld_cascade_close(c, name);
			continue;
		}
		if (PQntuples(cres) == 1)
		{
			if (*prov_node != NULL)
			{
				sky_log(SKY_LOG_ERROR, "Unexpected situation: there are two gravestones"
						" - on nodes %s and %s", *prov_node, name);
				return false;
			}
			*prov_node = pg_strdup(name);
			*failover_tick = pg_strdup(PQgetvalue(cres, 0, PQfnumber(cres, "last_tick")));
			sky_log(SKY_LOG_INFO, "Found gravestone on node: %s", name);
		}
		if (!PQgetisnull(nres, 0, PQfnumber(nres, "node_type")) &&
			strcmp(PQgetvalue(nres, 0, PQfnumber(nres, "node_type")), "root") == 0)
		{
			sky_log(SKY_LOG_INFO, "Found new root node: %s", name);
			root_node = pg_strdup(name);
		}
		PQclear(cres);
		PQclear(nres);
		ld_cascade_close(c, name);
	}
	if (root_node == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Cannot find new root node");
		return false;
	}
	if (*prov_node == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Cannot find failover position (%s)", cons);
		return false;
	}
	return true;
}

static void
log_statistics(const LostEvents *lost)
{
	int			i;

	sky_log(SKY_LOG_INFO, "** Statistics **");
	/* the keys sorted: deleted_count, dumped_count, table: ..., truncated_tables */
	sky_log(SKY_LOG_INFO, "  deleted_count: %ld", lost->deleted);
	sky_log(SKY_LOG_INFO, "  dumped_count: %ld", lost->dumped);
	for (i = 0; i < lost->ntables; i++)
	{
		const TableStats *t = &lost->tables[i];

		sky_log(SKY_LOG_INFO, "  table: %s: [%ld, %ld, %ld, '%s']", t->table,
				t->inserts, t->updates, t->deletes,
				t->can_rollback ? "can rollback" : "cannot rollback");
	}
	if (lost->ntruncated > 0)
	{
		PQExpBufferData buf;

		initPQExpBuffer(&buf);
		for (i = 0; i < lost->ntruncated; i++)
			appendPQExpBuffer(&buf, "%s'%s'", i ? ", " : "", lost->truncated[i]);
		sky_log(SKY_LOG_INFO, "  truncated_tables: [%s]", buf.data);
		termPQExpBuffer(&buf);
	}
}

static int
table_stats_compare(const void *a, const void *b)
{
	return strcmp(((const TableStats *) a)->table, ((const TableStats *) b)->table);
}

int
ld_cmd_resurrect(Londiste *ld)
{
	const char *q = ld->queue_name;
	LdCascade  *c = ld_cascade_load(ld);
	PGconn	   *db = ld_local(ld);
	const char *this_node;
	struct stat st;
	char	  **subs;
	int			nsub;
	char	   *prov_node;
	char	   *failover_tick;
	PGresult   *state;
	char	   *worker;
	bool		paused;
	PGresult   *res;
	LostEvents	lost;
	char	   *global_wm;
	int			i;

	if (c == NULL)
		return LD_EXIT_ERROR;
	this_node = c->local->name;
	if (strcmp(c->local->type, "leaf") == 0)
	{
		sky_log(SKY_LOG_INFO, "Current node is leaf, nothing to do");
		return LD_EXIT_OK;
	}
	if (lstat(RESURRECT_DUMP_FILE, &st) == 0)
	{
		sky_log(SKY_LOG_ERROR, "Dump file exists, cannot perform resurrection: %s",
				RESURRECT_DUMP_FILE);
		return LD_EXIT_ERROR;
	}

	sky_log(SKY_LOG_INFO, "** Searching for gravestone **");
	{
		const char *p[1] = {q};

		res = sky_db_exec(db, "select * from pgq_node.get_subscriber_info($1)", 1, p);
		if (res == NULL)
			return LD_EXIT_ERROR;
		nsub = PQntuples(res);
		subs = pg_malloc0(sizeof(char *) * (nsub + 1));
		for (i = 0; i < nsub; i++)
			subs[i] = pg_strdup(PQgetvalue(res, i, PQfnumber(res, "node_name")));
		PQclear(res);
	}
	if (!find_gravestone(c, subs, nsub, &prov_node, &failover_tick))
		return LD_EXIT_ERROR;

	{
		const char *p[1] = {q};

		if (!ld_exec_cmd(db, "select * from pgq_node.get_worker_state($1)", 1, p, &state))
			return LD_EXIT_ERROR;
		worker = pg_strdup(PQgetvalue(state, 0, PQfnumber(state, "worker_name")));
		paused = PQgetvalue(state, 0, PQfnumber(state, "paused"))[0] == 't';
		PQclear(state);
	}

	sky_log(SKY_LOG_INFO, "** Demote & pause local node **");
	if (strcmp(c->local->type, "root") == 0)
	{
		const char *p1[3] = {q, "1", prov_node};
		const char *p2[3] = {q, "2", prov_node};
		const char *p3[3] = {q, "3", prov_node};
		const char *pp[2] = {q, worker};

		sky_log(SKY_LOG_INFO, "Node %s is root, demoting", this_node);
		if (!ld_exec_cmd(db, "select * from pgq_node.demote_root($1, $2, $3)", 3, p1, NULL) ||
			!ld_exec_cmd(db, "select * from pgq_node.demote_root($1, $2, $3)", 3, p2, NULL))
			return LD_EXIT_ERROR;
		/* the type change and the pause in one transaction */
		if (!run(db, "begin", 0, NULL))
			return LD_EXIT_ERROR;
		if (!ld_exec_cmd(db, "select * from pgq_node.demote_root($1, $2, $3)", 3, p3, NULL) ||
			!ld_exec_cmd(db, "select * from pgq_node.set_consumer_paused($1, $2, true)", 2, pp, NULL) ||
			!run(db, "commit", 0, NULL))
		{
			run(db, "rollback", 0, NULL);
			return LD_EXIT_ERROR;
		}
	}
	else if (!paused)
	{
		const char *pp[2] = {q, worker};

		/* no waiting for the worker: it may be dead */
		sky_log(SKY_LOG_INFO, "Node %s is branch, pausing worker: %s", this_node, worker);
		if (!ld_exec_cmd(db, "select * from pgq_node.set_consumer_paused($1, $2, true)", 2, pp, NULL))
			return LD_EXIT_ERROR;
	}
	else
		sky_log(SKY_LOG_INFO, "Node %s is branch and worker is paused", this_node);

	sky_log(SKY_LOG_INFO, "** Dropping old subscribers and consumers **");
	if (!run(db, "begin", 0, NULL))
		return LD_EXIT_ERROR;
	for (i = 0; i < nsub; i++)
	{
		const char *p[2] = {q, subs[i]};

		sky_log(SKY_LOG_INFO, "Dropping old subscriber node: %s", subs[i]);
		if (!run(db, "select pgq_node.unregister_subscriber($1, $2)", 2, p))
			goto rollback;
	}
	{
		const char *p[1] = {q};

		res = sky_db_exec(db, "select consumer_name from pgq.get_consumer_info($1)", 1, p);
		if (res == NULL)
			goto rollback;
	}
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *cname = PQgetvalue(res, i, 0);
		const char *p[2] = {q, cname};

		if (cname[0] == '.')
		{
			sky_log(SKY_LOG_INFO, "Keeping consumer: %s", cname);
			continue;
		}
		sky_log(SKY_LOG_INFO, "Dropping old consumer: %s", cname);
		if (!run(db, "select pgq.unregister_consumer($1, $2)", 2, p))
			goto rollback;
	}
	PQclear(res);
	if (!run(db, "commit", 0, NULL))
		return LD_EXIT_ERROR;

	sky_log(SKY_LOG_INFO, "** Dump & delete lost events **");
	memset(&lost, 0, sizeof(lost));
	if (!process_lost_events(ld, db, this_node, failover_tick, &lost))
		return LD_EXIT_ERROR;

	sky_log(SKY_LOG_INFO, "** Subscribing %s to %s **", this_node, prov_node);
	sky_log(SKY_LOG_INFO, "Reset local completed pos");
	{
		const char *p[3] = {q, worker, failover_tick};

		if (!ld_exec_cmd(db, "select * from pgq_node.set_consumer_completed($1, $2, $3)",
						 3, p, NULL))
			return LD_EXIT_ERROR;
	}
	sky_log(SKY_LOG_INFO, "Rename gravestone to worker: %s", worker);
	{
		const char *pu[2] = {q, this_node};
		const char *pr[4] = {q, this_node, worker, failover_tick};

		if (!ld_cascade_cmd(c, prov_node, "select * from pgq_node.unregister_subscriber($1, $2)",
							2, pu, NULL) ||
			!ld_cascade_cmd(c, prov_node, "select ret_code, ret_note, global_watermark"
							" from pgq_node.register_subscriber($1, $2, $3, $4)",
							4, pr, &res))
			return LD_EXIT_ERROR;
		global_wm = PQgetisnull(res, 0, 2) ? NULL : pg_strdup(PQgetvalue(res, 0, 2));
		PQclear(res);
	}
	sky_log(SKY_LOG_INFO, "Reset global watermark");
	{
		const char *p[2] = {q, global_wm};

		if (!ld_exec_cmd(db, "select * from pgq_node.set_global_watermark($1, $2)", 2, p, NULL))
			return LD_EXIT_ERROR;
	}
	if (lost.had_batches)
	{
		qsort(lost.tables, lost.ntables, sizeof(TableStats), table_stats_compare);
		log_statistics(&lost);
	}
	sky_log(SKY_LOG_INFO, "** Resurrection done, worker paused **");
	return LD_EXIT_OK;

rollback:
	run(db, "rollback", 0, NULL);
	return LD_EXIT_ERROR;
}

