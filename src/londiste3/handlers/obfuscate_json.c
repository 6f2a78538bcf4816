/*-------------------------------------------------------------------------
 *
 * obfuscate_json.c
 *	  JSON values for the obfuscate handler: read as Python's json.loads
 *	  reads them (londiste3/json.c), reduced by rules and written back
 *	  exactly as Python's json.dumps() writes them (", " and ": "
 *	  separators, non-ASCII as \uXXXX, floats in repr form), so that our
 *	  obfuscated text and hashes equal python3-londiste's.
 *
 * src/londiste3/handlers/obfuscate_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>

#include "londiste3/handlers/obfuscate.h"
#include "londiste3/json.h"

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

/* numbers as Python reads and repr()s them: floats in repr form, -0 as 0 */
static void
python_numbers(LdJson *v)
{
	int			i;

	for (i = 0; i < v->n; i++)
		python_numbers(v->items[i]);
	if (v->type != LD_JSON_NUMBER)
		return;
	/* NaN and [-]Infinity are floats too; strtod reads them */
	if (strpbrk(v->text, ".eEIN") != NULL)
	{
		char	   *repr = python_float_repr(strtod(v->text, NULL));

		pg_free(v->text);
		v->text = repr;
	}
	else if (strcmp(v->text, "-0") == 0)
	{
		pg_free(v->text);
		v->text = pg_strdup("0");
	}
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
				if (cp < 0x20 || cp > 0x7E)
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
write_value(PQExpBuffer out, const LdJson *v)
{
	int			i;

	switch (v->type)
	{
		case LD_JSON_NULL:
			appendPQExpBufferStr(out, "null");
			break;
		case LD_JSON_FALSE:
			appendPQExpBufferStr(out, "false");
			break;
		case LD_JSON_TRUE:
			appendPQExpBufferStr(out, "true");
			break;
		case LD_JSON_NUMBER:
			appendPQExpBufferStr(out, v->text);
			break;
		case LD_JSON_STRING:
			write_string(out, v->text);
			break;
		case LD_JSON_ARRAY:
		case LD_JSON_OBJECT:
			appendPQExpBufferChar(out, v->type == LD_JSON_ARRAY ? '[' : '{');
			for (i = 0; i < v->n; i++)
			{
				if (i > 0)
					appendPQExpBufferStr(out, ", ");
				if (v->type == LD_JSON_OBJECT)
				{
					write_string(out, v->keys[i]);
					appendPQExpBufferStr(out, ": ");
				}
				write_value(out, v->items[i]);
			}
			appendPQExpBufferChar(out, v->type == LD_JSON_ARRAY ? ']' : '}');
			break;
	}
}

/* a deep copy, for values kept as they are */
static LdJson *
copy_value(const LdJson *v)
{
	LdJson	   *c = ld_json_new(v->type, v->text ? pg_strdup(v->text) : NULL);
	int			i;

	c->n = v->n;
	if (v->n > 0)
	{
		c->items = pg_malloc(sizeof(LdJson *) * v->n);
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
hash_input(const LdJson *v)
{
	switch (v->type)
	{
		case LD_JSON_TRUE:
			return "1";			/* a bool is an int to Python */
		case LD_JSON_FALSE:
			return "0";
		case LD_JSON_NULL:
			return NULL;
		case LD_JSON_NUMBER:
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
truthy(const LdJson *v)
{
	switch (v->type)
	{
		case LD_JSON_FALSE:
			return false;
		case LD_JSON_NUMBER:
			return strtod(v->text, NULL) != 0.0 || strcmp(v->text, "NaN") == 0;
		case LD_JSON_STRING:
			return v->text[0] != '\0';
		default:
			return true;
	}
}

/* the member of an object, the last one if repeated (as Python's dict) */
static const LdJson *
member(const LdJson *obj, const char *key)
{
	int			i;

	for (i = obj->n - 1; i >= 0; i--)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

/* the value reduced by the rule; NULL for nothing (Python's None) */
static LdJson *
obfuscate_value(const LdJson *v, const ObfRule *rule, const uint8 *key,
				size_t keylen)
{
	const char *input;
	char	   *hashed;
	int			i;

	if (rule->action == OBF_MAP)
	{
		LdJson	   *result;

		if (v == NULL || v->type != LD_JSON_OBJECT)
			return NULL;
		result = ld_json_new(LD_JSON_OBJECT, NULL);
		for (i = 0; i < rule->nmembers; i++)
		{
			LdJson	   *m = obfuscate_value(member(v, rule->members[i].name),
											&rule->members[i], key, keylen);

			if (m == NULL)
				continue;
			ld_json_append(result, pg_strdup(rule->members[i].name), m);
		}
		if (result->n == 0)
		{
			ld_json_free(result);
			return NULL;
		}
		return result;
	}
	if (v == NULL || v->type == LD_JSON_NULL)
		return NULL;
	if (rule->action == OBF_KEEP)
		return copy_value(v);
	if (rule->action == OBF_SKIP || v->type == LD_JSON_ARRAY ||
		v->type == LD_JSON_OBJECT)
		return NULL;
	if (rule->action == OBF_BOOL)
		return ld_json_new(LD_JSON_STRING, pg_strdup(truthy(v) ? "t" : "f"));
	input = hash_input(v);
	hashed = ld_obf_hash(rule->action, input, strlen(input), key, keylen);
	return ld_json_new(rule->action == OBF_HASH ? LD_JSON_STRING : LD_JSON_NUMBER,
					   hashed);
}

char *
ld_obf_json(const char *json, const ObfRule *rule, const uint8 *key,
			size_t keylen, char **errmsg)
{
	LdJson	   *v;
	LdJson	   *result;
	PQExpBufferData out;
	char	   *text;
	char	   *error;

	v = ld_json_parse(json, true, &error);
	if (v == NULL)
	{
		*errmsg = psprintf("invalid JSON: %s", error);
		pg_free(error);
		return NULL;
	}
	*errmsg = NULL;
	python_numbers(v);
	result = obfuscate_value(v, rule, key, keylen);
	initPQExpBuffer(&out);
	if (result == NULL)
		appendPQExpBufferStr(&out, "{}");
	else
		write_value(&out, result);
	text = pg_strdup(out.data);
	termPQExpBuffer(&out);
	ld_json_free(v);
	ld_json_free(result);
	return text;
}
