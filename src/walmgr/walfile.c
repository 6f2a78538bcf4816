/*-------------------------------------------------------------------------
 *
 * walfile.c
 *	  WAL file names, WAL page headers, the ARCHIVE_ID file and durable
 *	  file system helpers.
 *
 * Nothing is archived or restored under a name that is not one of the four
 * PostgreSQL gives archive_command, and no segment is accepted whose first
 * page does not say it belongs to this archive's cluster, at the position
 * its name claims.  Those checks are what make "same name, different
 * content" a real conflict rather than a misconfiguration.
 *
 * src/walmgr/walfile.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "framework/log.h"
#include "walmgr.h"

static bool is_hex(const char *s, int n);
static bool parse_segment_name(const char *name, TimeLineID *tli,
							   uint32 *log, uint32 *seg);

/* n upper-case hex digits, as PostgreSQL writes WAL file names */
static bool
is_hex(const char *s, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

WalFileKind
walfile_classify(const char *name)
{
	size_t		len = strlen(name);

	if (len == 24 && is_hex(name, 24))
		return WALFILE_SEGMENT;
	if (len == 24 + 8 && is_hex(name, 24) && strcmp(name + 24, ".partial") == 0)
		return WALFILE_PARTIAL;
	if (len == 8 + 8 && is_hex(name, 8) && strcmp(name + 8, ".history") == 0)
		return WALFILE_HISTORY;
	if (len == 24 + 1 + 8 + 7 && is_hex(name, 24) && name[24] == '.' &&
		is_hex(name + 25, 8) && strcmp(name + 33, ".backup") == 0)
		return WALFILE_BACKUP;
	return WALFILE_INVALID;
}

static bool
parse_segment_name(const char *name, TimeLineID *tli, uint32 *log, uint32 *seg)
{
	return sscanf(name, "%08X%08X%08X", tli, log, seg) == 3;
}

/*
 * Order two segment-based names (segment, partial, backup) by segment
 * number alone, ignoring the timeline: recovery from a backup never reads a
 * lower segment number on any timeline, so WAL is purged by number.
 */
int
walfile_compare_segno(const char *a, const char *b)
{
	return strncmp(a + 8, b + 8, 16);
}

/*
 * Check the long page header at the start of a segment (or .partial) file.
 *
 * page holds the first pagelen bytes of the file, filesize its size.  When
 * expected is given, the system identifier and segment size must match it.
 * found receives what the header says.  On failure *why explains it.
 */
bool
walfile_check_segment(const char *name, const char *page, size_t pagelen,
					  int64 filesize, const ArchiveId *expected,
					  ArchiveId *found, char **why)
{
	XLogLongPageHeaderData hdr;
	TimeLineID	tli;
	uint32		log;
	uint32		seg;
	uint64		segno;
	XLogRecPtr	expected_addr;

	*why = NULL;
	if (!parse_segment_name(name, &tli, &log, &seg))
	{
		*why = psprintf("\"%s\" is not a WAL segment name", name);
		return false;
	}
	if (pagelen < sizeof(hdr))
	{
		*why = psprintf("file is too short to be a WAL segment (%lld bytes)",
						(long long) filesize);
		return false;
	}
	memcpy(&hdr, page, sizeof(hdr));
	if (hdr.std.xlp_magic != XLOG_PAGE_MAGIC)
	{
		*why = psprintf("WAL page magic is 0x%04X, PostgreSQL %d writes 0x%04X",
						hdr.std.xlp_magic, PG_MAJORVERSION_NUM, XLOG_PAGE_MAGIC);
		return false;
	}
	if (!(hdr.std.xlp_info & XLP_LONG_HEADER))
	{
		*why = pg_strdup("first WAL page has no long header");
		return false;
	}
	if (!IsValidWalSegSize(hdr.xlp_seg_size))
	{
		*why = psprintf("WAL page header names an invalid segment size %u",
						hdr.xlp_seg_size);
		return false;
	}
	if (filesize != (int64) hdr.xlp_seg_size)
	{
		*why = psprintf("file size %lld differs from the segment size %u",
						(long long) filesize, hdr.xlp_seg_size);
		return false;
	}
	if (expected != NULL && expected->wal_segment_size != hdr.xlp_seg_size)
	{
		*why = psprintf("segment size %u differs from the archive's %u",
						hdr.xlp_seg_size, expected->wal_segment_size);
		return false;
	}
	if (seg >= XLogSegmentsPerXLogId(hdr.xlp_seg_size))
	{
		*why = psprintf("\"%s\" is not a valid segment name for %u-byte segments",
						name, hdr.xlp_seg_size);
		return false;
	}
	segno = (uint64) log * XLogSegmentsPerXLogId(hdr.xlp_seg_size) + seg;
	XLogSegNoOffsetToRecPtr(segno, 0, hdr.xlp_seg_size, expected_addr);
	if (hdr.std.xlp_pageaddr != expected_addr)
	{
		*why = psprintf("WAL page address %X/%X does not match the name (%X/%X)",
						LSN_FORMAT_ARGS(hdr.std.xlp_pageaddr),
						LSN_FORMAT_ARGS(expected_addr));
		return false;
	}

	/*
	 * The first segment of a new timeline starts as a copy of the old
	 * timeline's segment, header included, so the header may name an older
	 * timeline than the file name, never a newer one.
	 */
	if (hdr.std.xlp_tli > tli)
	{
		*why = psprintf("WAL page header is from timeline %u, the name says %u",
						hdr.std.xlp_tli, tli);
		return false;
	}
	if (expected != NULL && expected->system_identifier != hdr.xlp_sysid)
	{
		*why = psprintf("WAL is from database system %llu, the archive belongs to %llu",
						(unsigned long long) hdr.xlp_sysid,
						(unsigned long long) expected->system_identifier);
		return false;
	}
	found->system_identifier = hdr.xlp_sysid;
	found->wal_segment_size = hdr.xlp_seg_size;
	found->pg_major = PG_MAJORVERSION_NUM;
	return true;
}

/*
 * Read dir/ARCHIVE_ID.  *exists tells a missing file from a broken one;
 * false is returned (after logging) only for a file that cannot be read or
 * parsed.
 */
bool
archive_id_read(const char *dir, ArchiveId *id, bool *exists)
{
	char	   *path = psprintf("%s/ARCHIVE_ID", dir);
	FILE	   *fp;
	char		line[256];
	int			found = 0;

	memset(id, 0, sizeof(*id));
	*exists = false;
	fp = fopen(path, "r");
	if (fp == NULL)
	{
		bool		ok = (errno == ENOENT);

		if (!ok)
			log_error("could not open \"%s\": %m", path);
		pg_free(path);
		return ok;
	}
	*exists = true;
	while (fgets(line, sizeof(line), fp) != NULL)
	{
		unsigned long long v;

		if (sscanf(line, "system_identifier = %llu", &v) == 1)
		{
			id->system_identifier = v;
			found |= 1;
		}
		else if (sscanf(line, "wal_segment_size = %llu", &v) == 1)
		{
			id->wal_segment_size = (uint32) v;
			found |= 2;
		}
		else if (sscanf(line, "pg_version = %llu", &v) == 1)
		{
			id->pg_major = (int) v;
			found |= 4;
		}
	}
	fclose(fp);
	if (found != 7 || !IsValidWalSegSize(id->wal_segment_size))
	{
		log_error("\"%s\" is damaged: it must name system_identifier, wal_segment_size and pg_version",
				  path);
		pg_free(path);
		return false;
	}
	pg_free(path);
	return true;
}

/*
 * Create dir/ARCHIVE_ID durably, never replacing an existing one.  If one
 * appeared meanwhile (a concurrent first archive), it must say the same.
 */
bool
archive_id_write(const char *dir, const ArchiveId *id)
{
	char	   *path = psprintf("%s/ARCHIVE_ID", dir);
	char	   *tmp = psprintf("%s/.ARCHIVE_ID.%d", dir, (int) getpid());
	char	   *text;
	int			fd;
	bool		ok = false;

	text = psprintf("system_identifier = %llu\nwal_segment_size = %u\npg_version = %d\n",
					(unsigned long long) id->system_identifier,
					id->wal_segment_size, id->pg_major);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		log_error("could not create \"%s\": %m", tmp);
	else if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
		log_error("could not write \"%s\": %m", tmp);
	else if (fsync(fd) != 0)
		log_error("could not fsync \"%s\": %m", tmp);
	else if (link(tmp, path) == 0)
		ok = fsync_path(dir, true);
	else if (errno == EEXIST)
	{
		ArchiveId	other;
		bool		exists;

		if (archive_id_read(dir, &other, &exists) && exists &&
			other.system_identifier == id->system_identifier &&
			other.wal_segment_size == id->wal_segment_size)
			ok = true;
		else
			log_error("\"%s\" already exists and names another database system", path);
	}
	else
		log_error("could not link \"%s\" to \"%s\": %m", tmp, path);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	pg_free(text);
	pg_free(tmp);
	pg_free(path);
	return ok;
}

/* fsync a file or directory by name; logs and returns false on failure */
bool
fsync_path(const char *path, bool is_dir)
{
	int			fd = open(path, (is_dir ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0)
	{
		log_error("could not open \"%s\" to fsync it: %m", path);
		return false;
	}
	if (fsync(fd) != 0)
	{
		log_error("could not fsync \"%s\": %m", path);
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/*
 * Create a directory and its missing parents with mode 0700 (the archive
 * holds the whole database's contents).  With dry_run only say so.
 */
bool
make_dir(const char *path, bool dry_run)
{
	char	   *copy;
	char	   *p;
	struct stat st;

	if (stat(path, &st) == 0)
	{
		if (S_ISDIR(st.st_mode))
			return true;
		log_error("\"%s\" exists but is not a directory", path);
		return false;
	}
	if (dry_run)
	{
		log_info("dry run: would create directory \"%s\"", path);
		return true;
	}
	copy = pg_strdup(path);
	for (p = copy + 1; *p; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
		{
			log_error("could not create directory \"%s\": %m", copy);
			pg_free(copy);
			return false;
		}
		*p = '/';
	}
	if (mkdir(copy, 0700) != 0 && errno != EEXIST)
	{
		log_error("could not create directory \"%s\": %m", copy);
		pg_free(copy);
		return false;
	}
	log_info("created directory \"%s\"", copy);
	pg_free(copy);
	return true;
}
