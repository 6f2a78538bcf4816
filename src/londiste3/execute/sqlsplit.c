/*-------------------------------------------------------------------------
 *
 * sqlsplit.c
 *	  Split a file of SQL into statements (exec_attrs.h).
 *
 * A small lexer that knows what the server's lexer knows about where a
 * statement may not end: string constants ('', E'' with backslash
 * escapes, '' with them too when standard_conforming_strings is off),
 * quoted identifiers, dollar quotes ($$ and $tag$, but not $1 or a '$'
 * inside an identifier), -- and nested block comments, parentheses, and
 * the BEGIN ATOMIC ... END body of a CREATE FUNCTION or PROCEDURE.
 *
 * src/londiste3/execute/sqlsplit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include "framework/log.h"
#include "londiste3/execute/exec_attrs.h"

static bool
is_ident_start(char c)
{
	return isalpha((unsigned char) c) || c == '_' || IS_HIGHBIT_SET(c);
}

static bool
is_ident_char(char c)
{
	return is_ident_start(c) || isdigit((unsigned char) c) || c == '$';
}

/* The statement being scanned: what it has seen of its leading words. */
typedef struct StmtState
{
	int			nwords;			/* words seen at depth 0, up to 4 */
	char		words[4][16];	/* the first ones, lower case */
	bool		routine;		/* CREATE [OR REPLACE] FUNCTION|PROCEDURE */
	int			atomic_depth;	/* BEGIN [ATOMIC] ... END nesting */
	bool		copy_from;		/* COPY ... FROM seen */
	bool		copy_stdin;		/* ... STDIN after it */
	char		prev_word[16];
} StmtState;

/* a bare word (keyword or identifier) of the statement */
static void
see_word(StmtState *st, const char *w, size_t len)
{
	char		word[16];
	size_t		i;

	if (len >= sizeof(word))
		len = sizeof(word) - 1;
	for (i = 0; i < len; i++)
		word[i] = pg_tolower((unsigned char) w[i]);
	word[len] = '\0';

	if (st->nwords < 4)
	{
		strcpy(st->words[st->nwords++], word);
		if (st->nwords >= 2 && strcmp(st->words[0], "create") == 0)
		{
			const char *kind = st->words[st->nwords - 1];

			if ((st->nwords == 2 ||
				 (st->nwords == 4 && strcmp(st->words[1], "or") == 0 &&
				  strcmp(st->words[2], "replace") == 0)) &&
				(strcmp(kind, "function") == 0 || strcmp(kind, "procedure") == 0))
				st->routine = true;
		}
	}
	if (strcmp(st->words[0], "copy") == 0)
	{
		if (strcmp(word, "from") == 0)
			st->copy_from = true;
		else if (st->copy_from && strcmp(word, "stdin") == 0 &&
				 strcmp(st->prev_word, "from") == 0)
			st->copy_stdin = true;
	}
	/* a BEGIN ATOMIC body: its semicolons end no statement */
	if (st->routine)
	{
		if (strcmp(word, "begin") == 0)
			st->atomic_depth++;
		else if (strcmp(word, "case") == 0 && st->atomic_depth > 0)
			st->atomic_depth++;
		else if (strcmp(word, "end") == 0 && st->atomic_depth > 0)
			st->atomic_depth--;
	}
	strcpy(st->prev_word, word);
}

/* length of a dollar-quote tag starting at p ("$$", "$a$"), or 0 */
static size_t
dollar_tag(const char *p)
{
	const char *q = p + 1;

	if (*q == '$')
		return 2;
	if (!is_ident_start(*q))
		return 0;
	while (*q != '\0' && *q != '$' && is_ident_char(*q))
		q++;
	return *q == '$' ? (size_t) (q - p + 1) : 0;
}

static void
add_statement(LdStringList *stmts, const char *start, size_t len)
{
	stmts->items = pg_realloc(stmts->items, sizeof(char *) * (stmts->n + 1));
	stmts->items[stmts->n++] = pnstrdup(start, len);
}

