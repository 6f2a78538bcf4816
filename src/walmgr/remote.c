/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  Running walmgr on the archive host through ssh_command.
 *
 * walmgr3 pushed files with rsync and then ran a global "sync" over ssh.
 * Here the far side is walmgr itself (remote_walmgr with slave_config),
 * started as "<ssh_command> <slave> '<command line>'" and spoken to over
 * its stdin and stdout, so the archive host applies exactly the same
 * checks and durability steps as a local archive.  A local archive with an
 * ini of its own (slave = local and slave_config) is reached the same way,
 * with the command line run by /bin/sh here instead of through ssh.  The
 * tests replace ssh with a local wrapper; the protocol path stays the same.
 *
 * src/walmgr/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compress.h"
#include "framework/log.h"
#include "framework/sha256.h"
#include "pqexpbuffer.h"
#include "walmgr.h"

#define DEFAULT_SSH_COMMAND \
	"ssh -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60 " \
	"-o ControlPath=~/.ssh/walmgr-%r@%h:%p"

static char *far_path_quote(const char *path);
static pid_t remote_spawn(Walmgr *wm, char *const *args, int nargs,
						  int *to_child, int *from_child);
static int	wait_child(pid_t pid, const char *what);
static bool transport_compression(Walmgr *wm);

/*
 * walmgr3's compression = 1 meant "rsync -z": compress in transit only.
 * Here that is ssh's -C.  gzip, lz4 and zstd are storage compression,
 * done by the archive host (see compress.c).
 */
static bool
transport_compression(Walmgr *wm)
{
	char	   *value = wm_get(wm, "compression", "none");
	bool		result = (strcmp(value, "1") == 0);

	pg_free(value);
	return result;
}

/*
 * A path for the far side's shell: quoted, except for a leading "~/" that
 * this shell is to expand to the home directory over there.
 */
static char *
far_path_quote(const char *path)
{
	char	   *quoted;
	char	   *result;

	if (strncmp(path, "~/", 2) != 0)
		return wm_shell_quote(path);
	quoted = wm_shell_quote(path + 2);
	result = psprintf("~/%s", quoted);
	pg_free(quoted);
	return result;
}

/*
 * Start walmgr on the archive host with the given command arguments
 * (after "walmgr SLAVE_INI").  Returns the child's pid, with pipes to its
 * stdin and from its stdout, or -1 after logging.
 */
