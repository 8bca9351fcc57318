/* run_ext.h — `linkbench run --target ws://…`: a scenario's driver side against an external WebSocket server, and what can be measured of that server from outside. */
#ifndef LINKBENCH_RUN_EXT_H
#define LINKBENCH_RUN_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "run.h"
#include "scn.h"

/* Where the server is and how to watch it (command-line settings). */
typedef struct run_target {
    const char *url;        /* ws://HOST:PORT/path; port 0 needs cmd (its first output line) */
    pid_t pid;              /* --target-pid: read its /proc figures; 0 = none */
    const char *cmd;        /* --target-cmd: started with /bin/sh -c "exec CMD" before each run
                             * and stopped (SIGTERM, then SIGKILL) after it; NULL = none */
} run_target;

/* A parsed ws:// URL. */
typedef struct run_url {
    char host[64];          /* numeric IPv4 (a name is resolved) */
    uint16_t port;          /* 0: learn it from the command's output */
    char path[256];         /* "/" when the URL has none */
} run_url;

/* Parse "ws://HOST[:PORT][/path]". 0, or -EINVAL with "rule (got …)" in err. */
int run_url_parse(const char *url, run_url *u, char *err, size_t errlen);

/* What the scenario needs from the server beyond echoing each message back as it came
 * (push, idle reaper, service time, sink mode, rate limit, server faults): one line per
 * missing feature into msg ("app.push.rate_per_s = 20: the external server would have
 * to push ..."). Returns the number of refusals (0: the scenario can run). Features a
 * runnable scenario has but cannot use (push beside client traffic) are listed in note
 * and ignored. */
int run_ext_refusals(const struct scn *s, char *msg, size_t len, char *note, size_t notelen);

/* The run command with --target: each scenario file (suites included) against the
 * target. Returns the exit code (0, 1 a run failed or fell short, 2 usage/scenario). */
int run_ext_file(const run_opts *o, const run_target *t, const char *file);

/* The run object of a run against a target from its inputs (run_object, then what a
 * target's run says beside it: no drops_by_reason, since nothing the server dropped is
 * known, and the echoes the driver found corrupted or reordered). The object a shard
 * writes and the one merge builds from the shards' joined results come from here. */
json_t *run_ext_run_object(const run_inputs *in);
/* Every contract metric the run's metrics lack, as the run's absent_metrics. */
void run_ext_set_absent(json_t *run);

/* mkdir -p: path and its missing parents (mode 0777 less the umask). 0 or -errno. */
int run_mkdir_p(const char *path);

/* ---- the target process (run_ext_proc.c) */

typedef struct run_tproc run_tproc;

/* Start t->cmd (when set) with stdout into out_file, pinned to cpus (may be NULL/0), and
 * when want_port, wait up to 30 s for "HOST:PORT" as its first output line. Watch t->pid
 * otherwise (when set). *out is NULL when there is nothing to watch. 0, or -1 with a
 * message in err (the started command is stopped again). */
int run_tproc_start(const run_target *t, const char *out_file, const int *cpus, int ncpus,
                    bool want_port, uint16_t *port, run_tproc **out, char *err, size_t errlen);
/* Take a reading of the process and its descendants: slot 0 = before the links, 1 = the
 * measured window starts, 2 = it ends. Cheap enough for the driver thread at few
 * threads (one /proc walk per thread). */
void run_tproc_mark(run_tproc *p, int slot);
/* The same at time at (rt_now clock; 0: now) on a helper thread, for the driver
 * thread: returns at once. */
void run_tproc_mark_async(run_tproc *p, int slot, rt_ns at);
/* Wait until every mark asked is taken. */
void run_tproc_sync(run_tproc *p);
/* The process is gone (checked without blocking). */
bool run_tproc_exited(run_tproc *p);
/* The watched process (the started command, or --target-pid). */
pid_t run_tproc_pid(const run_tproc *p);
/* Server metrics with the contract's names into m, for links held, from what the
 * kernel tells (run_watch.h: CPU, CPU by thread name, threads and threads per link,
 * wake-ups, RSS, context switches; syscalls_window for syscalls_per_msg); the readings
 * themselves as run.kernel; placement into cpus. */
void run_tproc_metrics(run_tproc *p, json_t *m, json_t *run, int64_t links, char *cpus, size_t cpulen);
/* Stop a started command (SIGTERM to its process group, SIGKILL after 10 s) and free.
 * how gets "exited with status 0" or the like when it was started here. NULL: no-op. */
void run_tproc_stop(run_tproc *p, char *how, size_t howlen);

#endif
