/*-------------------------------------------------------------------------
 *
 * json.c
 *	  JSON values for the obfuscate handler: parsed, reduced by rules and
 *	  written back exactly as Python's json.dumps() writes them (", " and
 *	  ": " separators, non-ASCII as \uXXXX, floats in repr form), so that
 *	  our obfuscated text and hashes equal python3-londiste's.
 *
 * src/londiste3/handlers/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>

#include "londiste3/handlers/obfuscate.h"

typedef enum JsonType
{
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_INT,					/* text: the digits, as written */
	JSON_FLOAT,					/* text: Python's repr() */
	JSON_STRING,				/* text: UTF-8 */
	JSON_ARRAY,
	JSON_OBJECT
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue
{
	JsonType	type;
	char	   *text;
	int			n;				/* array items or object members */
	char	  **keys;
	JsonValue **items;
};

typedef struct JsonParser
{
	const char *p;
	char	   *error;
} JsonParser;

static JsonValue *parse_value(JsonParser *ps);

static JsonValue *
new_value(JsonType type, char *text)
{
	JsonValue  *v = pg_malloc0(sizeof(JsonValue));

	v->type = type;
	v->text = text;
	return v;
}

static void
free_value(JsonValue *v)
{
	int			i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
	{
		if (v->keys)
			pg_free(v->keys[i]);
		free_value(v->items[i]);
	}
	pg_free(v->keys);
	pg_free(v->items);
	pg_free(v->text);
	pg_free(v);
}

