/*-------------------------------------------------------------------------
 *
 * rowmap.c
 *	  Rows of a batch collapsed by primary key, for the bulk loaders: each
 *	  key keeps its latest row and what happened to it, in the order the
 *	  keys were first seen.
 *
 * src/londiste3/handlers/rowmap.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/handlers/rowsql.h"

typedef struct RowSlot
{
	char	   *key;			/* the key values, length-prefixed */
	LdRowEntry	entry;
	bool		removed;
} RowSlot;

struct LdRowMap
{
	RowSlot    *slots;			/* first-seen order */
	int			nslots;
	int			maxslots;
	int		   *index;			/* open addressing over slots, -1 empty */
	int			index_size;		/* a power of two */
	int			live;
};

LdRowMap *
ld_rowmap_new(void)
{
	return pg_malloc0(sizeof(LdRowMap));
}

void
ld_rowmap_reset(LdRowMap *map)
{
	int			i;

	for (i = 0; i < map->nslots; i++)
	{
		pg_free(map->slots[i].key);
		if (map->slots[i].entry.row != NULL)
			pgq_dict_free(map->slots[i].entry.row);
	}
	map->nslots = 0;
	map->live = 0;
	if (map->index != NULL)
		memset(map->index, -1, sizeof(int) * map->index_size);
}

void
ld_rowmap_free(LdRowMap *map)
{
	if (map == NULL)
		return;
	ld_rowmap_reset(map);
	pg_free(map->slots);
	pg_free(map->index);
	pg_free(map);
}

static uint32
key_hash(const char *key)
{
	uint32		h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char) *key) * 16777619u;
	return h;
}

/* NULL and '' must differ, and no value may run into the next */
static char *
make_key(const PgqDict *row, const LdStringList *pkeys)
{
	PQExpBufferData buf;
	char	   *key;
	int			i;

	initPQExpBuffer(&buf);
	for (i = 0; i < pkeys->n; i++)
	{
		const char *value = NULL;

		pgq_dict_get(row, pkeys->items[i], &value);
		if (value == NULL)
			appendPQExpBufferStr(&buf, "-;");
		else
			appendPQExpBuffer(&buf, "%zu:%s;", strlen(value), value);
	}
	key = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return key;
}

static void
rebuild_index(LdRowMap *map)
{
	int			i;

	map->index_size = map->index_size ? map->index_size * 2 : 64;
	pg_free(map->index);
	map->index = pg_malloc(sizeof(int) * map->index_size);
	memset(map->index, -1, sizeof(int) * map->index_size);
	for (i = 0; i < map->nslots; i++)
	{
		uint32		pos = key_hash(map->slots[i].key) & (map->index_size - 1);

		while (map->index[pos] >= 0)
			pos = (pos + 1) & (map->index_size - 1);
		map->index[pos] = i;
	}
}

LdRowEntry *
ld_rowmap_get(LdRowMap *map, const PgqDict *row, const LdStringList *pkeys)
{
	char	   *key = make_key(row, pkeys);
	uint32		pos;
	RowSlot    *slot;

	if (map->index == NULL || (map->nslots + 1) * 2 > map->index_size)
		rebuild_index(map);
	pos = key_hash(key) & (map->index_size - 1);
	while (map->index[pos] >= 0)
	{
		slot = &map->slots[map->index[pos]];
		if (strcmp(slot->key, key) == 0)
		{
			pg_free(key);
			if (slot->removed)
			{
				/* a removed key comes back at its old place */
				slot->removed = false;
				memset(&slot->entry, 0, sizeof(LdRowEntry));
				map->live++;
			}
			return &slot->entry;
		}
		pos = (pos + 1) & (map->index_size - 1);
	}
	if (map->nslots == map->maxslots)
	{
		map->maxslots = map->maxslots ? map->maxslots * 2 : 64;
		map->slots = pg_realloc(map->slots, sizeof(RowSlot) * map->maxslots);
	}
	slot = &map->slots[map->nslots];
	memset(slot, 0, sizeof(RowSlot));
	slot->key = key;
	map->index[pos] = map->nslots++;
	map->live++;
	return &slot->entry;
}

void
ld_rowmap_remove(LdRowMap *map, LdRowEntry *entry)
{
	RowSlot    *slot = (RowSlot *) ((char *) entry - offsetof(RowSlot, entry));

	if (slot->entry.row != NULL)
		pgq_dict_free(slot->entry.row);
	slot->entry.row = NULL;
	slot->removed = true;
	map->live--;
}

int
ld_rowmap_size(const LdRowMap *map)
{
	return map->nslots;
}

LdRowEntry *
ld_rowmap_entry(LdRowMap *map, int i)
{
	if (i < 0 || i >= map->nslots || map->slots[i].removed)
		return NULL;
	return &map->slots[i].entry;
}

void
ld_append_copy_row(PQExpBuffer buf, const PgqDict *row,
				   const LdStringList *cols)
{
	int			i;

	for (i = 0; i < cols->n; i++)
	{
		const char *value = NULL;

		if (i > 0)
			appendPQExpBufferChar(buf, '\t');
		pgq_dict_get(row, cols->items[i], &value);
		ld_append_copy_value(buf, value);
	}
	appendPQExpBufferChar(buf, '\n');
}
