/*-------------------------------------------------------------------------
 *
 * pqutil.h
 *	  libpq helpers shared by the client programs.
 *
 * src/framework/pqutil.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_PQUTIL_H
#define SKY_PQUTIL_H

#include "libpq-fe.h"

extern PGconn *sky_db_connect(const char *connstr, const char *appname);
extern PGconn *sky_db_connect_replication(const char *connstr,
										  const char *appname);
extern PGresult *sky_db_exec(PGconn *conn, const char *sql,
							 int nparams, const char *const *params);
extern char *sky_db_value(PGconn *conn, const char *sql,
						  int nparams, const char *const *params);
extern char *sky_connstr_for_log(const char *connstr);

#endif							/* SKY_PQUTIL_H */
