/* met_kern.h — the kernel's own count of a process's system calls and context switches (perf_event_open, inherited by every thread it makes). */
#ifndef LINKBENCH_MET_KERN_H
#define LINKBENCH_MET_KERN_H

#include <stdbool.h>
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
#define MET_KERN_SWITCHES_SOURCE "perf:context-switches"

/* What met_kern counts. Context switches (the software event, voluntary and involuntary
 * alike: the number /proc's status gives per thread) are counted the same way, so that
 * a thread that ends inside the measured window still counts whole: /proc forgets it. */
enum met_kern_what { MET_KERN_SYSCALLS, MET_KERN_SWITCHES, MET_KERN_COUNT };

typedef struct met_kern met_kern;

typedef struct met_kern_reading {
    int64_t v[MET_KERN_COUNT];
    bool have[MET_KERN_COUNT];   /* counted on this machine and read */
} met_kern_reading;

/* Start counting the system calls and context switches of pid (and of every thread it
 * and its threads make from now on). Returns 0 with *out when at least one of them can
 * be counted; why[k] (each MET_KERN_WHY_BYTES, may be NULL) says why a count is not
 * there ("perf_event_open: Permission denied (kernel.perf_event_paranoid = 2)", "no
 * tracefs with raw_syscalls/sys_enter"). A negated errno and *out NULL when neither
 * can: the caller reports the figures as absent, never as a partial count. */
#define MET_KERN_WHY_BYTES 256
int met_kern_open(pid_t pid, met_kern **out, char (*why)[MET_KERN_WHY_BYTES]);

/* The counts so far (threads that exited included). 0, or a negated errno (a counter
 * could not be read: out->have says which figures are unknown). */
int met_kern_read(const met_kern *k, met_kern_reading *out);

/* Threads counted from (one per thread present at met_kern_open). */
int met_kern_counters(const met_kern *k);

void met_kern_close(met_kern *k);   /* NULL is a no-op */

#endif
