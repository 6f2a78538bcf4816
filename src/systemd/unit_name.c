/*-------------------------------------------------------------------------
 *
 * unit_name.c
 *	  Job names made into systemd unit instance names, as systemd-escape
 *	  (without --path) does it.
 *
 * Letters, digits, ':', '_' and '.' stay (a leading '.' does not), '/'
 * becomes '-', and every other byte becomes \xHH.  systemd turns %i back
 * into the escaped form and %I into the job name, which is what the
 * template passes to "scriptmgr exec".
 *
 * src/systemd/unit_name.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pqexpbuffer.h"
#include "systemd/unit_name.h"

char *
unit_escape(const char *name)
{
	PQExpBufferData buf;
	const char *p;

	initPQExpBuffer(&buf);
	for (p = name; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '/')
			appendPQExpBufferChar(&buf, '-');
		else if ((c == '.' && p != name) || c == ':' || c == '_' ||
				 (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				 (c >= 'A' && c <= 'Z'))
			appendPQExpBufferChar(&buf, c);
		else
			appendPQExpBuffer(&buf, "\\x%02x", c);
	}
	return buf.data;
}

/* "skytools@ESCAPED.service", the instance of the template for a job */
char *
job_unit_name(const char *job_name)
{
	char	   *escaped = unit_escape(job_name);
	char	   *unit = psprintf("skytools@%s.service", escaped);

	pg_free(escaped);
	return unit;
}
