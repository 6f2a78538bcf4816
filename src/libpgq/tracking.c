/*-------------------------------------------------------------------------
 *
 * tracking.c
 *	  The LOCAL flavour's tracking file: the last applied tick id.
 *
 * The file is replaced whole: the new content goes to FILE.new, which is
 * flushed to disk, renamed over FILE, and the directory flushed too, so
 * that after a crash or power loss the file holds either the old or the
 * new tick, never nothing (Skytools' write_atomic did not fsync).
 *
 * src/libpgq/tracking.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <unistd.h>

#include "libpgq_int.h"

static bool
sync_directory(PgqConsumer *consumer, const char *path)
{
	char	   *dir = pg_strdup(path);	/* a name has room for "." */
	int			fd;
	bool		ok = true;

	get_parent_directory(dir);
	if (dir[0] == '\0')
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY);
	if (fd < 0 || fsync(fd) != 0)
	{
		pgq_set_error(consumer, "could not sync directory \"%s\": %s", dir, strerror(errno));
		ok = false;
	}
	if (fd >= 0)
		close(fd);
	pg_free(dir);
	return ok;
}

/* The stored tick; *found is false when there is no file or it is empty. */
bool
pgq_tracking_read(PgqConsumer *consumer, int64_t *tick, bool *found)
{
	const char *path = consumer->tracking_file;
	char		buf[64];
	char	   *p;
	char	   *end;
	FILE	   *f;
	size_t		len;

	*found = false;
	*tick = -1;
	f = fopen(path, "r");
	if (f == NULL)
	{
		if (errno == ENOENT)
			return true;
		pgq_set_error(consumer, "could not open tracking file \"%s\": %s", path, strerror(errno));
		return false;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f))
	{
		pgq_set_error(consumer, "could not read tracking file \"%s\": %s", path, strerror(errno));
		fclose(f);
		return false;
	}
	fclose(f);
	buf[len] = '\0';
	for (p = buf; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (*p == '\0')
		return true;
	errno = 0;
	*tick = strtoll(p, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (errno != 0 || end == p || *end != '\0' || *tick < 0)
	{
		pgq_set_error(consumer, "tracking file \"%s\" does not hold a tick id: \"%s\"",
					  path, buf);
		consumer->fatal = true;
		return false;
	}
	*found = true;
	return true;
}

bool
pgq_tracking_write(PgqConsumer *consumer, int64_t tick)
{
	const char *path = consumer->tracking_file;
	char	   *tmp = psprintf("%s.new", path);
	char		text[32];
	int			len;
	int			fd;

	len = snprintf(text, sizeof(text), "%lld\n", (long long) tick);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
	{
		pgq_set_error(consumer, "could not create tracking file \"%s\": %s", tmp, strerror(errno));
		pg_free(tmp);
		return false;
	}
	errno = 0;
	if (write(fd, text, len) != len)
	{
		if (errno == 0)
			errno = ENOSPC;
		pgq_set_error(consumer, "could not write tracking file \"%s\": %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0)
	{
		pgq_set_error(consumer, "could not sync tracking file \"%s\": %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0)
	{
		fd = -1;
		pgq_set_error(consumer, "could not close tracking file \"%s\": %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
	{
		pgq_set_error(consumer, "could not rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
		goto fail;
	}
	pg_free(tmp);
	return sync_directory(consumer, path);

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	pg_free(tmp);
	return false;
}

bool
pgq_tracking_remove(PgqConsumer *consumer)
{
	if (unlink(consumer->tracking_file) != 0)
	{
		if (errno == ENOENT)
			return true;
		pgq_set_error(consumer, "could not remove tracking file \"%s\": %s",
					  consumer->tracking_file, strerror(errno));
		return false;
	}
	return sync_directory(consumer, consumer->tracking_file);
}
