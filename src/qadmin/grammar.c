/*-------------------------------------------------------------------------
 *
 * grammar.c
 *	  The statement language of qadmin, parsed by recursive descent.
 *
 * The same parser serves tab completion: when it reaches the end of the
 * tokens at a point where it would look at one more, it notes what it
 * would have accepted there (keywords, and kinds of names) in an Expected
 * set instead of failing at once.  Completing a partial line is parsing
 * it and offering what was expected at its end, so the completion can
 * never disagree with the grammar.
 *
 * src/qadmin/grammar.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pqexpbuffer.h"
#include "qadmin.h"

typedef struct Parser
{
	TokenList  *tokens;
	int			pos;
	Expected   *expected;		/* what was wanted at the end, or NULL */
	const char *last_name_sql;	/* the last name parsed, quoted for SQL */
	char	   *error;			/* the first error, or NULL */
} Parser;

/* A key of "connect", "alter queue ... set" or "londiste add ... with" */
typedef struct OptionSpec
{
	const char *key;
	const char *completion;		/* what completion offers: "key=" or "key" */
	bool		takes_value;
	NameKind	value_kind;		/* what completes the value */
} OptionSpec;

static const OptionSpec connect_options[] = {
	{"dbname", "dbname=", true, NAME_DATABASE},
	{"host", "host=", true, NAME_HOST},
	{"port", "port=", true, NAME_NONE},
	{"user", "user=", true, NAME_USER},
	{"password", "password=", true, NAME_NONE},
	{"queue", "queue=", true, NAME_QUEUE},
	{"node", "node=", true, NAME_NODE},
	{NULL}
};

static const OptionSpec queue_settings[] = {
	{"idle_period", "idle_period=", true, NAME_NONE},
	{"max_count", "max_count=", true, NAME_NONE},
	{"max_lag", "max_lag=", true, NAME_NONE},
	{"paused", "paused=", true, NAME_NONE},
	{NULL}
};

static const OptionSpec add_table_options[] = {
	{"skip_truncate", "skip_truncate", false, NAME_NONE},
	{"expect_sync", "expect_sync", false, NAME_NONE},
	{"backup", "backup", false, NAME_NONE},
	{"skip", "skip", false, NAME_NONE},
	{"no_triggers", "no_triggers", false, NAME_NONE},
	{"tgflags", "tgflags=", true, NAME_NONE},
	{"ev_type", "ev_type=", true, NAME_NONE},
	{"ev_data", "ev_data=", true, NAME_NONE},
	{"ev_extra1", "ev_extra1=", true, NAME_NONE},
	{"ev_extra2", "ev_extra2=", true, NAME_NONE},
	{"ev_extra3", "ev_extra3=", true, NAME_NONE},
	{"ev_extra4", "ev_extra4=", true, NAME_NONE},
	{"pkey", "pkey=", true, NAME_NONE},
	{"when", "when=", true, NAME_NONE},
	{"ev_ignore", "ev_ignore=", true, NAME_NONE},
	{NULL}
};

/* first words of statements that are never SQL */
static const char *const qadmin_only_words[] = {
	"connect", "exit", "install", "londiste", "register", "unregister", NULL
};

/* first words shared with SQL */
static const char *const sql_too_words[] = {
	"alter", "create", "drop", "show", NULL
};

static const char *const show_words[] = {
	"batch", "consumer", "help", "node", "queue", "sequence", "table",
	"version", NULL
};

static bool
word_in(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(word, *list) == 0)
			return true;
	return false;
}

static const Token *
token_at(const TokenList *tokens, int i)
{
	return i < tokens->count ? &tokens->tokens[i] : NULL;
}

static bool
token_is_word(const Token *tok, const char *word)
{
	return tok && tok->kind == TOK_WORD && strcmp(tok->value, word) == 0;
}

/*
 * Is this statement one of ours?  Words only qadmin knows make it ours at
 * once; "create", "drop", "alter" and "show" are SQL too, and are ours
 * only with the words that follow in our grammar (so "show search_path"
 * and "create table" reach the server).  With partial (completion), a
 * lone first word counts as ours.
 */
bool
is_qadmin_statement(const TokenList *tokens, bool partial)
{
	const Token *first = token_at(tokens, 0);
	const Token *second = token_at(tokens, 1);

	if (!first || first->kind != TOK_WORD)
		return false;
	if (word_in(first->value, qadmin_only_words))
		return true;
	if (!word_in(first->value, sql_too_words))
		return false;
	if (!second)
		return partial;
	if (second->kind != TOK_WORD)
		return false;
	if (strcmp(first->value, "show") == 0)
		return word_in(second->value, show_words);
	return strcmp(second->value, "queue") == 0;
}