static void
skip_space(JsonParser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static JsonValue *
fail(JsonParser *ps, const char *what)
{
	if (ps->error == NULL)
		ps->error = psprintf("invalid JSON: %s at \"%.20s\"", what, ps->p);
	return NULL;
}

static void
append_utf8(PQExpBuffer buf, unsigned int cp)
{
	if (cp < 0x80)
		appendPQExpBufferChar(buf, (char) cp);
	else if (cp < 0x800)
	{
		appendPQExpBufferChar(buf, (char) (0xC0 | (cp >> 6)));
		appendPQExpBufferChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else if (cp < 0x10000)
	{
		appendPQExpBufferChar(buf, (char) (0xE0 | (cp >> 12)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else
	{
		appendPQExpBufferChar(buf, (char) (0xF0 | (cp >> 18)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((cp >> 12) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
}

static bool
read_hex4(JsonParser *ps, unsigned int *cp)
{
	int			i;

	*cp = 0;
	for (i = 0; i < 4; i++)
	{
		char		c = ps->p[i];

		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*cp |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*cp |= c - 'A' + 10;
		else
			return false;
	}
	ps->p += 4;
	return true;
}

static char *
parse_string(JsonParser *ps)
{
	PQExpBufferData buf;
	char	   *result;

	ps->p++;					/* the quote */
	initPQExpBuffer(&buf);
	while (*ps->p != '"')
	{
		unsigned char c = (unsigned char) *ps->p;

		if (c == '\0' || c < 0x20)
		{
			termPQExpBuffer(&buf);
			fail(ps, "bad string");
			return NULL;
		}
		ps->p++;
		if (c != '\\')
		{
			appendPQExpBufferChar(&buf, (char) c);
			continue;
		}
		c = (unsigned char) *ps->p++;
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				appendPQExpBufferChar(&buf, (char) c);
				break;
			case 'b':
				appendPQExpBufferChar(&buf, '\b');
				break;
			case 'f':
				appendPQExpBufferChar(&buf, '\f');
				break;
			case 'n':
				appendPQExpBufferChar(&buf, '\n');
				break;
			case 'r':
				appendPQExpBufferChar(&buf, '\r');
				break;
			case 't':
				appendPQExpBufferChar(&buf, '\t');
				break;
			case 'u':
				{
					unsigned int cp;
					unsigned int low;

					if (!read_hex4(ps, &cp))
					{
						termPQExpBuffer(&buf);
						fail(ps, "bad \\u escape");
						return NULL;
					}
					/* a surrogate pair is one character */
					if (cp >= 0xD800 && cp < 0xDC00 && ps->p[0] == '\\' &&
						ps->p[1] == 'u')
					{
						const char *save = ps->p;

						ps->p += 2;
						if (read_hex4(ps, &low) && low >= 0xDC00 && low < 0xE000)
							cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
						else
							ps->p = save;
					}
					append_utf8(&buf, cp);
					break;
				}
			default:
				termPQExpBuffer(&buf);
				fail(ps, "bad escape");
				return NULL;
		}
	}
	ps->p++;
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * A double as Python's repr(): the shortest digits that read back the
 * same, fixed notation for exponents -4..15 (with ".0" when integral),
 * else d.ddde+XX.
 */
static char *
python_float_repr(double x)
{
	char		buf[64];
	char		digits[32];
	int			ndigits = 0;
	int			exp10;
	int			prec;
	char	   *p;
	PQExpBufferData out;
	char	   *result;
	int			i;

	if (isnan(x))
		return pg_strdup("NaN");
	if (isinf(x))
		return pg_strdup(x > 0 ? "Infinity" : "-Infinity");
	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* buf is [-]d[.ddd]e[+-]XX */
	initPQExpBuffer(&out);
	p = buf;
	if (*p == '-')
	{
		appendPQExpBufferChar(&out, '-');
		p++;
	}
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[ndigits++] = *p;
	exp10 = atoi(p + 1);
	while (ndigits > 1 && digits[ndigits - 1] == '0')
		ndigits--;
	if (exp10 >= -4 && exp10 < 16)
	{
		if (exp10 < 0)
		{
			appendPQExpBufferStr(&out, "0.");
			for (i = 0; i < -exp10 - 1; i++)
				appendPQExpBufferChar(&out, '0');
			appendBinaryPQExpBuffer(&out, digits, ndigits);
		}
		else
		{
			for (i = 0; i <= exp10; i++)
				appendPQExpBufferChar(&out, i < ndigits ? digits[i] : '0');
			appendPQExpBufferChar(&out, '.');
			if (ndigits > exp10 + 1)
				appendBinaryPQExpBuffer(&out, digits + exp10 + 1,
										ndigits - exp10 - 1);
			else
				appendPQExpBufferChar(&out, '0');
		}
	}
	else
	{
		appendPQExpBufferChar(&out, digits[0]);
		if (ndigits > 1)
		{
			appendPQExpBufferChar(&out, '.');
			appendBinaryPQExpBuffer(&out, digits + 1, ndigits - 1);
		}
		appendPQExpBuffer(&out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	result = pg_strdup(out.data);
	termPQExpBuffer(&out);
	return result;
}

static JsonValue *
parse_number(JsonParser *ps)
{
	const char *start = ps->p;
	bool		is_float = false;
	char	   *token;

	if (*ps->p == '-')
		ps->p++;
	if (strncmp(ps->p, "Infinity", 8) == 0)
	{
		ps->p += 8;
		return new_value(JSON_FLOAT, pg_strdup(*start == '-' ? "-Infinity" : "Infinity"));
	}
	if (!isdigit((unsigned char) *ps->p))
		return fail(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (isdigit((unsigned char) *ps->p))
			ps->p++;
	if (*ps->p == '.')
	{
		is_float = true;
		ps->p++;
		if (!isdigit((unsigned char) *ps->p))
			return fail(ps, "bad number");
		while (isdigit((unsigned char) *ps->p))
			ps->p++;
	}
	if (*ps->p == 'e' || *ps->p == 'E')
	{
		is_float = true;
		ps->p++;
		if (*ps->p == '+' || *ps->p == '-')
			ps->p++;
		if (!isdigit((unsigned char) *ps->p))
			return fail(ps, "bad number");
		while (isdigit((unsigned char) *ps->p))
			ps->p++;
	}
	token = pnstrdup(start, ps->p - start);
	if (is_float)
	{
		char	   *repr = python_float_repr(strtod(token, NULL));

		pg_free(token);
		return new_value(JSON_FLOAT, repr);
	}
	if (strcmp(token, "-0") == 0)
	{
		pg_free(token);
		token = pg_strdup("0");
	}
	return new_value(JSON_INT, token);
}

static JsonValue *
parse_container(JsonParser *ps, bool object)
{
	JsonValue  *v = new_value(object ? JSON_OBJECT : JSON_ARRAY, NULL);
	char		close = object ? '}' : ']';

	ps->p++;
	skip_space(ps);
	if (*ps->p == close)
	{
		ps->p++;
		return v;
	}
	for (;;)
	{
		char	   *key = NULL;
		JsonValue  *item;

		skip_space(ps);
		if (object)
		{
			if (*ps->p != '"' || (key = parse_string(ps)) == NULL)
			{
				free_value(v);
				return fail(ps, "expected a member name");
			}
			skip_space(ps);
			if (*ps->p++ != ':')
			{
				pg_free(key);
				free_value(v);
				return fail(ps, "expected ':'");
			}
		}
		item = parse_value(ps);
		if (item == NULL)
		{
			pg_free(key);
			free_value(v);
			return NULL;
		}
		v->items = pg_realloc(v->items, sizeof(JsonValue *) * (v->n + 1));
		if (object)
		{
			v->keys = pg_realloc(v->keys, sizeof(char *) * (v->n + 1));
			v->keys[v->n] = key;
		}
		v->items[v->n++] = item;
		skip_space(ps);
		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (*ps->p == close)
		{
			ps->p++;
			return v;
		}
		free_value(v);
		return fail(ps, "expected ',' or end");
	}
}

static JsonValue *
parse_value(JsonParser *ps)
{
	skip_space(ps);
	switch (*ps->p)
	{
		case '{':
			return parse_container(ps, true);
		case '[':
			return parse_container(ps, false);
		case '"':
			{
				char	   *s = parse_string(ps);

				return s ? new_value(JSON_STRING, s) : NULL;
			}
		case 't':
			if (strncmp(ps->p, "true", 4) == 0)
			{
				ps->p += 4;
				return new_value(JSON_TRUE, NULL);
			}
			break;
		case 'f':
			if (strncmp(ps->p, "false", 5) == 0)
			{
				ps->p += 5;
				return new_value(JSON_FALSE, NULL);
			}
			break;
		case 'n':
			if (strncmp(ps->p, "null", 4) == 0)
			{
				ps->p += 4;
				return new_value(JSON_NULL, NULL);
			}
			break;
		case 'N':
			if (strncmp(ps->p, "NaN", 3) == 0)
			{
				ps->p += 3;
				return new_value(JSON_FLOAT, pg_strdup("NaN"));
			}
			break;
		default:
			return parse_number(ps);
	}
	return fail(ps, "unexpected text");
}

/* a string as json.dumps writes it: ASCII only */
static void
write_string(PQExpBuffer out, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	appendPQExpBufferChar(out, '"');
	while (*p)
	{
		unsigned int cp = *p;
		int			extra = 0;

		if (cp >= 0xF0)
		{
			cp &= 0x07;
			extra = 3;
		}
		else if (cp >= 0xE0)
		{
			cp &= 0x0F;
			extra = 2;
		}
		else if (cp >= 0xC0)
		{
			cp &= 0x1F;
			extra = 1;
		}
		p++;
		while (extra-- > 0 && (*p & 0xC0) == 0x80)
			cp = (cp << 6) | (*p++ & 0x3F);
		switch (cp)
		{
			case '"':
				appendPQExpBufferStr(out, "\\\"");
				break;
			case '\\':
				appendPQExpBufferStr(out, "\\\\");
				break;
			case '\n':
				appendPQExpBufferStr(out, "\\n");
				break;
			case '\r':
				appendPQExpBufferStr(out, "\\r");
				break;
			case '\t':
				appendPQExpBufferStr(out, "\\t");
				break;
			case '\b':
				appendPQExpBufferStr(out, "\\b");
				break;
			case '\f':
				appendPQExpBufferStr(out, "\\f");
				break;
			default:
				if (cp < 0x20 || (cp > 0x7E && cp != 0x7F))
				{
					if (cp >= 0x10000)
					{
						cp -= 0x10000;
						appendPQExpBuffer(out, "\\u%04x\\u%04x",
										  0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
					}
					else
						appendPQExpBuffer(out, "\\u%04x", cp);
				}
				else
					appendPQExpBufferChar(out, (char) cp);
		}
	}
	appendPQExpBufferChar(out, '"');
}

static void
write_value(PQExpBuffer out, const JsonValue *v)
{
	int			i;

	switch (v->type)
	{
		case JSON_NULL:
			appendPQExpBufferStr(out, "null");
			break;
		case JSON_FALSE:
			appendPQExpBufferStr(out, "false");
			break;
		case JSON_TRUE:
			appendPQExpBufferStr(out, "true");
			break;
		case JSON_INT:
		case JSON_FLOAT:
			appendPQExpBufferStr(out, v->text);
			break;
		case JSON_STRING:
			write_string(out, v->text);
			break;
		case JSON_ARRAY:
		case JSON_OBJECT:
			appendPQExpBufferChar(out, v->type == JSON_ARRAY ? '[' : '{');
			for (i = 0; i < v->n; i++)
			{
				if (i > 0)
					appendPQExpBufferStr(out, ", ");
				if (v->type == JSON_OBJECT)
				{
					write_string(out, v->keys[i]);
					appendPQExpBufferStr(out, ": ");
				}
				write_value(out, v->items[i]);
			}
			appendPQExpBufferChar(out, v->type == JSON_ARRAY ? ']' : '}');
			break;
	}
}

/* a deep copy, for values kept as they are */
static JsonValue *
copy_value(const JsonValue *v)
{
	JsonValue  *c = new_value(v->type, v->text ? pg_strdup(v->text) : NULL);
	int			i;

	c->n = v->n;
	if (v->n > 0)
	{
		c->items = pg_malloc(sizeof(JsonValue *) * v->n);
		if (v->keys)
			c->keys = pg_malloc(sizeof(char *) * v->n);
		for (i = 0; i < v->n; i++)
		{
			c->items[i] = copy_value(v->items[i]);
			if (v->keys)
				c->keys[i] = pg_strdup(v->keys[i]);
		}
	}
	return c;
}

/* the bytes Python hashes for a JSON scalar; NULL for null */
static const char *
hash_input(const JsonValue *v)
{
	switch (v->type)
	{
		case JSON_TRUE:
			return "1";			/* a bool is an int to Python */
		case JSON_FALSE:
			return "0";
		case JSON_NULL:
			return NULL;
		case JSON_FLOAT:
			/* json.dumps and repr() differ only here */
			if (strcmp(v->text, "NaN") == 0)
				return "nan";
			if (strcmp(v->text, "Infinity") == 0)
				return "inf";
			if (strcmp(v->text, "-Infinity") == 0)
				return "-inf";
			return v->text;
		default:
			return v->text;
	}
}

/* Python's truth value of a scalar */
static bool
truthy(const JsonValue *v)
{
	switch (v->type)
	{
		case JSON_FALSE:
			return false;
		case JSON_INT:
			return strcmp(v->text, "0") != 0;
		case JSON_FLOAT:
			return strtod(v->text, NULL) != 0.0 || strcmp(v->text, "NaN") == 0;
		case JSON_STRING:
			return v->text[0] != '\0';
		default:
			return true;
	}
}

/* the member of an object, the last one if repeated (as Python's dict) */
static const JsonValue *
member(const JsonValue *obj, const char *key)
{
	int			i;

	for (i = obj->n - 1; i >= 0; i--)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

/* the value reduced by the rule; NULL for nothing (Python's None) */
static JsonValue *
obfuscate_value(const JsonValue *v, const ObfRule *rule, const uint8 *key,
				size_t keylen)
{
	const char *input;
	char	   *hashed;
	int			i;

	if (rule->action == OBF_MAP)
	{
		JsonValue  *result;

		if (v == NULL || v->type != JSON_OBJECT)
			return NULL;
		result = new_value(JSON_OBJECT, NULL);
		for (i = 0; i < rule->nmembers; i++)
		{
			JsonValue  *m = obfuscate_value(member(v, rule->members[i].name),
											&rule->members[i], key, keylen);

			if (m == NULL)
				continue;
			result->items = pg_realloc(result->items, sizeof(JsonValue *) * (result->n + 1));
			result->keys = pg_realloc(result->keys, sizeof(char *) * (result->n + 1));
			result->keys[result->n] = pg_strdup(rule->members[i].name);
			result->items[result->n++] = m;
		}
		if (result->n == 0)
		{
			free_value(result);
			return NULL;
		}
		return result;
	}
	if (v == NULL || v->type == JSON_NULL)
		return NULL;
	if (rule->action == OBF_KEEP)
		return copy_value(v);
	if (rule->action == OBF_SKIP || v->type == JSON_ARRAY ||
		v->type == JSON_OBJECT)
		return NULL;
	if (rule->action == OBF_BOOL)
		return new_value(JSON_STRING, pg_strdup(truthy(v) ? "t" : "f"));
	input = hash_input(v);
	hashed = ld_obf_hash(rule->action, input, strlen(input), key, keylen);
	return new_value(rule->action == OBF_HASH ? JSON_STRING : JSON_INT, hashed);
}

char *
ld_obf_json(const char *json, const ObfRule *rule, const uint8 *key,
			size_t keylen, char **errmsg)
{
	JsonParser	ps = {json, NULL};
	JsonValue  *v;
	JsonValue  *result;
	PQExpBufferData out;
	char	   *text;

	*errmsg = NULL;
	v = parse_value(&ps);
	if (v != NULL)
	{
		skip_space(&ps);
		if (*ps.p != '\0')
		{
			free_value(v);
			v = fail(&ps, "extra data");
		}
	}
	if (v == NULL)
	{
		*errmsg = ps.error;
		return NULL;
	}
	result = obfuscate_value(v, rule, key, keylen);
	initPQExpBuffer(&out);
	if (result == NULL)
		appendPQExpBufferStr(&out, "{}");
	else
		write_value(&out, result);
	text = pg_strdup(out.data);
	termPQExpBuffer(&out);
	free_value(v);
	free_value(result);
	return text;
}
