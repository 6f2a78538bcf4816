/*-------------------------------------------------------------------------
 *
 * obfuscate.c
 *	  obfuscate: the table's columns kept, hashed, reduced to a flag or
 *	  left out, by the rules of a YAML file; on replay, in the initial
 *	  copy and in the events passed downstream alike.
 *
 * Config: obfuscator_map = rules.yaml, obfuscator_key = the hash key
 * (up to 32 bytes, default empty).  The file maps each table (fq name)
 * to its columns' rules: keep, skip (also for columns not listed), bool
 * ('t' for a non-empty value, 'f' for empty), hash (keyed BLAKE2s-128
 * shown as a UUID of variant 0), hash32, hash64 (signed integers), or,
 * for a JSON column, a map of the same rules for its members.  Hashes
 * equal python3-londiste's for the same key.  Needs urlencoded row
 * events (pgq.logutriga).
 *
 * src/londiste3/handlers/obfuscate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <blake2.h>
#include <yaml.h>

#include "framework/config.h"
#include "framework/log.h"
#include "londiste3/handlers/obfuscate.h"

static const char *const no_args[] = {NULL};

typedef struct Obfuscate
{
	const ObfRule *rules;		/* the table's: an OBF_MAP */
	uint8		key[32];
	size_t		keylen;
	char	   *qdest;
	PgqEvent	copy;			/* copy_event's rewrite */
	char	   *copy_data;
} Obfuscate;

/* the loaded file: one rule tree per process, as Python loads it once */
static ObfRule *loaded_map;
static char *loaded_path;

/*
 * Keyed BLAKE2s with an outlen-byte digest, as Python's hashlib.blake2s(
 * digest_size=outlen, key=key): the digest size is part of the hash, so a
 * short digest is not a prefix of a long one.  libb2 has this; OpenSSL 3.0
 * has only the 32-byte hash, and its BLAKE2SMAC needs a key, where the
 * default obfuscator_key is empty.
 */
static void
obf_blake2s(uint8 *out, size_t outlen, const uint8 *key, size_t keylen,
			const char *value, size_t len)
{
	/* fails only for sizes the callers never pass (the key is checked at init) */
	if (blake2s(out, value, key, outlen, len, keylen) != 0)
	{
		sky_log(SKY_LOG_ERROR, "blake2s failed: digest of %zu bytes, key of %zu bytes",
				outlen, keylen);
		exit(LD_EXIT_ERROR);
	}
}

char *
ld_obf_hash(ObfAction action, const char *value, size_t len,
			const uint8 *key, size_t keylen)
{
	uint8		digest[16];
	uint64		n = 0;
	int			i;

	if (value == NULL)
		return NULL;
	if (action == OBF_HASH32 || action == OBF_HASH64)
	{
		int			size = action == OBF_HASH32 ? 4 : 8;

		obf_blake2s(digest, size, key, keylen, value, len);
		for (i = 0; i < size; i++)
			n = (n << 8) | digest[i];
		if (size == 4)
			return psprintf("%d", (int32) (uint32) n);
		return psprintf("%lld", (long long) (int64) n);
	}
	obf_blake2s(digest, 16, key, keylen, value, len);
	/* variant 0: the top bit of byte 8 cleared */
	digest[8] &= 0x7F;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
					"%02x%02x%02x%02x%02x%02x",
					digest[0], digest[1], digest[2], digest[3], digest[4],
					digest[5], digest[6], digest[7], digest[8], digest[9],
					digest[10], digest[11], digest[12], digest[13],
					digest[14], digest[15]);
}

static bool
parse_action(const char *text, ObfAction *action)
{
	static const struct
	{
		const char *name;
		ObfAction	action;
	}			actions[] = {
		{"keep", OBF_KEEP}, {"skip", OBF_SKIP}, {"bool", OBF_BOOL},
		{"hash", OBF_HASH}, {"hash32", OBF_HASH32}, {"hash64", OBF_HASH64},
	};
	int			i;

	for (i = 0; i < lengthof(actions); i++)
		if (strcmp(actions[i].name, text) == 0)
		{
			*action = actions[i].action;
			return true;
		}
	return false;
}

