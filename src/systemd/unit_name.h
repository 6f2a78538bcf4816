/*-------------------------------------------------------------------------
 *
 * unit_name.h
 *	  The systemd unit of a Skytools job, named alike by skytools-generator
 *	  and by scriptmgr.
 *
 * src/systemd/unit_name.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKYTOOLS_UNIT_NAME_H
#define SKYTOOLS_UNIT_NAME_H

/* the longest unit name systemd accepts, with its suffix */
#define UNIT_NAME_MAX 255

/* the drop-in the generator writes for each job it gives a unit */
#define SKYTOOLS_DROPIN_NAME "50-skytools.conf"

/* unit_name.c */
extern char *unit_escape(const char *name);
extern char *job_unit_name(const char *job_name);

#endif							/* SKYTOOLS_UNIT_NAME_H */
