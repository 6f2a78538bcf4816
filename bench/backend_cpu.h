/*-------------------------------------------------------------------------
 *
 * backend_cpu.h
 *	  The CPU time (user + system) the server process of a connection has
 *	  used so far, read from /proc: what a benchmark reader cost the server,
 *	  apart from what it cost its own host.
 *
 * The benchmarks run the server on the same machine and as the same user
 * as their readers, so the server process's /proc entry is readable.
 * A reader calls this at its end, before it closes the connection.
 *
 * bench/backend_cpu.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BENCH_BACKEND_CPU_H
#define BENCH_BACKEND_CPU_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"

/* Seconds of CPU of the connection's server process; -1 if unreadable */
static double
backend_cpu_seconds(const PGconn *conn)
{
	char		path[64];
	char		stat[1024];
	const char *after_name;
	unsigned long utime;
	unsigned long stime;
	FILE	   *f;
	size_t		len;

	snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(conn));
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	len = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[len] = '\0';

	/*
	 * The process name (field 2) is in parentheses and may hold spaces;
	 * utime and stime are fields 14 and 15, counted in clock ticks.
	 */
	after_name = strrchr(stat, ')');
	if (after_name == NULL ||
		sscanf(after_name + 1,
			   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &utime, &stime) != 2)
		return -1;
	return (double) (utime + stime) / sysconf(_SC_CLK_TCK);
}

#endif							/* BENCH_BACKEND_CPU_H */