/* a YAML mapping as a rule map; false (logged) for anything else */
static bool
load_rules(yaml_document_t *doc, yaml_node_t *node, ObfRule *rule,
		   const char *path, bool top)
{
	yaml_node_pair_t *pair;

	rule->action = OBF_MAP;
	if (node == NULL || node->type != YAML_MAPPING_NODE)
	{
		sky_log(SKY_LOG_ERROR, "%s: %s must be a mapping (line %lu)", path,
				rule->name ? rule->name : "the document",
				node ? (unsigned long) node->start_mark.line + 1 : 0);
		return false;
	}
	for (pair = node->data.mapping.pairs.start;
		 pair < node->data.mapping.pairs.top; pair++)
	{
		yaml_node_t *k = yaml_document_get_node(doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(doc, pair->value);
		ObfRule    *m = NULL;
		char	   *name;
		int			i;

		if (k->type != YAML_SCALAR_NODE)
		{
			sky_log(SKY_LOG_ERROR, "%s: line %lu: names must be scalars", path,
					(unsigned long) k->start_mark.line + 1);
			return false;
		}
		name = pnstrdup((const char *) k->data.scalar.value, k->data.scalar.length);
		/* a repeated name: the last rule wins, as in Python */
		for (i = 0; i < rule->nmembers; i++)
			if (strcmp(rule->members[i].name, name) == 0)
			{
				m = &rule->members[i];
				pg_free(name);
				break;
			}
		if (m == NULL)
		{
			rule->members = pg_realloc(rule->members,
									   sizeof(ObfRule) * (rule->nmembers + 1));
			m = &rule->members[rule->nmembers++];
			memset(m, 0, sizeof(ObfRule));
			m->name = name;
		}
		if (top || v->type == YAML_MAPPING_NODE)
		{
			if (!load_rules(doc, v, m, path, false))
				return false;
		}
		else if (v->type != YAML_SCALAR_NODE ||
				 !parse_action((const char *) v->data.scalar.value, &m->action))
		{
			sky_log(SKY_LOG_ERROR, "%s: line %lu: invalid rule for %s (use keep, skip, bool, hash, hash32, hash64 or a mapping)",
					path, (unsigned long) v->start_mark.line + 1, m->name);
			return false;
		}
	}
	return true;
}

static ObfRule *
load_map(const char *path)
{
	FILE	   *f;
	yaml_parser_t parser;
	yaml_document_t doc;
	ObfRule    *map;
	bool		ok;

	if (loaded_map != NULL && strcmp(loaded_path, path) == 0)
		return loaded_map;
	f = fopen(path, "rb");
	if (f == NULL)
	{
		sky_log(SKY_LOG_ERROR, "cannot open obfuscator_map %s: %m", path);
		return NULL;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc))
	{
		sky_log(SKY_LOG_ERROR, "%s: line %lu: %s", path,
				(unsigned long) parser.problem_mark.line + 1,
				parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		fclose(f);
		return NULL;
	}
	map = pg_malloc0(sizeof(ObfRule));
	ok = load_rules(&doc, yaml_document_get_root_node(&doc), map, path, true);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (!ok)
		return NULL;			/* the half-built map is left to exit */
	loaded_map = map;
	pg_free(loaded_path);
	loaded_path = pg_strdup(path);
	return map;
}

static const ObfRule *
find_rule(const ObfRule *map, const char *name)
{
	int			i;

	for (i = 0; i < map->nmembers; i++)
		if (strcmp(map->members[i].name, name) == 0)
			return &map->members[i];
	return NULL;
}

static bool
obfuscate_init(LdHandler *h)
{
	Obfuscate  *ob = h->private;
	char	   *path;
	char	   *key;
	const ObfRule *map;

	path = sky_config_get_file(h->ld->script.cf, "obfuscator_map", "");
	if (path[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "the obfuscate handler needs config key obfuscator_map");
		pg_free(path);
		return false;
	}
	map = load_map(path);
	pg_free(path);
	if (map == NULL)
		return false;
	/* a table without rules fails where it is used, as in Python */
	ob->rules = find_rule(map, h->table_name);
	key = sky_config_get(h->ld->script.cf, "obfuscator_key", "");
	ob->keylen = strlen(key);
	if (ob->keylen > sizeof(ob->key))
	{
		sky_log(SKY_LOG_ERROR, "obfuscator_key is longer than 32 bytes");
		pg_free(key);
		return false;
	}
	memcpy(ob->key, key, ob->keylen);
	pg_free(key);
	ob->qdest = ld_sql_fqident(h->dest_table);
	return true;
}

static void
obfuscate_free(LdHandler *h)
{
	Obfuscate  *ob = h->private;

	pg_free(ob->qdest);
	pg_free(ob->copy_data);
}

static ObfAction
column_action(Obfuscate *ob, const char *column, const ObfRule **rule)
{
	*rule = ob->rules ? find_rule(ob->rules, column) : NULL;
	return *rule ? (*rule)->action : OBF_SKIP;
}

/* false (logged) if the map has no rules for the table */
static bool
have_rules(LdHandler *h)
{
	if (((Obfuscate *) h->private)->rules != NULL)
		return true;
	sky_log(SKY_LOG_ERROR, "Source table not in obf_map: %s", h->table_name);
	return false;
}

/*
 * One column's value (NULL for SQL NULL) obfuscated; *out is palloc'd or
 * NULL.  False (logged) for a JSON value that does not parse.
 */
static bool
obfuscate_value(LdHandler *h, const char *column, const char *value,
				char **out)
{
	Obfuscate  *ob = h->private;
	const ObfRule *rule;
	char	   *err;

	*out = NULL;
	switch (column_action(ob, column, &rule))
	{
		case OBF_SKIP:
			return true;
		case OBF_KEEP:
			*out = value ? pg_strdup(value) : NULL;
			return true;
		case OBF_BOOL:
			*out = value ? pg_strdup(value[0] ? "t" : "f") : NULL;
			return true;
		case OBF_MAP:
			if (value == NULL)
				return true;
			*out = ld_obf_json(value, rule, ob->key, ob->keylen, &err);
			if (*out == NULL)
			{
				sky_log(SKY_LOG_ERROR, "%s.%s: %s", h->table_name, column, err);
				pg_free(err);
				return false;
			}
			return true;
		default:
			*out = value ? ld_obf_hash(rule->action, value, strlen(value),
									   ob->key, ob->keylen) : NULL;
			return true;
	}
}

/* the event's row obfuscated: skipped columns gone */
static PgqDict *
obfuscate_row(LdHandler *h, const PgqEvent *ev, char *op, LdStringList *pkeys)
{
	PgqDict    *row;
	PgqDict    *out;
	int			i;

	if (ev->type && strlen(ev->type) >= 2 && ev->type[1] == ':' &&
		ev->data && ev->data[0] == '{')
	{
		sky_log(SKY_LOG_ERROR, "obfuscate: JSON row events are not supported (table %s)",
				h->table_name);
		return NULL;
	}
	if (!have_rules(h) || !ld_parse_row_event(h, ev, op, pkeys, &row))
		return NULL;
	out = pgq_dict_new();
	for (i = 0; i < pgq_dict_count(row); i++)
	{
		const char *col = pgq_dict_key(row, i);
		const ObfRule *rule;
		char	   *value;

		if (column_action(h->private, col, &rule) == OBF_SKIP)
			continue;
		if (!obfuscate_value(h, col, pgq_dict_value(row, i), &value))
		{
			pgq_dict_free(row);
			pgq_dict_free(out);
			return NULL;
		}
		pgq_dict_set(out, col, value);
		pg_free(value);
	}
	pgq_dict_free(row);
	return out;
}

static bool
obfuscate_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	Obfuscate  *ob = h->private;
	LdStringList pkeys = {0};
	PQExpBufferData sql;
	PgqDict    *row;
	char		op;
	bool		ok;

	row = obfuscate_row(h, ev, &op, &pkeys);
	if (row == NULL)
	{
		ld_names_reset(&pkeys);
		return false;
	}
	initPQExpBuffer(&sql);
	if (op == 'I')
	{
		ld_sql_insert(&sql, ob->qdest, row);
		ok = true;
	}
	else if (op == 'U')
		ok = ld_sql_update(&sql, ob->qdest, row, &pkeys);
	else
		ok = ld_sql_delete(&sql, ob->qdest, row, &pkeys);
	ok = ok && ld_apply_sql(apply, sql.data);
	termPQExpBuffer(&sql);
	pgq_dict_free(row);
	ld_names_reset(&pkeys);
	return ok;
}