static bool
at_end(Parser *p)
{
	return p->pos >= p->tokens->count;
}

static const Token *
current(Parser *p)
{
	return token_at(p->tokens, p->pos);
}

static void
expect_keyword(Parser *p, const char *keyword)
{
	Expected   *e = p->expected;
	int			i;

	if (!e)
		return;
	for (i = 0; i < e->nkeywords; i++)
		if (strcmp(e->keywords[i], keyword) == 0)
			return;
	if (e->nkeywords < MAX_EXPECTED_KEYWORDS)
		e->keywords[e->nkeywords++] = keyword;
}

static void
expect_name(Parser *p, NameKind kind)
{
	if (p->expected)
		p->expected->names[kind] = true;
}

static bool
fail(Parser *p, const char *fmt,...) pg_attribute_printf(2, 3);

static bool
fail(Parser *p, const char *fmt,...)
{
	if (!p->error)
	{
		va_list		ap;
		char		message[1024];

		va_start(ap, fmt);
		vsnprintf(message, sizeof(message), fmt, ap);
		va_end(ap);
		p->error = pg_strdup(message);
	}
	return false;
}

/* A syntax error at the current token (or at the end). */
static bool
fail_here(Parser *p)
{
	if (at_end(p))
		return fail(p, "unexpected end of statement");
	return fail(p, "at or near \"%s\"", current(p)->raw);
}

static bool
accept_word(Parser *p, const char *word)
{
	if (at_end(p))
	{
		expect_keyword(p, word);
		return false;
	}
	if (token_is_word(current(p), word))
	{
		p->pos++;
		return true;
	}
	return false;
}

static bool
require_word(Parser *p, const char *word)
{
	if (accept_word(p, word))
		return true;
	if (at_end(p))
		return fail(p, "unexpected end of statement, expected \"%s\"", word);
	return fail(p, "at or near \"%s\", expected \"%s\"",
				current(p)->raw, word);
}

static bool
accept_symbol(Parser *p, const char *symbol)
{
	const Token *tok = current(p);

	if (tok && tok->kind == TOK_SYMBOL && strcmp(tok->value, symbol) == 0)
	{
		p->pos++;
		return true;
	}
	return false;
}

static bool
is_name_part(const Token *tok)
{
	return tok && (tok->kind == TOK_WORD || tok->kind == TOK_QUOTED_IDENT);
}

/*
 * A name: identifiers joined with dots (schema.table); unquoted parts are
 * lower-cased, quoted ones kept, and the dots kept as they are, because
 * pgq and londiste take names as plain text.
 */
static bool
parse_name(Parser *p, NameKind kind, const char **name)
{
	PQExpBufferData buf;
	PQExpBufferData sql;

	if (at_end(p))
	{
		expect_name(p, kind);
		return fail(p, "unexpected end of statement, expected a name");
	}
	if (!is_name_part(current(p)))
		return fail(p, "at or near \"%s\", expected a name", current(p)->raw);
	initPQExpBuffer(&buf);
	initPQExpBuffer(&sql);
	for (;;)
	{
		const char *part = current(p)->value;

		appendPQExpBufferStr(&buf, part);
		appendPQExpBufferChar(&sql, '"');
		for (; *part; part++)
		{
			if (*part == '"')
				appendPQExpBufferChar(&sql, '"');
			appendPQExpBufferChar(&sql, *part);
		}
		appendPQExpBufferChar(&sql, '"');
		p->pos++;
		if (!accept_symbol(p, "."))
			break;
		if (!is_name_part(current(p)))
		{
			termPQExpBuffer(&buf);
			termPQExpBuffer(&sql);
			return fail_here(p);
		}
		appendPQExpBufferChar(&buf, '.');
		appendPQExpBufferChar(&sql, '.');
	}
	*name = token_list_keep(p->tokens, pg_strdup(buf.data));
	p->last_name_sql = token_list_keep(p->tokens, pg_strdup(sql.data));
	termPQExpBuffer(&buf);
	termPQExpBuffer(&sql);
	return true;
}

/* A name or "*"; *all tells which. */
static bool
parse_name_or_all(Parser *p, NameKind kind, const char **name, bool *all)
{
	if (accept_symbol(p, "*"))
	{
		*name = NULL;
		*all = true;
		return true;
	}
	*all = false;
	return parse_name(p, kind, name);
}

