/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Reading walmgr's settings: values and paths from the ini, the
 *	  PostgreSQL programs it names, and where the archive side runs.
 *
 * src/walmgr/config.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "walmgr.h"

/*
 * walmgr3's --init-master wrote archive paths as "host:path" for rsync.  The
 * host part is the slave key's business now; drop it.
 */
static char *
strip_host_prefix(char *path)
{
	char	   *colon = strchr(path, ':');
	char	   *slash = strchr(path, '/');

	if (colon != NULL && path[0] != '/' && path[0] != '~' &&
		(slash == NULL || colon < slash))
	{
		char	   *stripped = pg_strdup(colon + 1);

		pg_free(path);
		return stripped;
	}
	return path;
}

/* A config value (interpolated); def NULL makes the key required. */
char *
wm_get(Walmgr *wm, const char *key, const char *def)
{
	return sky_config_get(wm->script.cf, key, def);
}

/* A path-valued config key: "~" expanded, walmgr3's "host:" prefix dropped. */
char *
wm_get_path(Walmgr *wm, const char *key, const char *def)
{
	return strip_host_prefix(sky_config_get_file(wm->script.cf, key, def));
}

/*
 * Path of a PostgreSQL program in the directory the config key (master_bin
 * or slave_bin) names; unset or empty means PostgreSQL 15's Debian bindir.
 */
char *
wm_pg_program(Walmgr *wm, const char *bindir_key, const char *prog)
{
	char	   *bindir = wm_get_path(wm, bindir_key, WALMGR_DEFAULT_BINDIR);
	char	   *path;

	path = psprintf("%s/%s", bindir[0] ? bindir : WALMGR_DEFAULT_BINDIR, prog);
	pg_free(bindir);
	return path;
}

/*
 * Is the archive side run by a walmgr of its own, with slave_config (see
 * remote.c), rather than in this process with this ini?
 */
bool
wm_remote(Walmgr *wm)
{
	return wm->archive_apart;
}
