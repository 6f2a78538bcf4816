/*-------------------------------------------------------------------------
 *
 * obfuscate.h
 *	  The obfuscate handler's pieces: rules, keyed hashes, JSON.
 *
 * src/londiste3/handlers/obfuscate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_OBFUSCATE_H
#define LONDISTE_OBFUSCATE_H

#include "londiste3/handlers/rowsql.h"

/* what to do with a column or a JSON member */
typedef enum ObfAction
{
	OBF_SKIP,					/* left out (the default) */
	OBF_KEEP,
	OBF_BOOL,					/* 't' if the value is non-empty, else 'f' */
	OBF_HASH,					/* 128-bit hash as a variant-0 UUID */
	OBF_HASH32,					/* signed 32-bit hash */
	OBF_HASH64,					/* signed 64-bit hash */
	OBF_MAP						/* a JSON value: rules for its members */
} ObfAction;

typedef struct ObfRule ObfRule;
struct ObfRule
{
	char	   *name;			/* column or member name */
	ObfAction	action;
	ObfRule    *members;		/* OBF_MAP: the members' rules */
	int			nmembers;
};

/* obfuscate.c: hashes of a value's text, as text; NULL stays NULL */
extern char *ld_obf_hash(ObfAction action, const char *value, size_t len,
						 const uint8 *key, size_t keylen);

/* obfuscate_json.c: a JSON text obfuscated by rules, as Python's json.dumps writes it */
extern char *ld_obf_json(const char *json, const ObfRule *rule,
						 const uint8 *key, size_t keylen, char **errmsg);

#endif							/* LONDISTE_OBFUSCATE_H */
