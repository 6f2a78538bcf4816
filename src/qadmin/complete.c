/*-------------------------------------------------------------------------
 *
 * complete.c
 *	  Tab completion of keywords and names for the console.
 *
 * The statement up to the word being completed is parsed by grammar.c,
 * which tells what could come next: keywords, and kinds of names that are
 * then read from the database (queues, consumers, nodes, batches, tables,
 * sequences, databases, users) or from /etc/hosts.  Names are offered as
 * qadmin reads them back: quoted where needed.  Names are not looked up
 * inside a transaction the user opened, where a failing lookup would
 * abort it.
 *
 * src/qadmin/complete.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include <readline/readline.h>

#include "pqexpbuffer.h"
#include "qadmin.h"

static Session *completion_session;
static const StatementSplitter *completion_pending;

/* the matches of the completion under way */
static char **candidates;
static int	ncandidates;
static int	candidates_allocated;
static int	next_candidate;

/* tables and sequences of the user's schemas, not of PostgreSQL, PgQ or londiste */
#define USER_SCHEMAS \
	"n.nspname not in ('information_schema', 'pgq', 'pgq_ext', 'pgq_node', 'pgq_coop', 'londiste')" \
	" and n.nspname !~ '^pg_'"

/*
 * The queries listing names of each kind; $1, where used, is the default
 * queue (or NULL).  Every value is quoted as the grammar wants it.
 */
static const char *const name_queries[NAME_COUNT] = {
	[NAME_QUEUE] = "select quote_ident(queue_name) from pgq.get_queue_info()",
	[NAME_CONSUMER] = "select distinct quote_ident(consumer_name) from pgq.get_consumer_info()"
	" where $1::text is null or queue_name = $1",
	[NAME_SUBCONSUMER] = "select distinct quote_ident(substr(consumer_name, strpos(consumer_name, '.') + 1))"
	" from pgq.get_consumer_info() where strpos(consumer_name, '.') > 1"
	" and ($1::text is null or queue_name = $1)",
	[NAME_NODE] = "select quote_ident(node_name) from pgq_node.node_location"
	" where $1::text is null or queue_name = $1",
	[NAME_BATCH] = "select current_batch::text from pgq.get_consumer_info()"
	" where current_batch is not null and ($1::text is null or queue_name = $1)",
	[NAME_TABLE] = "select unnest(array[quote_ident(n.nspname) || '.' || quote_ident(c.relname),"
	" case when pg_table_is_visible(c.oid) then quote_ident(c.relname) end])"
	" from pg_class c join pg_namespace n on n.oid = c.relnamespace"
	" where c.relkind in ('r', 'p') and " USER_SCHEMAS,
	[NAME_SEQUENCE] = "select unnest(array[quote_ident(n.nspname) || '.' || quote_ident(c.relname),"
	" case when pg_table_is_visible(c.oid) then quote_ident(c.relname) end])"
	" from pg_class c join pg_namespace n on n.oid = c.relnamespace"
	" where c.relkind = 'S' and " USER_SCHEMAS,
	[NAME_LONDISTE_TABLE] = "select quote_ident(split_part(table_name, '.', 1)) || '.'"
	" || quote_ident(substr(table_name, strpos(table_name, '.') + 1))"
	" from londiste.get_table_list($1) where local",
	[NAME_LONDISTE_SEQ] = "select quote_ident(split_part(seq_name, '.', 1)) || '.'"
	" || quote_ident(substr(seq_name, strpos(seq_name, '.') + 1))"
	" from londiste.get_seq_list($1) where local",
	[NAME_DATABASE] = "select quote_ident(datname) from pg_database"
	" where datallowconn",
	[NAME_USER] = "select quote_ident(rolname) from pg_roles"
	" where rolcanlogin",
};

static void
add_candidate(const char *text, const char *candidate)
{
	size_t		len = strlen(text);
	int			i;

	/* an unquoted prefix also finds a quoted name */
	if (strncmp(candidate, text, len) != 0 &&
		!(text[0] != '"' && candidate[0] == '"' &&
		  strncmp(candidate + 1, text, len) == 0))
		return;
	for (i = 0; i < ncandidates; i++)
		if (strcmp(candidates[i], candidate) == 0)
			return;
	if (ncandidates == candidates_allocated)
	{
		candidates_allocated = candidates_allocated ? candidates_allocated * 2 : 32;
		candidates = pg_realloc(candidates, candidates_allocated * sizeof(char *));
	}
	candidates[ncandidates++] = pg_strdup(candidate);
}