static bool
is_value_piece(const Token *tok)
{
	return tok && (tok->kind == TOK_WORD || tok->kind == TOK_NUMBER ||
				   (tok->kind == TOK_SYMBOL && strchr(".-:/+@", tok->value[0])));
}

/*
 * An option value: a 'string', a "quoted" word, or words, numbers and
 * the value symbols written without spaces between them
 * (host=db-1.example.com), taken as typed.
 */
static bool
parse_value(Parser *p, NameKind kind, const char **value)
{
	const Token *tok = current(p);
	PQExpBufferData buf;

	if (!tok)
	{
		expect_name(p, kind);
		return fail(p, "unexpected end of statement, expected a value");
	}
	if (tok->kind == TOK_STRING || tok->kind == TOK_QUOTED_IDENT)
	{
		*value = tok->value;
		p->pos++;
		return true;
	}
	if (!is_value_piece(tok))
		return fail(p, "at or near \"%s\", expected a value", tok->raw);
	initPQExpBuffer(&buf);
	appendPQExpBufferStr(&buf, tok->raw);
	p->pos++;
	while (is_value_piece(current(p)) && current(p)->offset == tok->end)
	{
		tok = current(p);
		appendPQExpBufferStr(&buf, tok->raw);
		p->pos++;
	}
	*value = token_list_keep(p->tokens, pg_strdup(buf.data));
	termPQExpBuffer(&buf);
	return true;
}

static const char *
option_keys_text(const OptionSpec *specs)
{
	static char text[512];

	text[0] = '\0';
	for (; specs->key; specs++)
	{
		if (text[0])
			strlcat(text, ", ", sizeof(text));
		strlcat(text, specs->key, sizeof(text));
	}
	return text;
}

static void
expect_option_keys(Parser *p, const OptionSpec *specs)
{
	for (; specs->key; specs++)
		expect_keyword(p, specs->completion);
}

/*
 * One option of the list specs: "key = value" or a flag.  Names (queue=,
 * node=) are parsed as names, the rest as values.
 */
static bool
parse_option(Parser *p, Statement *stmt, const OptionSpec *specs,
			 const char *what)
{
	const OptionSpec *spec;
	const Token *tok = current(p);
	Option	   *opt;
	int			i;

	if (!tok)
	{
		expect_option_keys(p, specs);
		return fail(p, "unexpected end of statement, expected %s", what);
	}
	if (tok->kind != TOK_WORD)
		return fail(p, "at or near \"%s\", expected %s", tok->raw, what);
	for (spec = specs; spec->key; spec++)
		if (strcmp(spec->key, tok->value) == 0)
			break;
	if (!spec->key)
		return fail(p, "unknown %s \"%s\" (known: %s)", what, tok->raw,
					option_keys_text(specs));
	for (i = 0; i < stmt->noptions; i++)
		if (strcmp(stmt->options[i].key, spec->key) == 0)
			return fail(p, "%s \"%s\" given twice", what, spec->key);
	if (stmt->noptions == MAX_OPTIONS)
		return fail(p, "too many options");
	p->pos++;
	opt = &stmt->options[stmt->noptions];
	opt->key = spec->key;
	opt->value = NULL;
	if (spec->takes_value)
	{
		if (!accept_symbol(p, "="))
			return fail(p, "%s \"%s\" needs a value: %s=...", what, spec->key, spec->key);
		if (spec->value_kind == NAME_QUEUE || spec->value_kind == NAME_NODE)
		{
			if (!parse_name(p, spec->value_kind, &opt->value))
				return false;
		}
		else if (!parse_value(p, spec->value_kind, &opt->value))
			return false;
	}
	stmt->noptions++;
	return true;
}

/* option [, option]... */
static bool
parse_option_list(Parser *p, Statement *stmt, const OptionSpec *specs,
				  const char *what)
{
	do
	{
		if (!parse_option(p, stmt, specs, what))
			return false;
	} while (accept_symbol(p, ","));
	return true;
}

/* name [, name]... into stmt->targets */
static bool
parse_name_list(Parser *p, Statement *stmt, NameKind kind)
{
	do
	{
		if (stmt->ntargets == MAX_TARGETS)
			return fail(p, "too many names in one statement (at most %d)", MAX_TARGETS);
		if (!parse_name(p, kind, &stmt->targets[stmt->ntargets]))
			return false;
		stmt->ntargets++;
	} while (accept_symbol(p, ","));
	return true;
}