/*
 * Downstream nodes get the obfuscated row.  An event that cannot be
 * obfuscated is dropped (with the error logged) rather than passed on in
 * clear.
 */
static const PgqEvent *
obfuscate_copy_event(LdHandler *h, const PgqEvent *ev)
{
	Obfuscate  *ob = h->private;
	LdStringList pkeys = {0};
	PgqDict    *row;
	char	   *data;
	char		op;

	if (ev->type && strcmp(ev->type, "R") == 0)
		return ev;
	row = obfuscate_row(h, ev, &op, &pkeys);
	ld_names_reset(&pkeys);
	if (row == NULL)
	{
		sky_log(SKY_LOG_ERROR, "event %lld of %s not passed downstream",
				(long long) ev->id, h->table_name);
		return NULL;
	}
	data = pgq_urlencode(row);
	pgq_dict_free(row);
	pg_free(ob->copy_data);
	ob->copy_data = pg_strdup(data);
	pgq_free(data);
	ob->copy = *ev;
	ob->copy.data = ob->copy_data;
	return &ob->copy;
}

static bool
obfuscate_copy_columns(LdHandler *h, LdStringList *src_cols,
					   LdStringList *dst_cols)
{
	LdStringList keep = {0};
	const ObfRule *rule;
	int			i;

	/* without rules copy_row fails on the first row, with the error */
	if (((Obfuscate *) h->private)->rules == NULL)
		return true;
	for (i = 0; i < src_cols->n; i++)
		if (column_action(h->private, src_cols->items[i], &rule) != OBF_SKIP)
			ld_names_add(&keep, src_cols->items[i]);
	ld_names_reset(src_cols);
	ld_names_reset(dst_cols);
	*src_cols = keep;
	for (i = 0; i < keep.n; i++)
		ld_names_add(dst_cols, keep.items[i]);
	return true;
}