/* Keywords match without regard to case and take the case of what was typed. */
static void
add_keyword(const char *text, const char *keyword)
{
	size_t		len = strlen(text);
	char	   *word;
	char	   *c;

	if (pg_strncasecmp(keyword, text, len) != 0)
		return;
	word = pg_strdup(keyword);
	if (len > 0 && isupper((unsigned char) text[0]))
		for (c = word; *c; c++)
			*c = pg_ascii_toupper((unsigned char) *c);
	add_candidate(text, word);
	pg_free(word);
}

static void
add_hosts(const char *text)
{
	FILE	   *hosts = fopen("/etc/hosts", "r");
	char		line[1024];

	if (!hosts)
		return;
	while (fgets(line, sizeof(line), hosts))
	{
		char	   *save;
		char	   *field;
		int			n = 0;

		line[strcspn(line, "#")] = '\0';
		for (field = strtok_r(line, " \t\n", &save); field;
			 field = strtok_r(NULL, " \t\n", &save))
			if (n++ > 0)
				add_candidate(text, field);
	}
	fclose(hosts);
}

static void
add_names(const char *text, NameKind kind)
{
	PGconn	   *conn = completion_session->conn;
	const char *queue = completion_session->queue;
	PGresult   *res;
	int			i;

	if (kind == NAME_HOST)
	{
		add_hosts(text);
		return;
	}
	if (!name_queries[kind] || PQtransactionStatus(conn) != PQTRANS_IDLE)
		return;
	if ((kind == NAME_LONDISTE_TABLE || kind == NAME_LONDISTE_SEQ) && !queue)
		return;
	res = PQexecParams(conn, name_queries[kind],
					   strstr(name_queries[kind], "$1") ? 1 : 0,
					   NULL, &queue, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		for (i = 0; i < PQntuples(res); i++)
			if (!PQgetisnull(res, i, 0))
				add_candidate(text, PQgetvalue(res, i, 0));
	PQclear(res);
}

static char *
candidate_generator(const char *text, int state)
{
	if (state == 0)
		next_candidate = 0;
	if (next_candidate < ncandidates)
		return strdup(candidates[next_candidate++]);
	return NULL;
}

static void
clear_candidates(void)
{
	int			i;

	for (i = 0; i < ncandidates; i++)
		pg_free(candidates[i]);
	ncandidates = 0;
}

/* rl_attempted_completion_function */
static char **
complete_statement(const char *text, int start, int end)
{
	PQExpBufferData before;
	TokenList	tokens;
	Statement	stmt;
	Expected	expected;
	char	   *error = NULL;
	const char *stmt_text;
	int			i;

	rl_attempted_completion_over = 1;
	clear_candidates();

	/* the unfinished statement: earlier lines, then this one up to the word */
	initPQExpBuffer(&before);
	appendPQExpBufferStr(&before, splitter_pending_text(completion_pending));
	appendBinaryPQExpBuffer(&before, rl_line_buffer, start);
	stmt_text = before.data + statement_start(before.data, before.len);

	if (tokenize(stmt_text, &tokens, &error) &&
		(tokens.count == 0 || is_qadmin_statement(&tokens, true)))
	{
		parse_statement(&tokens, &stmt, &expected, &error);
		for (i = 0; i < expected.nkeywords; i++)
			add_keyword(text, expected.keywords[i]);
		for (i = 0; i < NAME_COUNT; i++)
			if (expected.names[i])
				add_names(text, (NameKind) i);
	}
	pg_free(error);
	free_tokens(&tokens);
	termPQExpBuffer(&before);

	/* "key=" takes its value right after the "=" */
	if (ncandidates == 1 && candidates[0][strlen(candidates[0]) - 1] == '=')
		rl_completion_append_character = '\0';
	if (ncandidates == 0)
		return NULL;
	return rl_completion_matches(text, candidate_generator);
}

void
install_completion(Session *s, const StatementSplitter *pending)
{
	completion_session = s;
	completion_pending = pending;
	rl_readline_name = "qadmin";
	rl_attempted_completion_function = complete_statement;
	/* quotes and dots belong to names */
	rl_basic_word_break_characters = " \t\n,;=()";
	rl_completer_word_break_characters = " \t\n,;=()";
}
