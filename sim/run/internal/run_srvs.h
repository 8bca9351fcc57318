/* run_srvs.h — the server side of one run as N server children sharing one port (SO_REUSEPORT), started, commanded and merged as one. */
#ifndef LINKBENCH_RUN_SRVS_H
#define LINKBENCH_RUN_SRVS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "rt.h"
#include "run_child.h"

struct run_watch;

/* Why several processes: these machines allow 20 000 open files per process, a hard
 * limit root cannot raise, so one server holds at most ~19 990 links. N children each
 * listen on the same port with SO_REUSEPORT (one process per event loop, as nginx and
 * uWebSockets do it); the kernel spreads incoming connections over their listeners by
 * a hash of the 4-tuple, so each child holds about links / N. */
#define RUN_SRVS_MAX 64

typedef struct run_srvs {
    int n;                         /* children started (ready or not) */
    run_child c[RUN_SRVS_MAX];
    uint16_t port;                 /* the shared port, once the first child is ready */
} run_srvs;

/* Start n (1..RUN_SRVS_MAX) children from cfg (srv_main.h): the first on cfg's port (0:
 * any), with SO_REUSEPORT when n > 1; once it is ready, the others on its port. Each
 * must be ready before deadline. watch (may be NULL) is given each child as it starts,
 * before its configuration, so its system-call counter sees every thread it makes. 0, or -1 with "server k/n: why" in err (every child
 * started is then stopped and reaped). */
int run_srvs_start(run_srvs *g, const char *exe, const json_t *cfg, int n, rt_ns deadline,
                   struct run_watch *watch, char *err, size_t errlen);

/* Send one command line to every child still listening (errors of dead ones ignored). */
void run_srvs_send(run_srvs *g, const char *cmd);

/* "sync" to every child, then wait for each one's "synced" until deadline: the commands
 * sent before are done (the snapshots of "end" and "acct" taken). Returns the number of
 * children that did not answer (dead ones included). */
int run_srvs_sync(run_srvs *g, rt_ns deadline);

/* "recheck" to every child (srv_main.h): each takes its census again and says whether
 * anything moved since the one it kept. *moved: how many did. Returns the number of
 * children that did not answer. */
int run_srvs_recheck(run_srvs *g, rt_ns deadline, int *moved);

/* Index of a child that has exited (non-blocking, reaps it), or -1 when all run. */
int run_srvs_exited(run_srvs *g);

/* Send sig to every child not yet reaped. */
void run_srvs_kill(run_srvs *g, int sig);

/* "stop" to all, then each child's report until deadline, then reap them all (SIGKILL
 * after deadline). Returns the merged report, or NULL when no child reported: counts,
 * CPU, threads and RSS summed over the children, window_ns the longest, lat_in merged
 * bucket by bucket (met_hist_merge: exact), and "servers": [{index, pid, links_held,
 * reported, how}]. *missing = children that sent no report. */
json_t *run_srvs_stop(run_srvs *g, rt_ns deadline, int *missing, char *err, size_t errlen);

/* For every child that ended other than by exit 0: "server k/n (pid P) killed by signal
 * 9 (Killed)", joined by "; ". Returns whether any died. */
bool run_srvs_died(const run_srvs *g, char *buf, size_t len);

/* PIDs of the children, "1234,1235" (for placement and messages). */
const char *run_srvs_pids(const run_srvs *g, char *buf, size_t len);

/* Merge server report b into a (in place), by the rules of run_srvs_stop. */
void run_srvs_merge(json_t *a, const json_t *b);

#endif
