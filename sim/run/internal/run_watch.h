/* run_watch.h — the server processes as the kernel sees them, read from outside (this process) at the run's marks: threads, CPU and context switches per thread name, system calls. */
#ifndef LINKBENCH_RUN_WATCH_H
#define LINKBENCH_RUN_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "rt.h"

/* One reader for every run: the built-in server children and a --target process (and
 * its descendants). Figures a plug-in keeps about itself can miss what it does inside
 * a library or another thread; these come from /proc/PID/task/TID/... and from a perf
 * counter the process cannot see or switch off (met_proc.h, met_kern.h). */

/* Marks: readings of every watched process at one moment. */
enum { RUN_WATCH_BASE, RUN_WATCH_START, RUN_WATCH_END, RUN_WATCH_SLOTS };

typedef struct run_watch run_watch;

/* follow: also watch the descendants of each process added (found at every mark; a
 * target that forks workers). NULL on ENOMEM. */
run_watch *run_watch_create(bool follow);

/* Watch pid. Its system-call counter opens now and counts only the threads that exist
 * now and what they make later: add a process before it makes its threads (a server
 * child before its configuration is sent). 0, or -ENOSPC (too many processes). A
 * process whose counter cannot be opened is watched all the same; the run then reports
 * syscalls as absent with the reason. */
int run_watch_add(run_watch *w, pid_t pid);

/* Take mark slot at time at (rt_now clock; 0 or past: now) on the watch's own thread,
 * so a caller on the driver's thread does not stall on the walk (40-70 us per thread:
 * 100 ms and more at 2000 threads). The system-call counters are read first, at the
 * mark's time; the walk follows. Returns at once. */
void run_watch_mark_at(run_watch *w, int slot, rt_ns at);
/* The same, now, on the caller's thread. */
void run_watch_mark(run_watch *w, int slot);
/* Wait until every mark asked for is taken. */
void run_watch_sync(run_watch *w);

/* What the marks saw, summed over the processes (new reference, NULL on ENOMEM):
 *   threads_base, threads_start, threads_end, threads_max: live threads at the marks;
 *   threads_exited: in the window (their figures after the start mark are missing);
 *   window_ns: between the start and end marks' counter reads; t_start_ns, t_end_ns:
 *     those reads (CLOCK_MONOTONIC, as rt_now);
 *   cpu_ns, ctxsw (voluntary + involuntary switches: schedstat's count of times each
 *     thread was given a CPU): the window's, every thread of every process;
 *   wakeups: the window's context switches of every thread: `switches` where counted,
 *     else `ctxsw` (sources.wakeups says which);
 *   syscalls, switches: the window's system calls and context switches counted by perf
 *     (met_kern.h: exact, exited threads too; null when not counted, with *_why);
 *   by_name: {class: {threads, cpu_ns, ctxsw}} (threads at the end mark; met_proc.h's
 *     name classes), rss_base_bytes, rss_end_bytes, rss_peak_bytes, processes,
 *   walk_ms: [per mark], cpus: "0,1" where the threads last ran;
 *   sources: {wakeups, threads, cpu, syscalls}: where each figure comes from.
 * A slot never taken reads as the nearest earlier one (a run cut short); a window whose
 * start was never marked runs from the mark before the links (window_from says which). */
json_t *run_watch_json(run_watch *w);

/* Stop the watch's thread and free (NULL: no-op). */
void run_watch_destroy(run_watch *w);

#endif
