/* met_kern.h — the kernel's own count of a process's system calls (perf_event_open on the raw_syscalls:sys_enter tracepoint, inherited by every thread it makes). */
#ifndef LINKBENCH_MET_KERN_H
#define LINKBENCH_MET_KERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Why the kernel and not our wrappers: vsock counts its own read/write/poll calls, but a
 * server also makes system calls inside libraries and the runtime (libev's epoll_wait
 * and epoll_ctl, eventfd wake-ups, every futex of a queue or a lock), and a plug-in
 * may make its own. The tracepoint fires in the kernel on every system call entry of
 * the task: nothing in the process can route around it.
 *
 * Inheritance covers threads and children made after the counter is opened, not those
 * that exist already: met_kern_open opens one counter per thread present (each then
 * inherited by what that thread makes), so opening it while the process is still
 * single-threaded (a server child before its configuration arrives) counts every thread
 * it will ever have, exited ones included. */

#define MET_KERN_SYSCALLS_SOURCE "perf:raw_syscalls:sys_enter"

typedef struct met_kern met_kern;

/* Start counting the system calls of pid (and of every thread it and its threads make
 * from now on). Returns 0 with *out, or a negated errno with why ("perf_event_open:
 * Permission denied (kernel.perf_event_paranoid = 2)", "no tracefs with
 * raw_syscalls/sys_enter") and *out NULL: then there is no count on this machine, and
 * the caller must report the figure as absent, never as a partial count. */
int met_kern_open(pid_t pid, met_kern **out, char *why, size_t whylen);

/* System calls counted so far (threads that exited included). 0, or a negated errno
 * (a counter could not be read: the figure is unknown). */
int met_kern_read(const met_kern *k, int64_t *syscalls);

/* Counters opened (one per thread present at met_kern_open). */
int met_kern_counters(const met_kern *k);

void met_kern_close(met_kern *k);   /* NULL is a no-op */

#endif