static char *
obfuscate_copy_row(LdHandler *h, const char *row, const LdStringList *src_cols)
{
	PQExpBufferData out;
	const char *start = row;
	char	   *result;
	int			i;

	if (!have_rules(h))
		return NULL;
	initPQExpBuffer(&out);
	for (i = 0; i < src_cols->n; i++)
	{
		const char *end = strchr(start, '\t');
		size_t		len = end ? (size_t) (end - start) : strlen(start);
		bool		isnull;
		char	   *value = ld_copy_unescape(start, len, &isnull);
		char	   *obf;

		if (!obfuscate_value(h, src_cols->items[i], value, &obf))
		{
			pg_free(value);
			termPQExpBuffer(&out);
			return NULL;
		}
		if (i > 0)
			appendPQExpBufferChar(&out, '\t');
		ld_append_copy_value(&out, obf);
		pg_free(obf);
		pg_free(value);
		if (end == NULL)
			break;
		start = end + 1;
	}
	result = pg_strdup(out.data);
	termPQExpBuffer(&out);
	return result;
}

const LdHandlerClass ld_handler_obfuscate = {
	.name = "obfuscate",
	.module = "londiste.handlers.obfuscate",
	.doc = "Replicates the table with its columns obfuscated by rules.\n"
	"\n"
	"The rules come from the YAML file of config key obfuscator_map: per\n"
	"table (fq name), per column one of keep, skip (the default), bool\n"
	"('t' for a non-empty value, 'f' for empty), hash (keyed BLAKE2s as a\n"
	"UUID), hash32 and hash64 (signed integers), or for a JSON column a\n"
	"mapping of rules for its members.  The hash key is config key\n"
	"obfuscator_key.  Replay, the initial copy and the events passed\n"
	"downstream are all obfuscated.  Needs urlencoded (logutriga) events.\n",
	.args = no_args,
	.private_size = sizeof(Obfuscate),
	.init = obfuscate_init,
	.process_event = obfuscate_event,
	.copy_event = obfuscate_copy_event,
	.copy_columns = obfuscate_copy_columns,
	.copy_row = obfuscate_copy_row,
	.free_private = obfuscate_free,
};
