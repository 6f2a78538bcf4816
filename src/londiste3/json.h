/*-------------------------------------------------------------------------
 *
 * json.h
 *	  The one JSON reader of londiste3: jsontriga events in the worker
 *	  (worker/replay.c) and JSON column values in the obfuscate handler
 *	  (handlers/obfuscate_json.c) are parsed into the same tree.
 *
 * PostgreSQL's own frontend parser (common/jsonapi.h) is not used: the
 * obfuscate handler must read what Python's json.loads reads (NaN,
 * Infinity, unpaired surrogates), which it rejects.
 *
 * src/londiste3/json.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_JSON_H
#define LONDISTE_JSON_H

typedef enum LdJsonType
{
	LD_JSON_NULL,
	LD_JSON_FALSE,
	LD_JSON_TRUE,
	LD_JSON_NUMBER,				/* text: as written */
	LD_JSON_STRING,				/* text: unescaped UTF-8 */
	LD_JSON_ARRAY,
	LD_JSON_OBJECT
} LdJsonType;

typedef struct LdJson LdJson;
struct LdJson
{
	LdJsonType	type;
	char	   *text;			/* numbers and strings, else NULL */
	const char *src;			/* the value's JSON text in the parsed input */
	size_t		srclen;			/* (src is NULL for values made in code) */
	int			n;				/* array items or object members */
	char	  **keys;			/* object member names, repeats kept */
	LdJson	  **items;
};

/*
 * Parse a whole JSON text; NULL with *errmsg (palloc'd) if it is not one.
 * python_loads also takes what Python's json.loads takes beyond RFC 8259:
 * NaN, Infinity and -Infinity (LD_JSON_NUMBER) and \u escapes of unpaired
 * UTF-16 surrogates (kept as their 3-byte sequence).  \u0000 is an error
 * either way: the text could not be a C string.  src pointers stay valid
 * as long as the input does.
 */
extern LdJson *ld_json_parse(const char *json, bool python_loads,
							 char **errmsg);

/* a new value (text is taken over), an item added to an array or object */
extern LdJson *ld_json_new(LdJsonType type, char *text);
extern void ld_json_append(LdJson *container, char *key, LdJson *item);
extern void ld_json_free(LdJson *v);

#endif							/* LONDISTE_JSON_H */
