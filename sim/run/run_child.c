/* run_child.c — spawn the server child with posix_spawn and talk to it over two pipes. */
#include "run_child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "srv_main.h"

extern char **environ;

/* Move a pipe end above the fds the child uses, so dup2 onto 3/4 never meets itself
 * (dup2(fd, fd) would keep FD_CLOEXEC and the child would lose its pipe). */
static int high_fd(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

int run_child_spawn(run_child *c, const char *exe, const json_t *cfg, char *err, size_t errlen)
{
    return run_child_spawn_prog(c, exe, NULL, cfg, err, errlen);
}

int run_child_spawn_prog(run_child *c, const char *exe, const char *prog, const json_t *cfg,
                         char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->ctrl = c->rep = -1;
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -errno;
    }
    if (pipe2(from_child, O_CLOEXEC) < 0) {
        int e = errno;
        close(to_child[0]);
        close(to_child[1]);
        snprintf(err, errlen, "pipe: %s", strerror(e));
        return -e;
    }
    for (int i = 0; i < 2; i++) {
        to_child[i] = high_fd(to_child[i]);
        from_child[i] = high_fd(from_child[i]);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], SRV_CTRL_FD);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], SRV_REPORT_FD);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    /* the child starts with default signal dispositions and an empty mask, whatever
     * the parent installed for Ctrl-C */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"linkbench", "run", "--server-child", NULL};
    char *pargv[] = {"linkbench-go", NULL};
    /* /proc/self/exe, not the path: the spawned process runs the very image the parent
     * runs, even when a rebuild replaced the file since (mixing versions of the pipe
     * protocol, or finding no file at all mid-link, would fail the run). Another
     * program (the Go reference server, run_go.h) speaks the same protocol. */
    int rc = posix_spawn(&c->pid, prog ? prog : "/proc/self/exe", &fa, &at, prog ? pargv : argv,
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(to_child[0]);
    close(from_child[1]);
    c->ctrl = to_child[1];
    c->rep = from_child[0];
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot start the server process: %s", prog ? prog : exe, strerror(rc));
        close(c->ctrl);
        close(c->rep);
        c->ctrl = c->rep = -1;
        c->pid = -1;
        return -rc;
    }
    if (!cfg)
        return 0;   /* the caller sends it (run_child_send) */
    char *s = json_dumps(cfg, JSON_COMPACT);
    if (!s || run_child_send(c, s) < 0) {
        snprintf(err, errlen, "server process: could not send its configuration");
        free(s);
        return -EPIPE;
    }
    free(s);
    return 0;
}

int run_child_send(run_child *c, const char *cmd)
{
    if (c->ctrl < 0)
        return -EPIPE;
    size_t n = strlen(cmd);
    char *line = malloc(n + 2);
    if (!line)
        return -ENOMEM;
    memcpy(line, cmd, n);
    line[n] = '\n';
    n++;
    /* SIGPIPE is ignored by the run command: a dead child gives EPIPE here */
    size_t off = 0;
    int rc = 0;
    while (off < n) {
        ssize_t w = write(c->ctrl, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    free(line);
    return rc;
}

json_t *run_child_recv(run_child *c, rt_ns deadline, char *err, size_t errlen)
{
    for (;;) {
        char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            *nl = 0;
            json_error_t je;
            json_t *j = json_loads(c->buf, 0, &je);
            size_t used = (size_t)(nl - c->buf) + 1;
            memmove(c->buf, nl + 1, c->len - used);
            c->len -= used;
            if (!j)
                snprintf(err, errlen, "server process: malformed message: %s", je.text);
            return j;
        }
        rt_ns left = deadline - rt_now();
        if (left <= 0) {
            snprintf(err, errlen, "server process: no answer in time");
            return NULL;
        }
        struct pollfd p = {.fd = c->rep, .events = POLLIN};
        int n = poll(&p, 1, (int)(left / RT_MS) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        if (c->len + 65536 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 131072;
            while (cap < c->len + 65536)
                cap *= 2;
            char *b = realloc(c->buf, cap);
            if (!b) {
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            c->buf = b;
            c->cap = cap;
        }
        ssize_t r = read(c->rep, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "server process: closed its pipe (it died)");
            return NULL;
        }
        c->len += (size_t)r;
    }
}

bool run_child_exited(run_child *c)
{
    if (c->reaped)
        return true;
    if (c->pid <= 0)
        return true;
    int st;
    pid_t p = waitpid(c->pid, &st, WNOHANG);
    if (p == c->pid) {
        c->reaped = true;
        c->status = st;
    }
    return c->reaped;
}

int run_child_finish(run_child *c, rt_ns deadline)
{
    if (c->ctrl >= 0) {
        close(c->ctrl);   /* EOF also means stop */
        c->ctrl = -1;
    }
    while (!run_child_exited(c) && rt_now() < deadline)
        rt_sleep(5 * RT_MS, NULL);
    if (!run_child_exited(c)) {
        kill(c->pid, SIGKILL);
        int st;
        if (waitpid(c->pid, &st, 0) == c->pid) {
            c->reaped = true;
            c->status = st;
        }
    }
    if (c->rep >= 0) {
        close(c->rep);
        c->rep = -1;
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    return c->status;
}

const char *run_child_how(const run_child *c, char *buf, size_t len)
{
    if (!c->reaped)
        snprintf(buf, len, "still running");
    else if (WIFEXITED(c->status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(c->status),
                 strsignal(WTERMSIG(c->status)));
    else
        snprintf(buf, len, "ended (status 0x%x)", c->status);
    return buf;
}

bool run_child_died(const run_child *c)
{
    return c->reaped && !(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0);
}
