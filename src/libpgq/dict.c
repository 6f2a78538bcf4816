/*-------------------------------------------------------------------------
 *
 * dict.c
 *	  PgqDict, an ordered string map whose values may be NULL, and PgQ's
 *	  urlencoding of it (the ev_data of logutriga events).
 *
 * The encoding agrees with python3-skytools' db_urlencode/db_urldecode:
 * pairs joined with '&', key and value separated by the first '=', a
 * key without '=' stands for NULL; letters, digits and "-_." are kept,
 * space becomes '+', every other byte %xx (lowercase on output, either
 * case on input).  Empty pairs are skipped and a repeated key keeps its
 * last value.  A '%' not followed by two hex digits, or one encoding a
 * zero byte (C strings cannot hold it), makes the text malformed.
 *
 * src/libpgq/dict.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq.h"
#include "pqexpbuffer.h"

struct PgqDict
{
	int			count;
	int			size;
	char	  **keys;
	char	  **values;			/* NULL entries stand for SQL NULL */
};

PgqDict *
pgq_dict_new(void)
{
	return pg_malloc0(sizeof(PgqDict));
}

void
pgq_dict_free(PgqDict *dict)
{
	int			i;

	if (dict == NULL)
		return;
	for (i = 0; i < dict->count; i++)
	{
		pg_free(dict->keys[i]);
		pg_free(dict->values[i]);
	}
	pg_free(dict->keys);
	pg_free(dict->values);
	pg_free(dict);
}

static int
dict_find(const PgqDict *dict, const char *key)
{
	int			i;

	for (i = 0; i < dict->count; i++)
		if (strcmp(dict->keys[i], key) == 0)
			return i;
	return -1;
}

/* set key to a copy of value (NULL for SQL NULL), replacing an old value */
void
pgq_dict_set(PgqDict *dict, const char *key, const char *value)
{
	int			i = dict_find(dict, key);

	if (i < 0)
	{
		if (dict->count == dict->size)
		{
			dict->size = dict->size ? dict->size * 2 : 8;
			dict->keys = pg_realloc(dict->keys, sizeof(char *) * dict->size);
			dict->values = pg_realloc(dict->values, sizeof(char *) * dict->size);
		}
		i = dict->count++;
		dict->keys[i] = pg_strdup(key);
	}
	else
		pg_free(dict->values[i]);
	dict->values[i] = value ? pg_strdup(value) : NULL;
}

bool
pgq_dict_get(const PgqDict *dict, const char *key, const char **value)
{
	int			i = dict_find(dict, key);

	if (i < 0)
		return false;
	*value = dict->values[i];
	return true;
}

int
pgq_dict_count(const PgqDict *dict)
{
	return dict->count;
}

const char *
pgq_dict_key(const PgqDict *dict, int i)
{
	return (i >= 0 && i < dict->count) ? dict->keys[i] : NULL;
}

const char *
pgq_dict_value(const PgqDict *dict, int i)
{
	return (i >= 0 && i < dict->count) ? dict->values[i] : NULL;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decode len bytes of s into a new string; NULL if malformed */
static char *
decode_part(const char *s, size_t len)
{
	char	   *out = pg_malloc(len + 1);
	char	   *o = out;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%')
		{
			int			hi;
			int			lo;

			if (i + 2 >= len)
				goto bad;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char) (hi * 16 + lo);
			i += 2;
		}
		else
			*o++ = s[i];
	}
	*o = '\0';
	return out;

bad:
	pg_free(out);
	return NULL;
}

PgqDict *
pgq_urldecode(const char *text)
{
	PgqDict    *dict = pgq_dict_new();
	const char *p = text;

	if (text == NULL)
		return dict;
	while (*p)
	{
		const char *end = strchr(p, '&');
		const char *eq;
		size_t		len;
		char	   *key;
		char	   *value = NULL;

		len = end ? (size_t) (end - p) : strlen(p);
		if (len > 0)
		{
			eq = memchr(p, '=', len);
			key = decode_part(p, eq ? (size_t) (eq - p) : len);
			if (eq != NULL && key != NULL)
			{
				value = decode_part(eq + 1, len - (eq - p) - 1);
				if (value == NULL)
				{
					pg_free(key);
					key = NULL;
				}
			}
			if (key == NULL)
			{
				pgq_dict_free(dict);
				return NULL;
			}
			pgq_dict_set(dict, key, value);
			pg_free(key);
			pg_free(value);
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return dict;
}

static void
encode_part(PQExpBuffer buf, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
			appendPQExpBufferChar(buf, (char) *p);
		else if (*p == ' ')
			appendPQExpBufferChar(buf, '+');
		else
			appendPQExpBuffer(buf, "%%%02x", *p);
	}
}

char *
pgq_urlencode(const PgqDict *dict)
{
	PQExpBufferData buf;
	char	   *result;
	int			i;

	initPQExpBuffer(&buf);
	for (i = 0; i < dict->count; i++)
	{
		if (i > 0)
			appendPQExpBufferChar(&buf, '&');
		encode_part(&buf, dict->keys[i]);
		if (dict->values[i] != NULL)
		{
			appendPQExpBufferChar(&buf, '=');
			encode_part(&buf, dict->values[i]);
		}
	}
	result = strdup(buf.data);
	termPQExpBuffer(&buf);
	if (result == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return result;
}
