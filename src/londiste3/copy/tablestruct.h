/*-------------------------------------------------------------------------
 *
 * tablestruct.h
 *	  A table's structure as SQL: the statements that create and drop its
 *	  columns, constraints, indexes, rules, triggers, grants and so on.
 *
 * The initial copy drops a table's constraints, indexes, rules and
 * inheritance and re-creates them after the data is in; --create and
 * --create-full create a missing table from the provider's.  The object
 * kinds are those of python3-skytools' dbstruct, so that the same options
 * create the same objects.
 *
 * src/londiste3/copy/tablestruct.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_TABLESTRUCT_H
#define LONDISTE_TABLESTRUCT_H

#include "libpq-fe.h"

#define LD_OBJ_TABLE		(1 << 0)	/* CREATE TABLE with the columns */
#define LD_OBJ_CONSTRAINT	(1 << 1)	/* all but foreign keys */
#define LD_OBJ_INDEX		(1 << 2)	/* those no constraint owns */
#define LD_OBJ_TRIGGER		(1 << 3)
#define LD_OBJ_RULE			(1 << 4)
#define LD_OBJ_GRANT		(1 << 5)
#define LD_OBJ_OWNER		(1 << 6)
#define LD_OBJ_SEQUENCE		(1 << 7)	/* serial columns' sequences */
#define LD_OBJ_PARENT		(1 << 8)	/* inheritance */
#define LD_OBJ_DEFAULT		(1 << 9)	/* column defaults */
#define LD_OBJ_PKEY			(1 << 20)	/* the primary key constraint alone */
#define LD_OBJ_ALL \
	(LD_OBJ_TABLE | LD_OBJ_CONSTRAINT | LD_OBJ_INDEX | LD_OBJ_SEQUENCE | \
	 LD_OBJ_TRIGGER | LD_OBJ_RULE | LD_OBJ_GRANT | LD_OBJ_OWNER | \
	 LD_OBJ_DEFAULT)

typedef struct LdStructObj
{
	int			kind;			/* LD_OBJ_*; a primary key also has PKEY */
	char	   *name;			/* for the log */
	char	   *create_sql;		/* statements ending in ";" */
	char	   *drop_sql;		/* NULL where nothing is dropped */
	char	   *seq_name;		/* SEQUENCE: the sequence (fq, unquoted) */
} LdStructObj;

typedef struct LdTableStruct
{
	int			nobjs;
	LdStructObj *objs;			/* in creation order */
} LdTableStruct;

/*
 * Load the objects of the given kinds of table fqname on conn.  With
 * new_name, the statements create them on that table instead, and
 * name_check (the connection they will run on) is asked for free names of
 * the indexes they make.  NULL (logged) if the table does not exist or a
 * query fails.
 */
extern LdTableStruct *ld_struct_load(PGconn *conn, const char *fqname,
									 int kinds, const char *new_name,
									 PGconn *name_check);
/* the create statements of the kinds, in order, as one text ("" if none) */
extern char *ld_struct_create_text(const LdTableStruct *st, int kinds);
/* run the create or drop (reverse order) statements of the kinds */
extern bool ld_struct_create(PGconn *conn, const LdTableStruct *st, int kinds);
extern bool ld_struct_drop(PGconn *conn, const LdTableStruct *st, int kinds);
extern void ld_struct_free(LdTableStruct *st);

/*
 * "schema.name" (unquoted, as londiste names tables; no dot: public) with
 * both parts quoted for SQL; the schema part into *schema if not NULL.
 */
extern char *ld_quote_fqident(PGconn *conn, const char *fqname, char **schema);

/* the CREATE SEQUENCE statement for sequence fqname on conn, NULL if none */
extern char *ld_sequence_create_sql(PGconn *conn, const char *fqname,
									const char *new_name);

#endif							/* LONDISTE_TABLESTRUCT_H */
