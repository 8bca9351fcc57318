/* met_proc.h — readings of any process (CPU by thread group, threads, memory, context switches, placement) and of the machine from /proc. */
#ifndef LINKBENCH_MET_PROC_H
#define LINKBENCH_MET_PROC_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Thread groups are chosen by thread-name prefix (the kernel's comm, 15 bytes), so the
 * same reader works for our server, the driver, and external servers we did not build.
 * A thread matching no prefix counts in group `ngroups` ("other"). The first matching
 * prefix wins. With ngroups = MET_PROC_AUTO the groups are the name classes found
 * (met_proc_name_class: "pair-17" and "pair-3" are "pair-"), made as threads appear,
 * up to MET_PROC_GROUPS_MAX; a class beyond that counts as "other". */
#define MET_PROC_GROUPS_MAX 24
#define MET_PROC_PREFIX_MAX 16
#define MET_PROC_AUTO (-1)

/* What to read on each met_proc_read. Walking the tasks costs one open/read/close per
 * file per thread, and on these VMs an open under /proc/PID/task costs 20-60 us once a
 * process has thousands of threads: a walk of 2000 threads took 80-150 ms. So a sampler
 * running every 250 ms should use MET_PROC_TOTAL | MET_PROC_MEM (two files whatever the
 * thread count) and walk the threads only at the start and end of a measurement, or
 * when the process has few threads. (For our own server, rt's per-group counters are
 * exact and free.) */
enum met_proc_what {
    MET_PROC_THREADS = 1 << 0,   /* walk the tasks: per-thread CPU, groups, placement */
    MET_PROC_CTXSW = 1 << 1,     /* + per-thread voluntary/involuntary switches (status) */
    MET_PROC_MEM = 1 << 2,       /* VmRSS, VmHWM, Threads from /proc/PID/status */
    MET_PROC_TOTAL = 1 << 3,     /* process CPU from /proc/PID/stat (utime + stime) */
    MET_PROC_ALL = 15,
    /* Cheaper walks, one file per thread (schedstat) where a full one reads three:
     * RUNS takes each thread's switches from schedstat's count of times it was given a
     * CPU (= voluntary + involuntary switches, within one: group_ctxsw, no split);
     * NAMES_ONCE reads a thread's name (stat) only the first time it is seen, so it
     * gives no placement for the threads already known. */
    MET_PROC_RUNS = 1 << 4,
    MET_PROC_NAMES_ONCE = 1 << 5,
};

typedef struct met_proc_reading {
    int threads;               /* live threads (from the walk, else from status) */
    int threads_seen;          /* distinct threads seen since met_proc_create */
    int64_t cpu_ns;            /* all threads seen, exited ones at their last reading */
    int64_t cpu_total_ns;      /* MET_PROC_TOTAL: whole process incl. exited threads,
                                * in 1/CLK_TCK steps (10 ms): cheap, coarse */
    int64_t group_cpu_ns[MET_PROC_GROUPS_MAX + 1];   /* [ngroups] = other */
    int group_threads[MET_PROC_GROUPS_MAX + 1];      /* live threads per group */
    int group_threads_peak[MET_PROC_GROUPS_MAX + 1]; /* peak of the above over reads */
    int64_t rss_bytes, rss_peak_bytes;               /* VmRSS, VmHWM */
    int64_t ctxsw_voluntary, ctxsw_involuntary;      /* summed like cpu_ns */
    int64_t group_ctxsw[MET_PROC_GROUPS_MAX + 1];    /* voluntary + involuntary, per group */
    int threads_exited;        /* threads seen by an earlier walk and gone since (their
                                * figures after that walk are not in the totals) */
    cpu_set_t cpus;            /* CPUs the live threads last ran on (stat field 39) */
    bool exited;               /* the process is gone (the reading holds the last values) */
} met_proc_reading;

typedef struct met_proc met_proc;

/* Watch `pid` (0 = this process). `prefixes` (may be NULL when ngroups is 0 or
 * MET_PROC_AUTO) name the thread groups; they are copied. Returns NULL on ENOMEM or bad
 * arguments (ngroups > MET_PROC_GROUPS_MAX). Opening nothing yet: a pid that does not
 * exist shows as `exited` on the first read. */
met_proc *met_proc_create(pid_t pid, const char *const *prefixes, int ngroups);
void met_proc_destroy(met_proc *p);   /* NULL is a no-op */
/* Groups so far (with MET_PROC_AUTO: the classes seen by the walks until now). */
int met_proc_groups(const met_proc *p);
/* A thread name's class: the name without its trailing digits ("evl-0" -> "evl-",
 * "app-worker" stays). out holds MET_PROC_PREFIX_MAX bytes. */
void met_proc_name_class(const char *comm, size_t len, char *out);
const char *met_proc_group_name(const met_proc *p, int g);   /* g >= groups: "other" */
/* The index of "other" in a reading's group arrays: groups (fixed prefixes), or
 * MET_PROC_GROUPS_MAX (name classes, whose count grows). */
int met_proc_other(const met_proc *p);

/* Take a reading. Totals are cumulative since met_proc_create: a thread that exits
 * between reads keeps the CPU and switches of its last reading (what it used after that,
 * at most one period, is lost; for exact totals of our own process use rt's counters).
 * Returns 0, -ESRCH when the process is gone (out->exited set, values of the last
 * successful read kept), or -ENOMEM. Allocates only when new threads appear. */
int met_proc_read(met_proc *p, unsigned what, met_proc_reading *out);

/* ---- machine-wide (stateless) */

/* Steal time of all CPUs from /proc/stat, in ns. 0 or negated errno. */
int met_proc_steal_ns(int64_t *steal_ns);
/* Kernel memory of TCP sockets: the "mem" pages of /proc/net/sockstat, in bytes. */
int met_proc_tcp_mem_bytes(int64_t *bytes);
/* Number of CPUs set in a reading's placement, and a "0,1,3" rendering (returns buf). */
int met_proc_cpu_count(const cpu_set_t *s);
const char *met_proc_cpu_list(const cpu_set_t *s, char *buf, size_t len);

#endif
