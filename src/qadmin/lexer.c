/*-------------------------------------------------------------------------
 *
 * lexer.c
 *	  Splitting input into statements, and statements into tokens.
 *
 * The splitter must find the ";" ending a statement the way the server
 * reads SQL, because anything that is not a qadmin statement goes to the
 * server as typed: a ";" inside a string, a quoted identifier, a
 * dollar-quoted body or a comment does not end it.  The tokenizer is for
 * qadmin's own statements only: words (lower-cased, as SQL does with
 * unquoted identifiers), "quoted identifiers", 'strings', numbers and
 * the symbols , = * .
 *
 * src/qadmin/lexer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include "pqexpbuffer.h"
#include "qadmin.h"

/* Where a scan of SQL text stands after the text it was given. */
typedef struct SqlScan
{
	ssize_t		first_end;		/* offset of the first ";" or -1 */
	size_t		after_last_end; /* offset just after the last ";" (or 0) */
} SqlScan;

static bool
is_ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool
is_ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/*
 * Length of the dollar-quote tag starting at text[i] ("$$" or "$tag$"),
 * or 0 if there is none.
 */
static size_t
dollar_tag_length(const char *text, size_t len, size_t i)
{
	size_t		j = i + 1;

	if (j < len && is_ident_start((unsigned char) text[j]) &&
		!isdigit((unsigned char) text[j]))
	{
		while (j < len && is_ident_char((unsigned char) text[j]) &&
			   text[j] != '$')
			j++;
	}
	if (j < len && text[j] == '$')
		return j - i + 1;
	return 0;
}

/* Find the statement ends (";" outside quotes and comments) in text. */
static void
scan_sql(const char *text, size_t len, SqlScan *scan)
{
	size_t		i = 0;

	scan->first_end = -1;
	scan->after_last_end = 0;
	while (i < len)
	{
		char		c = text[i];

		if (c == ';')
		{
			if (scan->first_end < 0)
				scan->first_end = i;
			scan->after_last_end = i + 1;
			i++;
		}
		else if (c == '\'' || c == '"')
		{
			/* E'...' strings know backslash escapes */
			bool		backslash = (c == '\'' && i > 0 &&
									 (text[i - 1] == 'e' || text[i - 1] == 'E') &&
									 (i == 1 || !is_ident_char((unsigned char) text[i - 2])));

			i++;
			while (i < len)
			{
				if (backslash && text[i] == '\\' && i + 1 < len)
					i += 2;
				else if (text[i] == c && i + 1 < len && text[i + 1] == c)
					i += 2;
				else if (text[i] == c)
					break;
				else
					i++;
			}
			i++;
		}
		else if (c == '-' && i + 1 < len && text[i + 1] == '-')
		{
			while (i < len && text[i] != '\n')
				i++;
		}
		else if (c == '/' && i + 1 < len && text[i + 1] == '*')
		{
			int			depth = 1;

			i += 2;
			while (i < len && depth > 0)
			{
				if (text[i] == '/' && i + 1 < len && text[i + 1] == '*')
				{
					depth++;
					i += 2;
				}
				else if (text[i] == '*' && i + 1 < len && text[i + 1] == '/')
				{
					depth--;
					i += 2;
				}
				else
					i++;
			}
		}
		else if (c == '$' && (i == 0 || !is_ident_char((unsigned char) text[i - 1])))
		{
			size_t		tag = dollar_tag_length(text, len, i);
			const char *open_tag = text + i;

			if (tag == 0)
			{
				i++;
				continue;
			}
			i += tag;
			while (i < len &&
				   !(i + tag <= len && memcmp(text + i, open_tag, tag) == 0))
				i++;
			i += tag;
		}
		else
			i++;
	}
}

void
splitter_init(StatementSplitter *sp, int first_line)
{
	sp->buf = pg_malloc(1024);
	sp->allocated = 1024;
	sp->len = 0;
	sp->buf[0] = '\0';
	sp->first_line = first_line;
	sp->lines = 0;
}

void
splitter_feed(StatementSplitter *sp, const char *text)
{
	size_t		add = strlen(text);

	if (sp->len + add + 1 > sp->allocated)
	{
		while (sp->len + add + 1 > sp->allocated)
			sp->allocated *= 2;
		sp->buf = pg_realloc(sp->buf, sp->allocated);
	}
	memcpy(sp->buf + sp->len, text, add + 1);
	sp->len += add;
}

/*
 * Take the first complete statement out of the buffer, without its ";".
 * Returns NULL if there is none yet.  *line is set to the input line the
 * statement starts on.
 */
char *
splitter_next(StatementSplitter *sp, int *line)
{
	SqlScan		scan;
	char	   *stmt;
	size_t		end;
	size_t		i;

	scan_sql(sp->buf, sp->len, &scan);
	if (scan.first_end < 0)
		return NULL;
	end = scan.first_end;
	stmt = pnstrdup(sp->buf, end);

	*line = sp->first_line;
	for (i = 0; i < end && isspace((unsigned char) sp->buf[i]); i++)
		if (sp->buf[i] == '\n')
			(*line)++;
	for (i = 0; i <= end; i++)
		if (sp->buf[i] == '\n')
			sp->first_line++;

	memmove(sp->buf, sp->buf + end + 1, sp->len - end);
	sp->len -= end + 1;
	return stmt;
}

/* Is there input that is not yet a complete statement? */
bool
splitter_has_pending(const StatementSplitter *sp)
{
	return !is_blank_statement(sp->buf);
}

