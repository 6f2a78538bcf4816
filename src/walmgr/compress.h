/*-------------------------------------------------------------------------
 *
 * compress.h
 *	  Compressed storage of archived segments (gzip, lz4, zstd).
 *
 * src/walmgr/compress.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMGR_COMPRESS_H
#define WALMGR_COMPRESS_H

#include "walmgr.h"

#define WALCOMP_COUNT 4

typedef struct WalWriter WalWriter;
typedef struct WalReader WalReader;

extern WalCompression walcomp_storage(Walmgr *wm);
extern const char *walcomp_suffix(WalCompression method);
extern const char *walcomp_name(WalCompression method);
extern WalFileKind walfile_classify_stored(const char *name);
extern char *archive_find(const char *dir, const char *name);
extern bool archive_has_compressed(const char *dir);

extern WalWriter *walwriter_begin(WalCompression method, int fd, const char *path);
extern bool walwriter_write(WalWriter *w, const char *data, size_t len);
extern bool walwriter_end(WalWriter *w);

extern WalReader *walreader_open(const char *path);
extern bool walreader_compressed(WalReader *r);
extern ssize_t walreader_read(WalReader *r, char *buf, size_t len);
extern void walreader_close(WalReader *r);
extern char *stored_sha256(const char *path);

#endif							/* WALMGR_COMPRESS_H */
