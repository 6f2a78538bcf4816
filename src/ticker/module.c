/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Library initialisation: the pgq.* settings of the in-server ticker,
 *	  its shared memory, and the launcher's registration.
 *
 * Loaded on demand (the extension's functions reference the library), pgq
 * only defines the reloadable settings so that they can be shown and set
 * without warnings; nothing else changes.  Loaded through
 * shared_preload_libraries, it also reserves shared memory, installs the
 * hooks through which backends keep the launcher informed, and registers
 * the launcher background worker.
 *
 * src/ticker/module.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "ticker_shared.h"

void		_PG_init(void);

bool		pgq_ticker_enabled = true;
char	   *pgq_ticker_databases = NULL;
int			pgq_ticker_period = 1000;
int			pgq_maint_period = 120;
int			pgq_retry_period = 30;
int			pgq_discovery_period = 60;
int			pgq_max_workers = 8;
char	   *pgq_ticker_role = NULL;
bool		pgq_ticker_allow_superuser = false;
bool		pgq_ticker_coalesce = true;

PgqTickerShared *pgq_ticker_shared = NULL;
Oid		   *pgq_held_databases = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool check_ticker_databases(char **newval, void **extra, GucSource source);
static void pgq_shmem_request(void);
static void pgq_shmem_startup(void);

/*
 * The database list is split like other list settings, but without
 * down-casing: database names are case sensitive and pgqd's database_list
 * takes them literally too.
 */
static bool
check_ticker_databases(char **newval, void **extra, GucSource source)
{
	char	   *rawstring = pstrdup(*newval);
	List	   *names;
	bool		ok = SplitGUCList(rawstring, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	list_free(names);
	pfree(rawstring);
	return ok;
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("pgq.ticker_enabled",
							 "Runs the in-server ticker.",
							 "When off, the launcher stops every pgq ticker worker and starts none; "
							 "queues then need an external ticker such as pgqd.",
							 &pgq_ticker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("pgq.ticker_databases",
							   "Databases the in-server ticker serves.",
							   "A comma-separated list of database names. "
							   "Empty means every database that has the pgq extension.",
							   &pgq_ticker_databases,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_ticker_databases, NULL, NULL);

	DefineCustomIntVariable("pgq.ticker_period",
							"Longest time a ticker worker goes without looking at its queues.",
							"Workers wake at each queue's next tick deadline and when producers "
							"commit events; this period only bounds how late they notice "
							"changes nobody announces, such as COPY into an event table, "
							"pgq.force_tick() or a changed queue setting.",
							&pgq_ticker_period,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgq.maint_period",
							"Time between two maintenance rounds (pgq.maint_operations()).",
							NULL,
							&pgq_maint_period,
							120,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgq.retry_period",
							"Time between two passes over the retry queue (pgq.maint_retry_events()).",
							NULL,
							&pgq_retry_period,
							30,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgq.discovery_period",
							"Time between two scans of pg_database by the pgq launcher.",
							"Creating or dropping an extension or a database wakes the launcher "
							"at once; the periodic scan is a safety net.",
							&pgq_discovery_period,
							60,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pgq.ticker_role",
							   "Role whose rights the in-server ticker uses in every database.",
							   "Maintenance runs as this role; ticks run with the rights of "
							   "pgq.ticker(), which this role must be allowed to call. "
							   "It need not be able to log in.",
							   &pgq_ticker_role,
							   "pgq_admin",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("pgq.ticker_allow_superuser",
							 "Lets the in-server ticker run maintenance as a superuser.",
							 "Off: when pgq.ticker_role is a superuser, maintenance is refused "
							 "and only ticks are made.",
							 &pgq_ticker_allow_superuser,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgq.ticker_coalesce",
							 "Ticks early only for consumers waiting at the head of a queue.",
							 "On: while no consumer of a queue has taken its latest tick, the "
							 "queue is ticked at most once per pgq.ticker_period, so that a "
							 "backlog is handed out in few large batches. Off: every queue is "
							 "ticked by queue_ticker_max_count and queue_ticker_max_lag alone.",
							 &pgq_ticker_coalesce,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* sizes shared memory, so it cannot change after startup */
	DefineCustomIntVariable("pgq.max_workers",
							"Maximum number of databases the in-server ticker serves at once.",
							"Each served database needs one background worker, counted against "
							"max_worker_processes; so does the launcher.",
							&pgq_max_workers,
							8,
							1,
							MAX_BACKENDS,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("pgq");

	/* pg_upgrade runs the server only to move catalogs; nothing to tick */
	if (IsBinaryUpgrade)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgq_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgq_shmem_startup;

	pgq_install_hooks();
	pgq_register_launcher();
}

static void
pgq_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(pgq_ticker_shmem_size());
	RequestNamedLWLockTranche("pgq ticker", 1);
}

/*
 * Also runs again after a crash restart, on a fresh shared memory segment:
 * workers from before the crash are gone and the launcher starts over.
 */
static void
pgq_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	pgq_ticker_shmem_init();
}
