/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  verify: can every kept backup be restored to the newest archived WAL?
 *
 * Two checks.  Each kept backup is checked against its manifest with
 * pg_verifybackup (which also parses the WAL the backup needs).  Then the
 * archive's WAL is walked segment by segment from the start of the oldest
 * kept backup to the newest segment of the newest timeline, following that
 * timeline's history: below each switch point the segment must be there on
 * the older timeline, above it on the newer one.  Every timeline after the
 * first needs its .history file.  Abandoned branches are not looked at.
 *
 * src/walmgr/verify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "compress.h"
#include "framework/log.h"
#include "walmgr.h"

typedef struct TimelineSwitch
{
	TimeLineID	tli;			/* the timeline that ended ... */
	XLogSegNo	end_segno;		/* ... in this segment (the next one's first) */
} TimelineSwitch;

static bool verify_backups(Walmgr *wm, char **oldest_start);
static bool verify_wal(Walmgr *wm, const char *oldest_start);
static int	read_history(Walmgr *wm, TimeLineID tli, uint32 segsize,
						 TimelineSwitch *switches, int max);

static bool
verify_backups(Walmgr *wm, char **oldest_start)
{
	char	   *verifier = wm_pg_program(wm, "slave_bin", "pg_verifybackup");
	bool		ok = true;
	int			n;
	struct stat st;

	*oldest_start = NULL;
	for (n = -1;; n++)
	{
		char	   *dir = backup_path(wm, n);
		char	   *walsegs;
		char	   *start_wal;
		char	   *start_time;
		char	   *label;
		bool		own_wal = false;
		DIR		   *d;
		struct dirent *de;

		if (stat(dir, &st) != 0)
		{
			pg_free(dir);
			break;
		}
		if (!read_backup_label(dir, &start_wal, &start_time, &label))
		{
			log_error("backup \"%s\": no usable backup_label", dir);
			ok = false;
			pg_free(dir);
			continue;
		}
		pg_free(*oldest_start);
		*oldest_start = start_wal;

		/* a backup taken with -X stream carries its WAL; else the archive has it */
		walsegs = psprintf("%s/pg_wal", dir);
		d = opendir(walsegs);
		while (d != NULL && (de = readdir(d)) != NULL)
			if (walfile_classify(de->d_name) == WALFILE_SEGMENT)
				own_wal = true;
		if (d != NULL)
			closedir(d);
		{
			char	   *argv_own[] = {verifier, "-q", "-i", "walmgr.info", dir, NULL};
			char	   *argv_arch[] = {verifier, "-q", "-i", "walmgr.info", "-w",
			wm->completed_wals, dir, NULL};

			/* compressed WAL cannot be parsed; its presence is checked below */
			if (!own_wal && archive_has_compressed(wm->completed_wals))
			{
				argv_arch[4] = "-n";
				argv_arch[5] = dir;
				argv_arch[6] = NULL;
			}

			if (wm_run_argv(wm, "pg_verifybackup", own_wal ? argv_own : argv_arch, 0) != 0)
			{
				log_error("backup \"%s\" failed verification", dir);
				ok = false;
			}
			else
				log_info("backup \"%s\" (%s) verified", dir, label ? label : "");
		}
		pg_free(walsegs);
		pg_free(dir);
	}
	pg_free(verifier);
	return ok;
}

/*
 * The switch points in tli's history file, oldest first; -1 if the file
 * is missing or unreadable (logged).
 */