const char *
splitter_pending_text(const StatementSplitter *sp)
{
	return sp->buf;
}

void
splitter_reset(StatementSplitter *sp)
{
	sp->len = 0;
	sp->buf[0] = '\0';
}

/* Offset where the last (unfinished) statement of text starts. */
size_t
statement_start(const char *text, size_t len)
{
	SqlScan		scan;

	scan_sql(text, len, &scan);
	return scan.after_last_end;
}

/* Skip white space and comments; returns the new offset. */
static size_t
skip_space(const char *text, size_t i)
{
	for (;;)
	{
		if (isspace((unsigned char) text[i]))
			i++;
		else if (text[i] == '-' && text[i + 1] == '-')
		{
			while (text[i] && text[i] != '\n')
				i++;
		}
		else if (text[i] == '/' && text[i + 1] == '*')
		{
			int			depth = 1;

			i += 2;
			while (text[i] && depth > 0)
			{
				if (text[i] == '/' && text[i + 1] == '*')
					depth++, i += 2;
				else if (text[i] == '*' && text[i + 1] == '/')
					depth--, i += 2;
				else
					i++;
			}
		}
		else
			return i;
	}
}

/* Nothing but white space and comments? */
bool
is_blank_statement(const char *text)
{
	return text[skip_space(text, 0)] == '\0';
}

/*
 * , = * . are the grammar's symbols; the others appear only inside values
 * such as host=db-1.example.com or host=/var/run/postgresql.
 */
#define VALUE_SYMBOLS ",=*.-:/+@"

/* Add the token text[start..end) with its value. */
static void
add_token(TokenList *list, TokenKind kind, char *value, size_t start,
			 size_t end, const char *text)
{
	if (list->count == list->allocated)
	{
		list->allocated = list->allocated ? list->allocated * 2 : 16;
		list->tokens = pg_realloc(list->tokens,
								  list->allocated * sizeof(Token));
	}
	list->tokens[list->count].kind = kind;
	list->tokens[list->count].value = value;
	list->tokens[list->count].offset = start;
	list->tokens[list->count].end = end;
	list->tokens[list->count].raw = pnstrdup(text + start, end - start);
	list->count++;
}

/* Remember str so that free_tokens() frees it; returns str. */
char *
token_list_keep(TokenList *list, char *str)
{
	if (list->nstrings == list->strings_allocated)
	{
		list->strings_allocated = list->strings_allocated ?
			list->strings_allocated * 2 : 8;
		list->strings = pg_realloc(list->strings,
								   list->strings_allocated * sizeof(char *));
	}
	list->strings[list->nstrings++] = str;
	return str;
}

/*
 * Read a quoted token starting at text[i] (the opening quote); the
 * doubled quote stands for itself.  Returns the offset after the closing
 * quote, or 0 if there is none.
 */
static size_t
read_quoted(const char *text, size_t i, char **value)
{
	char		quote = text[i];
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	i++;
	for (;;)
	{
		if (text[i] == '\0')
		{
			termPQExpBuffer(&buf);
			return 0;
		}
		if (text[i] == quote)
		{
			if (text[i + 1] != quote)
				break;
			i++;
		}
		appendPQExpBufferChar(&buf, text[i]);
		i++;
	}
	*value = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return i + 1;
}

/*
 * Split a qadmin statement into tokens.  On failure *error says why and
 * the tokens read so far stay in the list.
 */
bool
tokenize(const char *text, TokenList *list, char **error)
{
	size_t		i = 0;

	memset(list, 0, sizeof(*list));
	for (;;)
	{
		unsigned char c;
		size_t		start;

		i = skip_space(text, i);
		c = text[i];
		start = i;
		if (c == '\0')
			return true;
		if (is_ident_start(c))
		{
			char	   *word;
			size_t		k;

			while (is_ident_char((unsigned char) text[i]))
				i++;
			word = pnstrdup(text + start, i - start);
			for (k = 0; word[k]; k++)
				word[k] = pg_ascii_tolower((unsigned char) word[k]);
			add_token(list, TOK_WORD, word, start, i, text);
		}
		else if (isdigit(c))
		{
			while (isdigit((unsigned char) text[i]))
				i++;
			add_token(list, TOK_NUMBER, pnstrdup(text + start, i - start), start, i, text);
		}
		else if (c == '"' || c == '\'')
		{
			char	   *value;

			i = read_quoted(text, i, &value);
			if (i == 0)
			{
				*error = psprintf("unterminated %s",
								  c == '"' ? "quoted identifier" : "string");
				return false;
			}
			if (c == '"' && value[0] == '\0')
			{
				pg_free(value);
				*error = pg_strdup("zero-length quoted identifier");
				return false;
			}
			add_token(list, c == '"' ? TOK_QUOTED_IDENT : TOK_STRING, value, start, i, text);
		}
		else if (strchr(VALUE_SYMBOLS, c))
		{
			i++;
			add_token(list, TOK_SYMBOL, pnstrdup(text + start, 1), start, i, text);
		}
		else
		{
			*error = psprintf("unexpected character \"%c\"", c);
			return false;
		}
	}
}

void
free_tokens(TokenList *list)
{
	int			i;

	for (i = 0; i < list->count; i++)
	{
		pg_free(list->tokens[i].value);
		pg_free(list->tokens[i].raw);
	}
	for (i = 0; i < list->nstrings; i++)
		pg_free(list->strings[i]);
	pg_free(list->tokens);
	pg_free(list->strings);
	memset(list, 0, sizeof(*list));
}
