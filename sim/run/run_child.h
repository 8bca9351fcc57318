/* run_child.h — the parent's handle on the server child: spawn it, talk the srv_main.h pipe protocol, learn how it ended. */
#ifndef LINKBENCH_RUN_CHILD_H
#define LINKBENCH_RUN_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "rt.h"

typedef struct run_child {
    pid_t pid;
    int ctrl;          /* write end: commands */
    int rep;           /* read end: events */
    char *buf;         /* partial line from rep */
    size_t len, cap;
    bool reaped;
    int status;        /* waitpid status once reaped */
} run_child;

/* Start this executable (exe names it in messages) as `run --server-child` with the pipes on SRV_CTRL_FD/SRV_REPORT_FD, its
 * stdout on our stderr (the parent's stdout carries only the table), and send cfg as
 * the first line (cfg NULL: the caller sends it; the child makes no thread before).
 * 0, or a negative errno with a message in err. */
int run_child_spawn(run_child *c, const char *exe, const json_t *cfg, char *err, size_t errlen);
/* The same with another program speaking the srv_main.h protocol (prog, started with no
 * arguments; NULL: this executable as above). */
int run_child_spawn_prog(run_child *c, const char *exe, const char *prog, const json_t *cfg,
                         char *err, size_t errlen);

/* Send one command line ("measure", "end", "pause NS", "stop"). Never blocks for
 * long (commands are tiny); safe from the driver thread. 0 or -errno (-EPIPE: gone). */
int run_child_send(run_child *c, const char *cmd);

/* Next event document, waiting until deadline. NULL with a message in err on EOF (the
 * child died or closed the pipe), timeout or malformed input. */
json_t *run_child_recv(run_child *c, rt_ns deadline, char *err, size_t errlen);

/* Has the child exited? Non-blocking; reaps it when it has. */
bool run_child_exited(run_child *c);

/* Wait for the child until deadline, then SIGKILL it and reap. Closes the pipes.
 * Returns the waitpid status. Idempotent. */
int run_child_finish(run_child *c, rt_ns deadline);

/* "exited with status 1", "killed by signal 9 (Killed)" or "still running". */
const char *run_child_how(const run_child *c, char *buf, size_t len);

/* True when the child ended other than by exit status 0. */
bool run_child_died(const run_child *c);

#endif
