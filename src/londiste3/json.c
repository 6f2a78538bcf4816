/*-------------------------------------------------------------------------
 *
 * json.c
 *	  A JSON text as a tree of LdJson values (see json.h).
 *
 * src/londiste3/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/json.h"
#include "pqexpbuffer.h"

/*
 * Nesting deeper than this is refused rather than recursed into: a column
 * value of "[[[[..." must give an error, not overflow the stack.  Python's
 * json.loads stops near the same depth (its recursion limit).
 */
#define LD_JSON_MAX_DEPTH	1000

typedef struct JsonParser
{
	const char *p;
	bool		python_loads;
	int			depth;
	char	   *error;
} JsonParser;

static LdJson *parse_value(JsonParser *ps);
static LdJson *parse_members(JsonParser *ps, LdJson *v, bool object,
							 char close);

LdJson *
ld_json_new(LdJsonType type, char *text)
{
	LdJson	   *v = pg_malloc0(sizeof(LdJson));

	v->type = type;
	v->text = text;
	return v;
}

void
ld_json_append(LdJson *container, char *key, LdJson *item)
{
	int			n = container->n;

	container->items = pg_realloc(container->items, sizeof(LdJson *) * (n + 1));
	if (container->type == LD_JSON_OBJECT)
	{
		container->keys = pg_realloc(container->keys, sizeof(char *) * (n + 1));
		container->keys[n] = key;
	}
	container->items[n] = item;
	container->n++;
}