/* "on Q" or "from Q" (word given), optional */
static bool
parse_queue_clause(Parser *p, Statement *stmt, const char *word, bool allow_all)
{
	if (!accept_word(p, word))
		return true;
	if (allow_all)
		return parse_name_or_all(p, NAME_QUEUE, &stmt->queue, &stmt->queue_all);
	return parse_name(p, NAME_QUEUE, &stmt->queue);
}

static bool
parse_connect(Parser *p, Statement *stmt)
{
	stmt->kind = STMT_CONNECT;
	for (;;)
	{
		if (at_end(p))
		{
			/* for completion: another option may follow */
			expect_option_keys(p, connect_options);
			return true;
		}
		if (!parse_option(p, stmt, connect_options, "connect option"))
			return false;
		accept_symbol(p, ",");
	}
}

static bool
parse_install(Parser *p, Statement *stmt)
{
	stmt->kind = STMT_INSTALL;
	if (accept_word(p, "pgq"))
		stmt->object = "pgq";
	else if (accept_word(p, "londiste"))
		stmt->object = "londiste";
	else
		return fail(p, "install what? \"install pgq\" or \"install londiste\"");
	return true;
}

static bool
parse_register(Parser *p, Statement *stmt, bool unregister)
{
	if (accept_word(p, "consumer"))
	{
		stmt->kind = unregister ? STMT_UNREGISTER_CONSUMER : STMT_REGISTER_CONSUMER;
		if (unregister)
			return parse_name_or_all(p, NAME_CONSUMER, &stmt->object, &stmt->object_all) &&
				parse_queue_clause(p, stmt, "from", false);
		if (!parse_name(p, NAME_CONSUMER, &stmt->object))
			return false;
		/* on, at and copy in any order, each once */
		for (;;)
		{
			if (!stmt->queue && accept_word(p, "on"))
			{
				if (!parse_name(p, NAME_QUEUE, &stmt->queue))
					return false;
			}
			else if (!stmt->at_tick && !stmt->copy_from && accept_word(p, "at"))
			{
				const Token *tok = current(p);

				if (!tok || tok->kind != TOK_NUMBER)
					return fail(p, "\"at\" needs a tick id (a number)");
				stmt->at_tick = tok->value;
				p->pos++;
			}
			else if (!stmt->at_tick && !stmt->copy_from && accept_word(p, "copy"))
			{
				if (!parse_name(p, NAME_CONSUMER, &stmt->copy_from))
					return false;
			}
			else
				return true;
		}
	}
	if (accept_word(p, "subconsumer"))
	{
		stmt->kind = unregister ? STMT_UNREGISTER_SUBCONSUMER : STMT_REGISTER_SUBCONSUMER;
		if (unregister)
		{
			if (!parse_name_or_all(p, NAME_SUBCONSUMER, &stmt->object, &stmt->object_all))
				return false;
		}
		else if (!parse_name(p, NAME_SUBCONSUMER, &stmt->object))
			return false;
		if (!require_word(p, "for") ||
			!parse_name(p, NAME_CONSUMER, &stmt->owner) ||
			!parse_queue_clause(p, stmt, unregister ? "from" : "on", false))
			return false;
		if (unregister && accept_word(p, "close"))
		{
			stmt->close_batch = true;
			accept_word(p, "batch");
		}
		return true;
	}
	return fail_here(p);
}

static bool
parse_show(Parser *p, Statement *stmt)
{
	if (accept_word(p, "queue"))
	{
		stmt->kind = STMT_SHOW_QUEUE;
		if (at_end(p))
		{
			/* "show queue" alone is valid; completion may offer a name */
			expect_name(p, NAME_QUEUE);
			return true;
		}
		return parse_name_or_all(p, NAME_QUEUE, &stmt->object, &stmt->object_all);
	}
	if (accept_word(p, "consumer") || accept_word(p, "node"))
	{
		bool		node = token_is_word(token_at(p->tokens, p->pos - 1), "node");
		NameKind	kind = node ? NAME_NODE : NAME_CONSUMER;

		stmt->kind = node ? STMT_SHOW_NODE : STMT_SHOW_CONSUMER;
		if (at_end(p))
		{
			expect_name(p, kind);
			return true;
		}
		return parse_name_or_all(p, kind, &stmt->object, &stmt->object_all) &&
			parse_queue_clause(p, stmt, "on", true);
	}
	if (accept_word(p, "batch"))
	{
		const Token *tok = current(p);

		stmt->kind = STMT_SHOW_BATCH;
		if (tok && tok->kind == TOK_NUMBER)
		{
			stmt->at_tick = tok->value;
			p->pos++;
			return true;
		}
		if (!tok)
			expect_name(p, NAME_BATCH);
		return parse_name(p, NAME_CONSUMER, &stmt->object);
	}
	if (accept_word(p, "table"))
	{
		stmt->kind = STMT_SHOW_TABLE;
		if (!parse_name(p, NAME_TABLE, &stmt->object))
			return false;
		stmt->object_sql = p->last_name_sql;
		return true;
	}
	if (accept_word(p, "sequence"))
	{
		stmt->kind = STMT_SHOW_SEQUENCE;
		if (!parse_name(p, NAME_SEQUENCE, &stmt->object))
			return false;
		stmt->object_sql = p->last_name_sql;
		return true;
	}
	if (accept_word(p, "help"))
	{
		stmt->kind = STMT_SHOW_HELP;
		return true;
	}
	if (accept_word(p, "version"))
	{
		stmt->kind = STMT_SHOW_VERSION;
		return true;
	}
	return fail_here(p);
}

