/*-------------------------------------------------------------------------
 *
 * walmgr.h
 *	  Shared declarations of the walmgr program.
 *
 * src/walmgr/walmgr.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMGR_H
#define WALMGR_H

#include "framework/script.h"

/*
 * Exit codes scripts and PostgreSQL rely on (doc/walmgr.md, EXIT STATUS).
 * archive_command must never exit with 126 or more: PostgreSQL would take
 * it for a signal and restart the archiver.  restore_command must answer 1
 * only for "certainly not in the archive"; everything else is 255, which
 * makes the startup process stop instead of ending recovery early.
 */
#define WALMGR_EXIT_OK			0
#define WALMGR_EXIT_FAIL		1	/* also: xrestore "not found" */
#define WALMGR_EXIT_USAGE		2
#define WALMGR_EXIT_CONFLICT	3
#define WALMGR_EXIT_INVALID		4
#define WALMGR_EXIT_RESTORE_ERROR 255

/* Kinds of file names that may be archived */
typedef enum WalFileKind
{
	WALFILE_INVALID,
	WALFILE_SEGMENT,			/* 000000010000000000000001 */
	WALFILE_PARTIAL,			/* 000000010000000000000001.partial */
	WALFILE_HISTORY,			/* 00000002.history */
	WALFILE_BACKUP				/* 000000010000000000000001.00000028.backup */
} WalFileKind;

/* How full segments are stored in logs.complete (compress.c) */
typedef enum WalCompression
{
	WALCOMP_NONE,
	WALCOMP_GZIP,
	WALCOMP_LZ4,
	WALCOMP_ZSTD
} WalCompression;

/* Contents of walmgr_data/ARCHIVE_ID: which cluster the archive belongs to */
typedef struct ArchiveId
{
	uint64		system_identifier;
	uint32		wal_segment_size;
	int			pg_major;
} ArchiveId;

/* Everything a command needs: the frame, switches and resolved paths */
typedef struct Walmgr
{
	SkyScript	script;
	const char *command;
	char	  **args;			/* command arguments after COMMAND */
	int			nargs;

	bool		dry_run;
	bool		force;
	bool		discard;
	bool		no_standby;
	bool		finish;
	bool		check;

	/* restore: recovery target (at most one) and what to do there */
	const char *target_setting; /* e.g. "recovery_target_lsn" */
	const char *target_value;
	const char *target_action;
	const char *target_timeline;
	bool		is_master;		/* the ini has master_data */

	char	   *self_path;		/* absolute path of this executable */
	char	   *walmgr_data;
	char	   *completed_wals;
	char	   *partial_wals;
	char	   *full_backup;
	char	   *config_backup;
	char	   *slave;			/* archive host for ssh_command, or "local" */
	bool		archive_apart;	/* archive side run as "walmgr SLAVE_CONFIG" */
	WalCompression compression; /* storage compression of segments */
} Walmgr;

/* where Debian installs the PostgreSQL 15 programs */
#define WALMGR_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"

/* config.c */
extern char *wm_get(Walmgr *wm, const char *key, const char *def);
extern char *wm_get_path(Walmgr *wm, const char *key, const char *def);
extern char *wm_pg_program(Walmgr *wm, const char *bindir_key, const char *prog);
extern bool wm_remote(Walmgr *wm);

/* run.c */
extern int	wm_run_shell(Walmgr *wm, const char *what, const char *command);
extern int	wm_run_argv(Walmgr *wm, const char *what, char *const *argv,
						int timeout);
extern char *wm_shell_quote(const char *s);

/* walfile.c */
extern WalFileKind walfile_classify(const char *name);
extern bool walfile_check_segment(const char *name, const char *page,
								  size_t pagelen, int64 filesize,
								  const ArchiveId *expected, ArchiveId *found,
								  char **why);
extern int	walfile_compare_segno(const char *a, const char *b);
extern bool archive_id_read(const char *dir, ArchiveId *id, bool *exists);
extern bool archive_id_write(const char *dir, const ArchiveId *id);
extern bool fsync_path(const char *path, bool is_dir);
extern bool make_dir(const char *path, bool dry_run);

/* archive.c */
extern int	cmd_xarchive(Walmgr *wm);
extern int	cmd_xreceive(Walmgr *wm);

/* restore.c */
extern int	cmd_xrestore(Walmgr *wm);

/* remote.c */
extern int	remote_run(Walmgr *wm, char *const *args, int nargs,
					   int input_fd, char **output);
extern int	remote_xarchive(Walmgr *wm, int fd, int64 size, const char *name,
							bool partial);

/* backup.c */
extern int	cmd_backup(Walmgr *wm);
extern int	cmd_listbackups(Walmgr *wm);
extern int	cmd_xlock(Walmgr *wm);
extern int	cmd_xrelease(Walmgr *wm);
extern int	cmd_xrotate(Walmgr *wm);
extern int	cmd_xpurgewals(Walmgr *wm);
extern int	cmd_cleanup(Walmgr *wm);
extern char *backup_path(Walmgr *wm, int n);
extern int	count_backups(Walmgr *wm, int first);
extern bool remove_tree(const char *path);
extern bool read_backup_label(const char *dir, char **start_wal,
							  char **start_time, char **label);

/* standby.c */
extern int	cmd_restore(Walmgr *wm);
extern int	cmd_createslave(Walmgr *wm);
extern int	cmd_boot(Walmgr *wm);
extern int	cmd_pause(Walmgr *wm);
extern int	cmd_continue(Walmgr *wm);

/* receive.c */
extern int	cmd_receive(Walmgr *wm);

/* verify.c */
extern int	cmd_verify(Walmgr *wm);

/* status.c */
extern int	cmd_status(Walmgr *wm);

/* setup.c */
extern int	cmd_setup(Walmgr *wm);
extern int	cmd_xsetup(Walmgr *wm);
extern int	cmd_stop(Walmgr *wm);
extern int	cmd_periodic(Walmgr *wm);
extern void run_periodic_if_due(Walmgr *wm);
extern int	cmd_sync(Walmgr *wm);
extern int	cmd_syncdaemon(Walmgr *wm);
extern int	cmd_synch_standby(Walmgr *wm);

#endif							/* WALMGR_H */
