/*-------------------------------------------------------------------------
 *
 * generator.h
 *	  skytools-generator: systemd units for the jobs of /etc/skytools.ini.
 *
 * src/systemd/generator.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKYTOOLS_GENERATOR_H
#define SKYTOOLS_GENERATOR_H

/* the longest unit name systemd accepts, with its suffix */
#define UNIT_NAME_MAX 255

/* unit_name.c */
extern char *unit_escape(const char *name);

#endif							/* SKYTOOLS_GENERATOR_H */
