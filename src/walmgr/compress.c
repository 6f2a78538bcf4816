/*-------------------------------------------------------------------------
 *
 * compress.c
 *	  Compressed storage of archived segments (gzip, lz4, zstd).
 *
 * With compression = gzip, lz4 or zstd in the ini of whoever stores into
 * logs.complete (the archive host; on a local archive the primary), full
 * segments are stored as NAME.gz, NAME.lz4 or NAME.zst: a standard single
 * frame that gzip -d, lz4 -d or zstd -d also read.  History, backup and
 * partial files stay uncompressed; they are small, and boot --finish and
 * PostgreSQL's own tools read them as they are.
 *
 * A name is archived once whatever its suffix: storing NAME when NAME.zst
 * is there compares the decompressed content, and identical is success.
 * xrestore decompresses whatever it finds.
 *
 * src/walmgr/compress.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "framework/log.h"
#include "framework/sha256.h"

#define IO_BUF_SIZE (1024 * 1024)

static const char *const suffixes[WALCOMP_COUNT] = {"", ".gz", ".lz4", ".zst"};
static const char *const method_names[WALCOMP_COUNT] = {"none", "gzip", "lz4", "zstd"};

struct WalWriter
{
	WalCompression method;
	int			fd;
	const char *path;
	char	   *out;
	size_t		outcap;
	z_stream	zs;
	LZ4F_cctx  *lz4;
	ZSTD_CCtx  *zstd;
};

struct WalReader
{
	WalCompression method;
	int			fd;
	char	   *path;
	char	   *in;
	size_t		inpos;
	size_t		inlen;
	bool		ineof;
	bool		done;			/* the compressed frame has ended */
	z_stream	zs;
	LZ4F_dctx  *lz4;
	ZSTD_DCtx  *zstd;
};

static bool write_all(int fd, const char *path, const char *data, size_t len);
static bool fill_input(WalReader *r);

/*
 * The storage compression from the "compression" key.  walmgr3's 0 and 1
 * (1: ssh transport compression, see remote.c) store uncompressed.
 */
WalCompression
walcomp_storage(Walmgr *wm)
{
	char	   *value = wm_get(wm, "compression", "none");
	WalCompression result = WALCOMP_NONE;
	int			i;

	if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
	{
		for (i = 0; i < WALCOMP_COUNT; i++)
			if (strcmp(value, method_names[i]) == 0)
				break;
		if (i == WALCOMP_COUNT)
			sky_fatal("compression = %s is not supported: use none (0), 1 (ssh transport compression), gzip, lz4 or zstd",
					  value);
		result = (WalCompression) i;
	}
	pg_free(value);
	return result;
}

const char *
walcomp_suffix(WalCompression method)
{
	return suffixes[method];
}

const char *
walcomp_name(WalCompression method)
{
	return method_names[method];
}

/* A name as found in logs.complete: a segment may carry a suffix. */
WalFileKind
walfile_classify_stored(const char *name)
{
	size_t		len = strlen(name);
	int			i;

	for (i = 1; i < WALCOMP_COUNT; i++)
	{
		size_t		slen = strlen(suffixes[i]);

		if (len == 24 + slen && strcmp(name + 24, suffixes[i]) == 0)
		{
			char		plain[25];

			memcpy(plain, name, 24);
			plain[24] = '\0';
			return walfile_classify(plain) == WALFILE_SEGMENT ? WALFILE_SEGMENT : WALFILE_INVALID;
		}
	}
	return walfile_classify(name);
}

/*
 * Path of name in dir, stored plain or compressed, or NULL when it is in
 * none of these forms (errno ENOENT) or cannot be checked (errno set).
 */
char *
archive_find(const char *dir, const char *name)
{
	int			i;
	int			n = (walfile_classify(name) == WALFILE_SEGMENT) ? WALCOMP_COUNT : 1;

	for (i = 0; i < n; i++)
	{
		char	   *path = psprintf("%s/%s%s", dir, name, suffixes[i]);

		if (access(path, F_OK) == 0)
			return path;
		pg_free(path);
		if (errno != ENOENT)
			return NULL;
	}
	errno = ENOENT;
	return NULL;
}

