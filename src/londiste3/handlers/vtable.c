/*-------------------------------------------------------------------------
 *
 * vtable.c
 *	  vtable (and its old name fake_local): the table counts as local and
 *	  replicated here without existing; its events are skipped.
 *
 * The trigger argument virtual_table lets add-table register a table
 * that the node does not have.
 *
 * src/londiste3/handlers/vtable.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/handlers/rowsql.h"

static const char *const no_args[] = {NULL};

static bool
vtable_needs_table(const LdHandler *h)
{
	return false;
}

static void
vtable_trigger_args(const LdHandler *h, LdStringList *args)
{
	ld_names_add(args, "virtual_table");
}

/* nothing to copy: the table need not exist here */
static bool
vtable_copy_columns(LdHandler *h, LdStringList *src_cols,
					LdStringList *dst_cols)
{
	return false;
}

#define VTABLE_DOC \
	"Marks the table as replicated on this node without keeping it.\n" \
	"\n" \
	"The table needs not exist here; its row events are skipped and\n" \
	"nothing is copied.  Useful on a node that only passes the events\n" \
	"on, or as a placeholder for a table handled elsewhere.\n"

const LdHandlerClass ld_handler_vtable = {
	.name = "vtable",
	.module = "londiste.handlers.vtable",
	.doc = VTABLE_DOC,
	.args = no_args,
	.needs_table = vtable_needs_table,
	.add_trigger_args = vtable_trigger_args,
	.copy_columns = vtable_copy_columns,
};

const LdHandlerClass ld_handler_fake_local = {
	.name = "fake_local",
	.module = "londiste.handlers.vtable",
	.doc = "Old name of the vtable handler, kept for existing setups.\n",
	.args = no_args,
	.needs_table = vtable_needs_table,
	.add_trigger_args = vtable_trigger_args,
	.copy_columns = vtable_copy_columns,
};