static int
read_history(Walmgr *wm, TimeLineID tli, uint32 segsize,
			 TimelineSwitch *switches, int max)
{
	char	   *path = psprintf("%s/%08X.history", wm->completed_wals, tli);
	FILE	   *fp = fopen(path, "r");
	char		line[1024];
	int			n = 0;

	if (fp == NULL)
	{
		log_error("timeline %u has no history file \"%s\"", tli, path);
		pg_free(path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL && n < max)
	{
		unsigned int parent;
		unsigned int hi;
		unsigned int lo;

		if (sscanf(line, "%u %X/%X", &parent, &hi, &lo) == 3)
		{
			switches[n].tli = parent;
			XLByteToSeg(((uint64) hi << 32) | lo, switches[n].end_segno, segsize);
			n++;
		}
	}
	fclose(fp);
	pg_free(path);
	return n;
}

static bool
verify_wal(Walmgr *wm, const char *oldest_start)
{
	DIR		   *dir;
	struct dirent *de;
	ArchiveId	aid;
	bool		exists;
	TimeLineID	latest = 0;
	TimeLineID	t;
	XLogSegNo	start = PG_UINT64_MAX;
	XLogSegNo	end = 0;
	XLogSegNo	segno;
	TimelineSwitch switches[64];
	int			nswitch = 0;
	int			missing = 0;
	bool		ok = true;

	if (!archive_id_read(wm->walmgr_data, &aid, &exists))
		return false;
	if (!exists)
	{
		log_info("the archive is empty");
		return true;
	}
	dir = opendir(wm->completed_wals);
	if (dir == NULL)
	{
		log_error("could not open \"%s\": %m", wm->completed_wals);
		return false;
	}
	/* the newest timeline, and where its WAL ends */
	while ((de = readdir(dir)) != NULL)
	{
		TimeLineID	tli;
		XLogSegNo	s;

		if (walfile_classify(de->d_name) == WALFILE_HISTORY)
		{
			sscanf(de->d_name, "%08X", &tli);
			latest = Max(latest, tli);
		}
		else if (walfile_classify_stored(de->d_name) == WALFILE_SEGMENT)
		{
			XLogFromFileName(de->d_name, &tli, &s, aid.wal_segment_size);
			if (tli > latest)
			{
				latest = tli;
				end = s;
			}
			else if (tli == latest)
				end = Max(end, s);
			start = Min(start, s);
		}
	}
	closedir(dir);
	if (latest == 0)
	{
		log_info("no WAL archived yet");
		return true;
	}
	if (oldest_start != NULL)
	{
		TimeLineID	tli;

		XLogFromFileName(oldest_start, &tli, &start, aid.wal_segment_size);
	}
	if (latest > 1)
	{
		nswitch = read_history(wm, latest, aid.wal_segment_size, switches, lengthof(switches));
		if (nswitch < 0)
			return false;
		/* every timeline of the chain needs its own history file too */
		for (t = 2; t < latest; t++)
		{
			int			i;

			for (i = 0; i < nswitch; i++)
				if (switches[i].tli == t)
				{
					char	   *path = psprintf("%s/%08X.history", wm->completed_wals, t);

					if (access(path, F_OK) != 0)
					{
						log_error("timeline %u has no history file \"%s\"", t, path);
						ok = false;
					}
					pg_free(path);
				}
		}
	}

	for (segno = start; segno <= end; segno++)
	{
		char		name[MAXFNAMELEN];
		char	   *path;
		TimeLineID	tli = latest;
		int			i;

		/* below a switch point the segment belongs to the older timeline */
		for (i = 0; i < nswitch; i++)
			if (segno < switches[i].end_segno)
			{
				tli = switches[i].tli;
				break;
			}
		XLogFileName(name, tli, segno, aid.wal_segment_size);
		path = archive_find(wm->completed_wals, name);
		if (path == NULL)
		{
			if (missing < 10)
				log_error("WAL segment %s is missing from the archive", name);
			missing++;
		}
		pg_free(path);
	}
	if (missing > 0)
	{
		log_error("%d segments missing between the oldest backup and the newest WAL", missing);
		ok = false;
	}
	else
		log_info("WAL complete on timeline %u from segment %llu to %llu",
				 latest, (unsigned long long) start, (unsigned long long) end);
	return ok;
}

/* walmgr INI verify */
int
cmd_verify(Walmgr *wm)
{
	char	   *oldest = NULL;
	bool		backups_ok;
	bool		wal_ok;

	if (wm->is_master && wm_remote(wm))
	{
		char	   *args[1] = {"verify"};

		return remote_run(wm, args, 1, -1, NULL) == 0 ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
	}
	backups_ok = verify_backups(wm, &oldest);
	wal_ok = verify_wal(wm, oldest);
	pg_free(oldest);
	if (backups_ok && wal_ok)
	{
		log_info("archive verified");
		return WALMGR_EXIT_OK;
	}
	return WALMGR_EXIT_FAIL;
}