static pid_t
remote_spawn(Walmgr *wm, char *const *args, int nargs, int *to_child,
			 int *from_child)
{
	char	   *ssh = wm_get(wm, "ssh_command", DEFAULT_SSH_COMMAND);
	char	   *remote_walmgr = wm_get(wm, "remote_walmgr", wm->self_path);
	char	   *slave_config = wm_get(wm, "slave_config", NULL);
	PQExpBufferData remote;
	PQExpBufferData cmd;
	char	   *q;
	int			in[2];
	int			out[2];
	pid_t		pid;
	int			i;

	initPQExpBuffer(&remote);
	q = far_path_quote(remote_walmgr);
	appendPQExpBufferStr(&remote, q);
	pg_free(q);
	q = far_path_quote(slave_config);
	appendPQExpBuffer(&remote, " %s", q);
	pg_free(q);
	if (wm->script.verbose > 0)
		appendPQExpBufferStr(&remote, " -v");

	/* the primary's storage compression overrides the archive host's */
	if (wm->compression != WALCOMP_NONE)
		appendPQExpBuffer(&remote, " --set compression=%s", walcomp_name(wm->compression));
	for (i = 0; i < nargs; i++)
	{
		q = wm_shell_quote(args[i]);
		appendPQExpBuffer(&remote, " %s", q);
		pg_free(q);
	}

	/* for ssh the remote command line is one argument, quoted once more */
	initPQExpBuffer(&cmd);
	if (strcmp(wm->slave, "local") == 0)
		appendPQExpBufferStr(&cmd, remote.data);
	else
	{
		q = wm_shell_quote(wm->slave);
		appendPQExpBuffer(&cmd, "%s%s %s ", ssh, transport_compression(wm) ? " -C" : "", q);
		pg_free(q);
		q = wm_shell_quote(remote.data);
		appendPQExpBufferStr(&cmd, q);
		pg_free(q);
	}
	log_debug("running the archive side: %s", cmd.data);

	if (pipe(in) != 0 || pipe(out) != 0)
	{
		log_error("could not create pipe: %m");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		log_error("could not fork: %m");
		return -1;
	}
	if (pid == 0)
	{
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", cmd.data, (char *) NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	termPQExpBuffer(&remote);
	termPQExpBuffer(&cmd);
	pg_free(ssh);
	pg_free(remote_walmgr);
	pg_free(slave_config);
	return pid;
}

/* Wait for a child; its exit status, or 1 (logged) if it died otherwise. */
static int
wait_child(pid_t pid, const char *what)
{
	int			status;

	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			log_error("could not wait for %s: %m", what);
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_error("%s was terminated by signal %d", what, WTERMSIG(status));
	return 1;
}

/*
 * Run "walmgr SLAVE_INI args..." on the archive host.  input_fd, if not -1,
 * is copied to its stdin; its stdout is returned in *output when output is
 * not NULL, else passed through to ours.  Returns its exit status.
 */
int
remote_run(Walmgr *wm, char *const *args, int nargs, int input_fd,
		   char **output)
{
	int			to_child;
	int			from_child;
	pid_t		pid;
	char		buf[65536];
	ssize_t		n;
	PQExpBufferData out;

	pid = remote_spawn(wm, args, nargs, &to_child, &from_child);
	if (pid < 0)
		return WALMGR_EXIT_FAIL;
	if (input_fd >= 0)
	{
		while ((n = read(input_fd, buf, sizeof(buf))) > 0)
			if (write(to_child, buf, n) != n)
				break;
	}
	close(to_child);
	initPQExpBuffer(&out);
	while ((n = read(from_child, buf, sizeof(buf))) > 0)
	{
		if (output != NULL)
			appendBinaryPQExpBuffer(&out, buf, n);
		else if (write(STDOUT_FILENO, buf, n) != n)
			break;
	}
	close(from_child);
	if (output != NULL)
		*output = pg_strdup(out.data);
	termPQExpBuffer(&out);
	return wait_child(pid, "the remote walmgr");
}

/* One protocol line from the far side, without newline; "" at EOF. */
static char *
read_reply(FILE *fp)
{
	char		line[256];

	if (fgets(line, sizeof(line), fp) == NULL)
		return pg_strdup("");
	line[strcspn(line, "\r\n")] = '\0';
	return pg_strdup(line);
}

/*
 * Archive one file on the archive host (with partial, store a partial
 * segment in its logs.partial instead).  The checksum is computed first
 * and sent with the name, so the far side can answer HAVE without any
 * data crossing the network when it already holds identical content.
 * Success (0) only after the far side said OK and exited 0.
 */
int
remote_xarchive(Walmgr *wm, int fd, int64 size, const char *name, bool partial)
{
	WalFileKind kind = walfile_classify(name);
	char	   *buf = pg_malloc(1024 * 1024);
	pg_cryptohash_ctx *ctx;
	char	   *sha;
	char		sizebuf[32];
	char	   *args[4];
	int			to_child;
	int			from_child;
	pid_t		pid;
	FILE	   *replies;
	char	   *reply;
	int64		done = 0;
	int			rc = WALMGR_EXIT_FAIL;
	int			status;
	ssize_t		n;

	/* checksum, and a local look at the header before anything is sent */
	ctx = sha256_begin();
	while ((n = pread(fd, buf, 1024 * 1024, done)) > 0)
	{
		if (done == 0 && (kind == WALFILE_SEGMENT || kind == WALFILE_PARTIAL))
		{
			ArchiveId	found;
			char	   *why;

			if (!walfile_check_segment(name, buf, n, size, NULL, &found, &why))
			{
				log_error("refusing to archive %s: %s", name, why);
				sha256_abort(ctx);
				pg_free(buf);
				return WALMGR_EXIT_INVALID;
			}
		}
		sha256_update(ctx, buf, n);
		done += n;
	}
	if (n < 0 || done != size)
	{
		log_error("could not read %s: %s", name, n < 0 ? strerror(errno) : "file changed size");
		sha256_abort(ctx);
		pg_free(buf);
		return WALMGR_EXIT_FAIL;
	}
	sha = sha256_end(ctx);

	snprintf(sizebuf, sizeof(sizebuf), "%lld", (long long) size);
	args[0] = partial ? "xpartialsync" : "xreceive";
	args[1] = (char *) name;
	args[2] = sizebuf;
	args[3] = sha;
	/* a far side that goes away must not kill us with SIGPIPE */
	pqsignal(SIGPIPE, SIG_IGN);
	pid = remote_spawn(wm, args, 4, &to_child, &from_child);
	if (pid < 0)
	{
		pg_free(sha);
		pg_free(buf);
		return WALMGR_EXIT_FAIL;
	}
	replies = fdopen(from_child, "r");
	reply = read_reply(replies);
	if (strcmp(reply, "SEND") == 0)
	{
		done = 0;
		while (done < size && (n = pread(fd, buf, 1024 * 1024, done)) > 0)
		{
			if (write(to_child, buf, n) != n)
			{
				log_error("could not send %s to the archive host: %m", name);
				break;
			}
			done += n;
		}
		close(to_child);
		to_child = -1;
		pg_free(reply);
		reply = read_reply(replies);
	}
	if (to_child >= 0)
		close(to_child);
	fclose(replies);
	status = wait_child(pid, "the remote walmgr");

	if (strcmp(reply, "OK") == 0 || strcmp(reply, "HAVE") == 0)
		rc = (status == 0) ? WALMGR_EXIT_OK : WALMGR_EXIT_FAIL;
	else if (strcmp(reply, "CONFLICT") == 0)
		rc = WALMGR_EXIT_CONFLICT;
	else if (strcmp(reply, "INVALID") == 0)
		rc = WALMGR_EXIT_INVALID;
	if (rc == WALMGR_EXIT_OK)
		log_info("archived %s on %s (sha256 %s)", name, wm->slave, sha);
	else
		log_error("archiving %s on %s failed: the far side answered \"%s\" and exited with %d",
				  name, wm->slave, reply, status);
	pg_free(reply);
	pg_free(sha);
	pg_free(buf);
	return rc;
}
