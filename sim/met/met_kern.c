/* met_kern.c — count a process's system calls (raw_syscalls:sys_enter tracepoint) and context switches (software event) with perf_event_open, one inherited counter per thread present. */
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
    int n, cap;
    bool on[MET_KERN_COUNT];    /* this count opened for every thread */
    int (*fd)[MET_KERN_COUNT];  /* per thread; -1 where not counted */
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

static int open_one(uint32_t type, uint64_t config, pid_t tid)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = type;
    a.config = config;
    a.inherit = 1;   /* threads and children made from now on count too */
    /* counting only: no sample, no ring buffer, no read_format group (inherit forbids
     * PERF_FORMAT_GROUP reads); read() then sums this task and its inherited children */
    long fd = syscall(SYS_perf_event_open, &a, (pid_t)tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

static void why_set(char (*why)[MET_KERN_WHY_BYTES], int k, const char *fmt, const char *what,
                    int pid, int err)
{
    if (why && !why[k][0])
        snprintf(why[k], MET_KERN_WHY_BYTES, fmt, what, pid, strerror(err), paranoid());
}

/* Give up count k on every thread (one thread could not be counted: the sum would
 * be partial). */
static void drop(met_kern *k, int w)
{
    k->on[w] = false;
    for (int i = 0; i < k->n; i++)
        if (k->fd[i][w] >= 0) {
            close(k->fd[i][w]);
            k->fd[i][w] = -1;
        }
}

int met_kern_open(pid_t pid, met_kern **out, char (*why)[MET_KERN_WHY_BYTES])
{
    *out = NULL;
    if (why)
        for (int w = 0; w < MET_KERN_COUNT; w++)
            why[w][0] = '\0';
    met_kern *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    uint64_t tp = 0;
    int rc = tracepoint_id(&tp);
    k->on[MET_KERN_SYSCALLS] = rc == 0;
    if (rc < 0 && why)
        snprintf(why[MET_KERN_SYSCALLS], MET_KERN_WHY_BYTES, "raw_syscalls/sys_enter not found in "
                 "tracefs (/sys/kernel/tracing or /sys/kernel/debug/tracing): %s", strerror(-rc));
    k->on[MET_KERN_SWITCHES] = true;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) {
        rc = -errno;
        for (int w = 0; w < MET_KERN_COUNT && why; w++)
            snprintf(why[w], MET_KERN_WHY_BYTES, "%s: %s", path, strerror(-rc));
        free(k);
        return rc;
    }
    static const char *const names[MET_KERN_COUNT] = {"raw_syscalls:sys_enter", "context-switches"};
    struct dirent *e;
    rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (k->n == k->cap) {
            int cap = k->cap ? 2 * k->cap : 16;
            void *n = realloc(k->fd, (size_t)cap * sizeof *k->fd);
            if (!n) {
                rc = -ENOMEM;
                break;
            }
            k->fd = n;
            k->cap = cap;
        }
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
        int fd[MET_KERN_COUNT];
        bool gone = false;
        for (int w = 0; w < MET_KERN_COUNT; w++) {
            fd[w] = -1;
            if (!k->on[w] || gone)
                continue;
            fd[w] = w == MET_KERN_SYSCALLS ? open_one(PERF_TYPE_TRACEPOINT, tp, tid)
                                           : open_one(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, tid);
            if (fd[w] == -ESRCH) {
                gone = true;   /* ended meanwhile: what it made is counted by its maker */
            } else if (fd[w] < 0) {
                why_set(why, w, "perf_event_open(%s, pid %d): %s (kernel.perf_event_paranoid = %d)",
                        names[w], (int)pid, -fd[w]);
                drop(k, w);
            }
        }
        if (gone) {
            for (int w = 0; w < MET_KERN_COUNT; w++)
                if (fd[w] >= 0)
                    close(fd[w]);
            continue;
        }
        for (int w = 0; w < MET_KERN_COUNT; w++)
            k->fd[k->n][w] = fd[w] >= 0 ? fd[w] : -1;
        k->n++;
    }
    closedir(d);
    bool any = false;
    for (int w = 0; w < MET_KERN_COUNT; w++)
        any = any || k->on[w];
    if (rc == 0 && (k->n == 0 || !any)) {
        rc = k->n == 0 ? -ESRCH : -EACCES;
        if (k->n == 0)
            for (int w = 0; w < MET_KERN_COUNT && why; w++)
                snprintf(why[w], MET_KERN_WHY_BYTES, "pid %d has no thread to count", (int)pid);
    }
    if (rc < 0) {
        met_kern_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

int met_kern_read(const met_kern *k, met_kern_reading *out)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    for (int w = 0; w < MET_KERN_COUNT; w++) {
        if (!k->on[w])
            continue;
        int64_t sum = 0;
        bool ok = true;
        for (int i = 0; i < k->n && ok; i++) {
            uint64_t v;
            ssize_t r = read(k->fd[i][w], &v, sizeof v);
            if (r != (ssize_t)sizeof v) {
                ok = false;
                rc = r < 0 ? -errno : -EIO;
            } else {
                sum += (int64_t)v;
            }
        }
        out->v[w] = sum;
        out->have[w] = ok;
    }
    return rc;
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
        for (int w = 0; w < MET_KERN_COUNT; w++)
            if (k->fd[i][w] >= 0)
                close(k->fd[i][w]);
    free(k->fd);
    free(k);
}