/*
 * Does dir hold any compressed segment?  pg_verifybackup cannot parse such
 * WAL, so it is then told not to (its -n).  A directory that cannot be
 * read counts as yes: pg_verifybackup would fail on it too.
 */
bool
archive_has_compressed(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	bool		found = false;

	if (d == NULL)
		return true;
	while (!found && (de = readdir(d)) != NULL)
		found = (walfile_classify_stored(de->d_name) == WALFILE_SEGMENT &&
				 walfile_classify(de->d_name) != WALFILE_SEGMENT);
	closedir(d);
	return found;
}

static bool
write_all(int fd, const char *path, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, data, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			log_error("could not write \"%s\": %m", path);
			return false;
		}
		data += n;
		len -= n;
	}
	return true;
}

/*
 * Start writing to fd (path for messages) in the given format.  Returns
 * NULL after logging if the library cannot start.
 */
WalWriter *
walwriter_begin(WalCompression method, int fd, const char *path)
{
	WalWriter  *w = pg_malloc0(sizeof(WalWriter));

	w->method = method;
	w->fd = fd;
	w->path = path;
	switch (method)
	{
		case WALCOMP_NONE:
			return w;
		case WALCOMP_GZIP:
			w->outcap = IO_BUF_SIZE;
			/* 15 + 16: the largest window, with a gzip header and trailer */
			if (deflateInit2(&w->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
							 Z_DEFAULT_STRATEGY) != Z_OK)
			{
				log_error("could not start gzip compression");
				pg_free(w);
				return NULL;
			}
			break;
		case WALCOMP_LZ4:
			{
				size_t		r;

				w->outcap = LZ4F_compressBound(IO_BUF_SIZE, NULL);
				w->out = pg_malloc(w->outcap);
				if (LZ4F_isError(LZ4F_createCompressionContext(&w->lz4, LZ4F_VERSION)))
				{
					log_error("could not start lz4 compression");
					pg_free(w->out);
					pg_free(w);
					return NULL;
				}
				r = LZ4F_compressBegin(w->lz4, w->out, w->outcap, NULL);
				if (LZ4F_isError(r) || !write_all(fd, path, w->out, r))
				{
					if (LZ4F_isError(r))
						log_error("lz4 compression failed: %s", LZ4F_getErrorName(r));
					LZ4F_freeCompressionContext(w->lz4);
					pg_free(w->out);
					pg_free(w);
					return NULL;
				}
				return w;
			}
		case WALCOMP_ZSTD:
			w->outcap = ZSTD_CStreamOutSize();
			w->zstd = ZSTD_createCCtx();
			if (w->zstd == NULL)
			{
				log_error("could not start zstd compression");
				pg_free(w);
				return NULL;
			}
			break;
	}
	w->out = pg_malloc(w->outcap);
	return w;
}

/*
 * Compress len bytes (or, with finish, the end of the stream) and write
 * what comes out.
 */
static bool
walwriter_step(WalWriter *w, const char *data, size_t len, bool finish)
{
	switch (w->method)
	{
		case WALCOMP_NONE:
			return write_all(w->fd, w->path, data, len);
		case WALCOMP_GZIP:
			{
				int			zr;

				w->zs.next_in = (Bytef *) data;
				w->zs.avail_in = len;
				do
				{
					w->zs.next_out = (Bytef *) w->out;
					w->zs.avail_out = w->outcap;
					zr = deflate(&w->zs, finish ? Z_FINISH : Z_NO_FLUSH);
					if (zr == Z_STREAM_ERROR)
					{
						log_error("gzip compression of \"%s\" failed", w->path);
						return false;
					}
					if (!write_all(w->fd, w->path, w->out, w->outcap - w->zs.avail_out))
						return false;
				} while (w->zs.avail_out == 0 || (finish && zr != Z_STREAM_END));
				return true;
			}
		case WALCOMP_LZ4:
			{
				while (len > 0 || finish)
				{
					size_t		chunk = Min(len, IO_BUF_SIZE);
					size_t		r;

					if (finish)
						r = LZ4F_compressEnd(w->lz4, w->out, w->outcap, NULL);
					else
						r = LZ4F_compressUpdate(w->lz4, w->out, w->outcap, data, chunk, NULL);
					if (LZ4F_isError(r))
					{
						log_error("lz4 compression of \"%s\" failed: %s", w->path,
								  LZ4F_getErrorName(r));
						return false;
					}
					if (!write_all(w->fd, w->path, w->out, r))
						return false;
					if (finish)
						break;
					data += chunk;
					len -= chunk;
				}
				return true;
			}
		case WALCOMP_ZSTD:
			{
				ZSTD_inBuffer in = {data, len, 0};
				size_t		left;

				do
				{
					ZSTD_outBuffer out = {w->out, w->outcap, 0};

					left = ZSTD_compressStream2(w->zstd, &out, &in,
												finish ? ZSTD_e_end : ZSTD_e_continue);
					if (ZSTD_isError(left))
					{
						log_error("zstd compression of \"%s\" failed: %s", w->path,
								  ZSTD_getErrorName(left));
						return false;
					}
					if (!write_all(w->fd, w->path, w->out, out.pos))
						return false;
				} while (finish ? left != 0 : in.pos < in.size);
				return true;
			}
	}
	return false;
}