static bool
parse_londiste(Parser *p, Statement *stmt)
{
	bool		add = accept_word(p, "add");

	if (add || accept_word(p, "remove"))
	{
		if (accept_word(p, "table"))
		{
			stmt->kind = add ? STMT_LONDISTE_ADD_TABLE : STMT_LONDISTE_REMOVE_TABLE;
			if (!parse_name_list(p, stmt, add ? NAME_TABLE : NAME_LONDISTE_TABLE))
				return false;
			if (add && accept_word(p, "with"))
				return parse_option_list(p, stmt, add_table_options, "table option");
			return true;
		}
		if (accept_word(p, "sequence"))
		{
			stmt->kind = add ? STMT_LONDISTE_ADD_SEQ : STMT_LONDISTE_REMOVE_SEQ;
			return parse_name_list(p, stmt, add ? NAME_SEQUENCE : NAME_LONDISTE_SEQ);
		}
		return fail_here(p);
	}
	if (accept_word(p, "tables"))
		stmt->kind = STMT_LONDISTE_TABLES;
	else if (accept_word(p, "seqs"))
		stmt->kind = STMT_LONDISTE_SEQS;
	else if (accept_word(p, "missing"))
		stmt->kind = STMT_LONDISTE_MISSING;
	else
		return fail_here(p);
	return true;
}

static bool
parse_body(Parser *p, Statement *stmt)
{
	if (accept_word(p, "exit"))
	{
		stmt->kind = STMT_EXIT;
		return true;
	}
	if (accept_word(p, "connect"))
		return parse_connect(p, stmt);
	if (accept_word(p, "install"))
		return parse_install(p, stmt);
	if (accept_word(p, "create"))
	{
		stmt->kind = STMT_CREATE_QUEUE;
		return require_word(p, "queue") && parse_name(p, NAME_QUEUE, &stmt->object);
	}
	if (accept_word(p, "drop"))
	{
		stmt->kind = STMT_DROP_QUEUE;
		return require_word(p, "queue") && parse_name(p, NAME_QUEUE, &stmt->object);
	}
	if (accept_word(p, "alter"))
	{
		stmt->kind = STMT_ALTER_QUEUE;
		return require_word(p, "queue") &&
			parse_name_or_all(p, NAME_QUEUE, &stmt->object, &stmt->object_all) &&
			require_word(p, "set") &&
			parse_option_list(p, stmt, queue_settings, "queue setting");
	}
	if (accept_word(p, "register"))
		return parse_register(p, stmt, false);
	if (accept_word(p, "unregister"))
		return parse_register(p, stmt, true);
	if (accept_word(p, "show"))
		return parse_show(p, stmt);
	if (accept_word(p, "londiste"))
		return parse_londiste(p, stmt);
	return fail_here(p);
}

/*
 * Parse a qadmin statement (is_qadmin_statement() said it is one).
 * Returns false with *error set on a syntax error.  expected, if not
 * NULL, collects what could follow the last token.
 */
bool
parse_statement(TokenList *tokens, Statement *stmt, Expected *expected,
				char **error)
{
	Parser		p;

	memset(stmt, 0, sizeof(*stmt));
	if (expected)
		memset(expected, 0, sizeof(*expected));
	p.tokens = tokens;
	p.pos = 0;
	p.expected = expected;
	p.last_name_sql = NULL;
	p.error = NULL;
	if (parse_body(&p, stmt) && !at_end(&p))
		fail(&p, "at or near \"%s\"", current(&p)->raw);
	if (p.error)
	{
		*error = p.error;
		return false;
	}
	return true;
}