bool
ld_split_statements(const char *sql, bool backslash_quotes,
					LdStringList *stmts, char **errmsg)
{
	const char *p = sql;
	const char *start = NULL;	/* first token of the current statement */
	int			parens = 0;
	StmtState	st;

	stmts->n = 0;
	stmts->items = NULL;
	*errmsg = NULL;
	memset(&st, 0, sizeof(st));

	while (*p != '\0')
	{
		/* white space and comments: not the start of a statement */
		if (isspace((unsigned char) *p))
		{
			p++;
			continue;
		}
		if (p[0] == '-' && p[1] == '-')
		{
			p += strcspn(p, "\n");
			continue;
		}
		if (p[0] == '/' && p[1] == '*')
		{
			int			depth = 1;

			p += 2;
			while (*p != '\0' && depth > 0)
			{
				if (p[0] == '/' && p[1] == '*')
					depth++, p += 2;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p += 2;
				else
					p++;
			}
			if (depth > 0)
			{
				*errmsg = pg_strdup("unterminated /* comment");
				goto fail;
			}
			continue;
		}

		if (start == NULL)
			start = p;

		if (*p == '\'' ||
			((*p == 'E' || *p == 'e') && p[1] == '\'' &&
			 (p == sql || !is_ident_char(p[-1]))))
		{
			bool		escapes = backslash_quotes || *p != '\'';

			if (*p != '\'')
				p++;
			p++;
			for (;;)
			{
				if (*p == '\0')
				{
					*errmsg = pg_strdup("unterminated quoted string");
					goto fail;
				}
				if (escapes && *p == '\\' && p[1] != '\0')
					p += 2;
				else if (*p == '\'' && p[1] == '\'')
					p += 2;
				else if (*p == '\'')
				{
					p++;
					break;
				}
				else
					p++;
			}
			continue;
		}
		if (*p == '"')
		{
			const char *close;

			p++;
			for (;;)
			{
				close = strchr(p, '"');
				if (close == NULL)
				{
					*errmsg = pg_strdup("unterminated quoted identifier");
					goto fail;
				}
				p = close + 1;
				if (*p != '"')
					break;
				p++;
			}
			continue;
		}
		if (*p == '$' && (p == sql || !is_ident_char(p[-1])))
		{
			size_t		taglen = dollar_tag(p);

			if (taglen > 0)
			{
				char	   *tag = pnstrdup(p, taglen);
				const char *close = strstr(p + taglen, tag);

				pg_free(tag);
				if (close == NULL)
				{
					*errmsg = pg_strdup("unterminated dollar-quoted string");
					goto fail;
				}
				p = close + taglen;
				continue;
			}
		}
		if (is_ident_start(*p))
		{
			const char *w = p;

			while (*p != '\0' && is_ident_char(*p))
				p++;
			see_word(&st, w, p - w);
			continue;
		}
		if (*p == '(')
			parens++;
		else if (*p == ')')
			parens--;
		else if (*p == ';' && parens == 0 && st.atomic_depth == 0)
		{
			p++;
			if (st.copy_stdin)
			{
				*errmsg = pg_strdup("COPY FROM STDIN is not supported in an EXECUTE file");
				goto fail;
			}
			add_statement(stmts, start, p - start);
			start = NULL;
			memset(&st, 0, sizeof(st));
			continue;
		}
		p++;
	}
	if (parens != 0)
	{
		*errmsg = pg_strdup("syntax error - unbalanced parenthesis");
		goto fail;
	}
	if (start != NULL)
	{
		size_t		len = strlen(start);

		if (st.copy_stdin)
		{
			*errmsg = pg_strdup("COPY FROM STDIN is not supported in an EXECUTE file");
			goto fail;
		}
		/* a last statement without ';' keeps no trailing white space */
		while (len > 0 && isspace((unsigned char) start[len - 1]))
			len--;
		add_statement(stmts, start, len);
	}
	return true;

fail:
	ld_string_list_free(stmts);
	return false;
}

bool
ld_run_statements(PGconn *conn, const char *fname, const char *sql,
				  LdRunStatement run_one)
{
	const char *scs = PQparameterStatus(conn, "standard_conforming_strings");
	LdStringList stmts;
	char	   *errmsg;
	bool		ok = true;
	int			i;

	if (!ld_split_statements(sql, scs == NULL || strcmp(scs, "on") != 0,
							 &stmts, &errmsg))
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", fname, errmsg);
		pg_free(errmsg);
		return false;
	}
	for (i = 0; i < stmts.n && ok; i++)
		ok = run_one(conn, fname, i + 1, stmts.items[i]);
	ld_string_list_free(&stmts);
	return ok;
}
