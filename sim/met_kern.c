/* met_kern.c — count a process's system calls with perf_event_open on the raw_syscalls:sys_enter tracepoint, one inherited counter per thread present. */
#include "met_kern.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct met_kern {
    int n;
    int fd[];
};

/* The tracepoint's id, from tracefs where it is mounted (the id file is usually
 * readable by root only). */
static int tracepoint_id(uint64_t *id)
{
    static const char *const paths[] = {
        "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
        "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
    };
    int err = -ENOENT;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        FILE *f = fopen(paths[i], "re");
        if (!f) {
            if (errno != ENOENT)
                err = -errno;
            continue;
        }
        unsigned long long v;
        int ok = fscanf(f, "%llu", &v) == 1;
        fclose(f);
        if (ok) {
            *id = v;
            return 0;
        }
    }
    return err;
}

static int paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    int v = 99;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 99;
        fclose(f);
    }
    return v;
}

static int open_one(uint64_t id, pid_t tid)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_TRACEPOINT;
    a.config = id;
    a.inherit = 1;   /* threads and children made from now on count too */
    /* counting only: no sample, no ring buffer, no read_format group (inherit forbids
     * PERF_FORMAT_GROUP reads); read() then sums this task and its inherited children */
    long fd = syscall(SYS_perf_event_open, &a, (pid_t)tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int met_kern_open(pid_t pid, met_kern **out, char *why, size_t whylen)
{
    *out = NULL;
    uint64_t id = 0;
    int rc = tracepoint_id(&id);
    if (rc < 0) {
        snprintf(why, whylen, "raw_syscalls/sys_enter not found in tracefs (/sys/kernel/tracing "
                 "or /sys/kernel/debug/tracing): %s", strerror(-rc));
        return rc;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) {
        rc = -errno;
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return rc;
    }
    int cap = 16;
    met_kern *k = calloc(1, sizeof *k + (size_t)cap * sizeof(int));
    struct dirent *e;
    rc = k ? 0 : -ENOMEM;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (k->n == cap) {
            cap *= 2;
            met_kern *n = realloc(k, sizeof *k + (size_t)cap * sizeof(int));
            if (!n) {
                rc = -ENOMEM;
                break;
            }
            k = n;
        }
        int fd = open_one(id, (pid_t)strtol(e->d_name, NULL, 10));
        if (fd == -ESRCH)
            continue;   /* the thread ended meanwhile: what it made is counted by its maker */
        if (fd < 0) {
            rc = fd;
            snprintf(why, whylen, "perf_event_open(raw_syscalls:sys_enter, pid %d): %s "
                     "(kernel.perf_event_paranoid = %d)", (int)pid, strerror(-fd), paranoid());
            break;
        }
        k->fd[k->n++] = fd;
    }
    closedir(d);
    if (rc == 0 && (!k || k->n == 0)) {
        rc = -ESRCH;
        snprintf(why, whylen, "pid %d has no thread to count", (int)pid);
    }
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(why, whylen, "out of memory");
        met_kern_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

int met_kern_read(const met_kern *k, int64_t *syscalls)
{
    int64_t sum = 0;
    for (int i = 0; i < k->n; i++) {
        uint64_t v;
        ssize_t r = read(k->fd[i], &v, sizeof v);
        if (r != (ssize_t)sizeof v)
            return r < 0 ? -errno : -EIO;
        sum += (int64_t)v;
    }
    *syscalls = sum;
    return 0;
}

int met_kern_counters(const met_kern *k)
{
    return k ? k->n : 0;
}

void met_kern_close(met_kern *k)
{
    if (!k)
        return;
    for (int i = 0; i < k->n; i++)
        close(k->fd[i]);
    free(k);
}