void
ld_json_free(LdJson *v)
{
	int			i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
	{
		if (v->keys)
			pg_free(v->keys[i]);
		ld_json_free(v->items[i]);
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

/* the first error wins: it says where the text went wrong */
static void *
fail(JsonParser *ps, const char *what)
{
	if (ps->error == NULL)
		ps->error = psprintf("%s at \"%.20s\"", what, ps->p);
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

/* the code point of a \u escape (ps->p after the "\u"); false on error */
static bool
read_unicode_escape(JsonParser *ps, unsigned int *cp)
{
	unsigned int low;

	if (!read_hex4(ps, cp))
	{
		fail(ps, "bad \\u escape");
		return false;
	}
	if (*cp == 0)
	{
		fail(ps, "\\u0000 cannot be stored");
		return false;
	}
	/* a surrogate pair is one character */
	if (*cp >= 0xD800 && *cp < 0xDC00 && ps->p[0] == '\\' && ps->p[1] == 'u')
	{
		const char *save = ps->p;

		ps->p += 2;
		if (read_hex4(ps, &low) && low >= 0xDC00 && low < 0xE000)
		{
			*cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
			return true;
		}
		ps->p = save;
	}
	if (*cp >= 0xD800 && *cp < 0xE000 && !ps->python_loads)
	{
		fail(ps, "unpaired surrogate");
		return false;
	}
	return true;
}

/* a string at ps->p (at the quote), unescaped; NULL on error */
static char *
parse_string(JsonParser *ps)
{
	PQExpBufferData buf;

	ps->p++;					/* the quote */
	initPQExpBuffer(&buf);
	while (*ps->p != '"')
	{
		unsigned char c = (unsigned char) *ps->p;
		unsigned int cp;

		if (c == '\0' || c < 0x20)
		{
			termPQExpBuffer(&buf);
			return fail(ps, c == '\0' ? "unterminated string" :
						"control character in string");
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
				if (!read_unicode_escape(ps, &cp))
				{
					termPQExpBuffer(&buf);
					return NULL;
				}
				append_utf8(&buf, cp);
				break;
			default:
				ps->p--;
				termPQExpBuffer(&buf);
				return fail(ps, "bad escape");
		}
	}
	ps->p++;
	return buf.data;
}

static bool
skip_digits(JsonParser *ps)
{
	if (!isdigit((unsigned char) *ps->p))
	{
		fail(ps, "bad number");
		return false;
	}
	while (isdigit((unsigned char) *ps->p))
		ps->p++;
	return true;
}

/* a number as written: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static char *
parse_number(JsonParser *ps)
{
	const char *start = ps->p;

	if (*ps->p == '-')
		ps->p++;
	if (ps->python_loads && strncmp(ps->p, "Infinity", 8) == 0)
		ps->p += 8;
	else
	{
		if (*ps->p == '0')
			ps->p++;
		else if (!skip_digits(ps))
			return NULL;
		if (*ps->p == '.')
		{
			ps->p++;
			if (!skip_digits(ps))
				return NULL;
		}
		if (*ps->p == 'e' || *ps->p == 'E')
		{
			ps->p++;
			if (*ps->p == '+' || *ps->p == '-')
				ps->p++;
			if (!skip_digits(ps))
				return NULL;
		}
	}
	return pnstrdup(start, ps->p - start);
}

static LdJson *
parse_container(JsonParser *ps, bool object)
{
	LdJson	   *v = ld_json_new(object ? LD_JSON_OBJECT : LD_JSON_ARRAY, NULL);
	char		close = object ? '}' : ']';
	LdJson	   *result;

	if (ps->depth >= LD_JSON_MAX_DEPTH)
	{
		ld_json_free(v);
		return fail(ps, "nesting too deep");
	}
	ps->depth++;
	result = parse_members(ps, v, object, close);
	ps->depth--;
	return result;
}

/* the items or members of v up to its close bracket; NULL (v freed) on error */
static LdJson *
parse_members(JsonParser *ps, LdJson *v, bool object, char close)
{
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
		LdJson	   *item;

		skip_space(ps);
		if (object)
		{
			if (*ps->p != '"')
			{
				ld_json_free(v);
				return fail(ps, "expected a member name");
			}
			if ((key = parse_string(ps)) == NULL)
			{
				ld_json_free(v);
				return NULL;
			}
			skip_space(ps);
			if (*ps->p != ':')
			{
				pg_free(key);
				ld_json_free(v);
				return fail(ps, "expected ':'");
			}
			ps->p++;
		}
		item = parse_value(ps);
		if (item == NULL)
		{
			pg_free(key);
			ld_json_free(v);
			return NULL;
		}
		ld_json_append(v, key, item);
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
		ld_json_free(v);
		return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* a literal word: true, false, null (NaN, Infinity for python_loads) */
static LdJson *
parse_word(JsonParser *ps)
{
	static const struct
	{
		const char *word;
		LdJsonType	type;
		bool		python_only;
	}			words[] = {
		{"true", LD_JSON_TRUE, false},
		{"false", LD_JSON_FALSE, false},
		{"null", LD_JSON_NULL, false},
		{"NaN", LD_JSON_NUMBER, true},
		{"Infinity", LD_JSON_NUMBER, true},
	};
	int			i;

	for (i = 0; i < lengthof(words); i++)
	{
		size_t		len = strlen(words[i].word);

		if (strncmp(ps->p, words[i].word, len) != 0 ||
			(words[i].python_only && !ps->python_loads))
			continue;
		ps->p += len;
		return ld_json_new(words[i].type, words[i].type == LD_JSON_NUMBER ?
						   pg_strdup(words[i].word) : NULL);
	}
	return fail(ps, "unexpected text");
}

static LdJson *
parse_value(JsonParser *ps)
{
	const char *start;
	LdJson	   *v;
	char	   *text;

	skip_space(ps);
	start = ps->p;
	switch (*ps->p)
	{
		case '{':
		case '[':
			v = parse_container(ps, *ps->p == '{');
			break;
		case '"':
			text = parse_string(ps);
			v = text ? ld_json_new(LD_JSON_STRING, text) : NULL;
			break;
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			text = parse_number(ps);
			v = text ? ld_json_new(LD_JSON_NUMBER, text) : NULL;
			break;
		default:
			v = parse_word(ps);
			break;
	}
	if (v != NULL)
	{
		v->src = start;
		v->srclen = ps->p - start;
	}
	return v;
}

LdJson *
ld_json_parse(const char *json, bool python_loads, char **errmsg)
{
	JsonParser	ps = {json, python_loads, 0, NULL};
	LdJson	   *v;

	*errmsg = NULL;
	v = parse_value(&ps);
	if (v != NULL)
	{
		skip_space(&ps);
		if (*ps.p != '\0')
		{
			ld_json_free(v);
			v = fail(&ps, "extra data");
		}
	}
	if (v == NULL)
		*errmsg = ps.error;
	return v;
}