bool
walwriter_write(WalWriter *w, const char *data, size_t len)
{
	return walwriter_step(w, data, len, false);
}

/* Finish the stream and free the writer; fd stays open. */
bool
walwriter_end(WalWriter *w)
{
	bool		ok = (w->method == WALCOMP_NONE) || walwriter_step(w, NULL, 0, true);

	if (w->method == WALCOMP_GZIP)
		deflateEnd(&w->zs);
	else if (w->method == WALCOMP_LZ4)
		LZ4F_freeCompressionContext(w->lz4);
	else if (w->method == WALCOMP_ZSTD)
		ZSTD_freeCCtx(w->zstd);
	pg_free(w->out);
	pg_free(w);
	return ok;
}

/*
 * Open an archived file for reading its original bytes; the format comes
 * from the name's suffix.  NULL with errno set if it cannot be opened
 * (ENOENT: not there), logged unless ENOENT.
 */
WalReader *
walreader_open(const char *path)
{
	WalReader  *r = pg_malloc0(sizeof(WalReader));
	size_t		len = strlen(path);
	int			i;

	for (i = 1; i < WALCOMP_COUNT; i++)
	{
		size_t		slen = strlen(suffixes[i]);

		if (len > slen && strcmp(path + len - slen, suffixes[i]) == 0)
			r->method = (WalCompression) i;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
	{
		int			save = errno;

		if (errno != ENOENT)
			log_error("could not open \"%s\": %m", path);
		pg_free(r);
		errno = save;
		return NULL;
	}
	r->path = pg_strdup(path);
	if (r->method == WALCOMP_NONE)
		return r;
	r->in = pg_malloc(IO_BUF_SIZE);
	if ((r->method == WALCOMP_GZIP && inflateInit2(&r->zs, 15 + 16) != Z_OK) ||
		(r->method == WALCOMP_LZ4 &&
		 LZ4F_isError(LZ4F_createDecompressionContext(&r->lz4, LZ4F_VERSION))) ||
		(r->method == WALCOMP_ZSTD && (r->zstd = ZSTD_createDCtx()) == NULL))
	{
		log_error("could not start decompressing \"%s\"", path);
		close(r->fd);
		pg_free(r->in);
		pg_free(r->path);
		pg_free(r);
		errno = EIO;
		return NULL;
	}
	return r;
}

bool
walreader_compressed(WalReader *r)
{
	return r->method != WALCOMP_NONE;
}

/* Refill the input buffer when it is used up; false after logging. */
static bool
fill_input(WalReader *r)
{
	ssize_t		n;

	if (r->inpos < r->inlen || r->ineof)
		return true;
	do
		n = read(r->fd, r->in, IO_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
	{
		log_error("could not read \"%s\": %m", r->path);
		return false;
	}
	r->inpos = 0;
	r->inlen = n;
	r->ineof = (n == 0);
	return true;
}

/*
 * Read up to len original bytes; less only at the end.  Returns -1 after
 * logging on a read error or damaged compressed data (including a frame
 * that is cut short or followed by garbage).
 */
ssize_t
walreader_read(WalReader *r, char *buf, size_t len)
{
	size_t		got = 0;

	while (got < len)
	{
		size_t		before = got;

		if (r->method == WALCOMP_NONE)
		{
			ssize_t		n = read(r->fd, buf + got, len - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
			{
				log_error("could not read \"%s\": %m", r->path);
				return -1;
			}
			if (n == 0)
				break;
			got += n;
			continue;
		}
		if (!fill_input(r))
			return -1;
		if (r->done)
		{
			if (r->inpos < r->inlen)
			{
				log_error("\"%s\" is damaged: data after the end of the compressed stream",
						  r->path);
				return -1;
			}
			if (r->ineof)
				break;
			continue;
		}
		if (r->ineof)
		{
			log_error("\"%s\" is damaged: the compressed stream is cut short", r->path);
			return -1;
		}
		if (r->method == WALCOMP_GZIP)
		{
			int			zr;

			r->zs.next_in = (Bytef *) r->in + r->inpos;
			r->zs.avail_in = r->inlen - r->inpos;
			r->zs.next_out = (Bytef *) buf + got;
			r->zs.avail_out = len - got;
			zr = inflate(&r->zs, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			{
				log_error("\"%s\" is damaged: %s", r->path,
						  r->zs.msg ? r->zs.msg : "gzip data error");
				return -1;
			}
			r->inpos = r->inlen - r->zs.avail_in;
			got = len - r->zs.avail_out;
			r->done = (zr == Z_STREAM_END);
		}
		else if (r->method == WALCOMP_LZ4)
		{
			size_t		outsize = len - got;
			size_t		insize = r->inlen - r->inpos;
			size_t		hint;

			hint = LZ4F_decompress(r->lz4, buf + got, &outsize,
								   r->in + r->inpos, &insize, NULL);
			if (LZ4F_isError(hint))
			{
				log_error("\"%s\" is damaged: %s", r->path, LZ4F_getErrorName(hint));
				return -1;
			}
			r->inpos += insize;
			got += outsize;
			r->done = (hint == 0);
		}
		else
		{
			ZSTD_inBuffer in = {r->in, r->inlen, r->inpos};
			ZSTD_outBuffer out = {buf, len, got};
			size_t		zr = ZSTD_decompressStream(r->zstd, &out, &in);

			if (ZSTD_isError(zr))
			{
				log_error("\"%s\" is damaged: %s", r->path, ZSTD_getErrorName(zr));
				return -1;
			}
			r->inpos = in.pos;
			got = out.pos;
			r->done = (zr == 0);
		}
		/* a step that consumed nothing and produced nothing needs input */
		if (got == before && r->inpos < r->inlen && !r->done)
		{
			log_error("\"%s\" is damaged: the decompressor is stuck", r->path);
			return -1;
		}
	}
	return got;
}

void
walreader_close(WalReader *r)
{
	if (r->method == WALCOMP_GZIP)
		inflateEnd(&r->zs);
	else if (r->method == WALCOMP_LZ4)
		LZ4F_freeDecompressionContext(r->lz4);
	else if (r->method == WALCOMP_ZSTD)
		ZSTD_freeDCtx(r->zstd);
	close(r->fd);
	pg_free(r->in);
	pg_free(r->path);
	pg_free(r);
}

/*
 * Hex SHA-256 of an archived file's original content (decompressed), or
 * NULL after logging.
 */
char *
stored_sha256(const char *path)
{
	WalReader  *r = walreader_open(path);
	pg_cryptohash_ctx *ctx;
	char	   *buf;
	ssize_t		n;

	if (r == NULL)
	{
		if (errno == ENOENT)
			log_error("could not open \"%s\": %m", path);
		return NULL;
	}
	buf = pg_malloc(IO_BUF_SIZE);
	ctx = sha256_begin();
	while ((n = walreader_read(r, buf, IO_BUF_SIZE)) > 0)
		sha256_update(ctx, buf, n);
	walreader_close(r);
	pg_free(buf);
	if (n < 0)
	{
		sha256_abort(ctx);
		return NULL;
	}
	return sha256_end(ctx);
}
