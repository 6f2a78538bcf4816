/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  The copy snapshot: which source transactions the initial copy of a
 *	  table already saw.
 *
 * After the COPY the copy process stores the source's
 * txid_current_snapshot() as the table's custom_snapshot; while the table
 * catches up, events of transactions that snapshot shows as committed are
 * in the copied data already and must be skipped (doc/londiste3.md,
 * "Initial copy").
 *
 * src/londiste3/copy/snapshot.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/copy/copy.h"

struct LdSnapshot
{
	int64_t		xmin;			/* every txid below this had ended */
	int64_t		xmax;			/* no txid from this on had ended */
	int			nxip;
	int64_t    *xip;			/* in progress then, ascending */
};

/*
 * One unsigned decimal txid at *p, which is advanced past it.  false if
 * there are no digits or the value overflows int64.
 */
static bool
parse_txid(const char **p, int64_t *value)
{
	const char *s = *p;
	uint64_t	v = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9')
	{
		v = v * 10 + (uint64_t) (*s - '0');
		if (v > (uint64_t) PG_INT64_MAX)
			return false;
		s++;
	}
	*p = s;
	*value = (int64_t) v;
	return true;
}

/*
 * "xmin:xmax:xip,xip,..." as txid_current_snapshot() (and
 * pg_current_snapshot()) prints it: xmin <= xmax, the in-progress list
 * possibly empty, each of its txids in [xmin, xmax) and none smaller than
 * the one before.
 * Anything else is malformed: NULL.
 */
LdSnapshot *
ld_snapshot_parse(const char *text)
{
	LdSnapshot *snap;
	const char *p = text;
	int			cap = 0;

	if (text == NULL)
		return NULL;
	snap = pg_malloc0(sizeof(LdSnapshot));
	if (!parse_txid(&p, &snap->xmin) || *p++ != ':' ||
		!parse_txid(&p, &snap->xmax) || *p++ != ':' ||
		snap->xmin > snap->xmax)
		goto malformed;
	while (*p != '\0')
	{
		int64_t		xid;

		if (snap->nxip > 0 && *p++ != ',')
			goto malformed;
		if (!parse_txid(&p, &xid) || xid < snap->xmin || xid >= snap->xmax ||
			(snap->nxip > 0 && xid < snap->xip[snap->nxip - 1]))
			goto malformed;
		/* the server's input function takes repeats too */
		if (snap->nxip > 0 && xid == snap->xip[snap->nxip - 1])
			continue;
		if (snap->nxip == cap)
		{
			cap = cap ? cap * 2 : 16;
			snap->xip = pg_realloc(snap->xip, cap * sizeof(int64_t));
		}
		snap->xip[snap->nxip++] = xid;
	}
	return snap;

malformed:
	ld_snapshot_free(snap);
	return NULL;
}

/*
 * Had txid committed (or aborted: its events never reach a batch) when
 * the snapshot was taken?  Below xmin yes, from xmax on no, in between
 * unless it was in progress.
 */
bool
ld_snapshot_contains(const LdSnapshot *snap, int64_t txid)
{
	int			lo = 0;
	int			hi = snap->nxip;

	if (txid < snap->xmin)
		return true;
	if (txid >= snap->xmax)
		return false;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (snap->xip[mid] == txid)
			return false;
		if (snap->xip[mid] < txid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return true;
}

void
ld_snapshot_free(LdSnapshot *snap)
{
	if (snap == NULL)
		return;
	pg_free(snap->xip);
	pg_free(snap);
}
