/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  LdApply: the SQL sink the handlers write a batch's statements into.
 *
 * Statements are queued and sent joined by newlines, up to 200 at a time,
 * as one simple query: one round trip for many rows.  Everything runs in
 * the worker's open transaction on the local node, the one that also
 * stores the batch's completed tick, so a batch is applied whole or not
 * at all.
 *
 * src/londiste3/apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/worker.h"
#include "pqexpbuffer.h"

/* statements per round trip, as python3-londiste groups them */
#define APPLY_GROUP_SIZE 200

struct LdApply
{
	PGconn	   *conn;
	PQExpBufferData queued;
	int			nqueued;
	int64_t		nstatements;	/* sent in this batch, for the log */
};

LdApply *
ld_apply_new(void)
{
	LdApply    *apply = pg_malloc0(sizeof(LdApply));

	initPQExpBuffer(&apply->queued);
	return apply;
}

void
ld_apply_free(LdApply *apply)
{
	termPQExpBuffer(&apply->queued);
	pg_free(apply);
}

/* start a batch on conn: forget whatever a failed batch left queued */
void
ld_apply_begin(LdApply *apply, PGconn *conn)
{
	apply->conn = conn;
	resetPQExpBuffer(&apply->queued);
	apply->nqueued = 0;
	apply->nstatements = 0;
}

int64_t
ld_apply_count(const LdApply *apply)
{
	return apply->nstatements + apply->nqueued;
}

bool
ld_apply_sql(LdApply *apply, const char *sql)
{
	if (apply->nqueued > 0)
		appendPQExpBufferChar(&apply->queued, '\n');
	appendPQExpBufferStr(&apply->queued, sql);
	apply->nqueued++;
	if (apply->nqueued >= APPLY_GROUP_SIZE)
		return ld_apply_flush(apply);
	return true;
}

bool
ld_apply_flush(LdApply *apply)
{
	PGresult   *res;
	bool		ok;

	if (apply->nqueued == 0)
		return true;
	if (PQExpBufferBroken(&apply->queued))
	{
		sky_log(SKY_LOG_ERROR, "out of memory queueing statements");
		return false;
	}
	res = PQexec(apply->conn, apply->queued.data);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		sky_log(SKY_LOG_ERROR, "applying events failed: %s",
				PQerrorMessage(apply->conn));
	PQclear(res);
	apply->nstatements += apply->nqueued;
	resetPQExpBuffer(&apply->queued);
	apply->nqueued = 0;
	return ok;
}

PGconn *
ld_apply_conn(LdApply *apply)
{
	return apply->conn;
}
