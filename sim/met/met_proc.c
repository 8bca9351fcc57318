/* met_proc.c — /proc readers: per-thread CPU by name group, threads, RSS, context switches, placement; steal and TCP memory. */
#include "met_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One thread as of one reading. */
typedef struct task {
    pid_t tid;
    int group;
    int64_t cpu_ns, vol, invol;
    int64_t switches;   /* vol + invol (CTXSW), or schedstat's run count (RUNS) */
} task;

struct met_proc {
    pid_t pid;
    int ngroups;
    bool autogroups;               /* groups are name classes, made as they appear */
    char prefix[MET_PROC_GROUPS_MAX][MET_PROC_PREFIX_MAX];
    size_t prefix_len[MET_PROC_GROUPS_MAX];
    /* The previous walk and the current one, each sorted by tid. Threads present before
     * and missing now have exited: their last values move into the `gone_*` totals.
     * Two arrays that only grow keep the steady state free of allocation. */
    task *prev, *cur;
    size_t nprev, ncur, cap;
    int64_t gone_cpu[MET_PROC_GROUPS_MAX + 1], gone_ctxsw[MET_PROC_GROUPS_MAX + 1];
    int64_t gone_vol, gone_invol;
    int threads_seen, threads_exited;
    int main_group;                /* the group of the main thread (tid == pid), or -1 */
    int peak[MET_PROC_GROUPS_MAX + 1];
    met_proc_reading last;
};

met_proc *met_proc_create(pid_t pid, const char *const *prefixes, int ngroups)
{
    bool autogroups = ngroups == MET_PROC_AUTO;
    if (autogroups)
        ngroups = 0;
    if (ngroups < 0 || ngroups > MET_PROC_GROUPS_MAX || (ngroups > 0 && !prefixes))
        return NULL;
    met_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pid = pid ? pid : getpid();
    p->ngroups = ngroups;
    p->autogroups = autogroups;
    p->main_group = -1;
    for (int g = 0; g < ngroups; g++) {
        snprintf(p->prefix[g], sizeof p->prefix[g], "%s", prefixes[g] ? prefixes[g] : "");
        p->prefix_len[g] = strlen(p->prefix[g]);
    }
    return p;
}

void met_proc_destroy(met_proc *p)
{
    if (!p)
        return;
    free(p->prev);
    free(p->cur);
    free(p);
}

int met_proc_groups(const met_proc *p)
{
    return p->ngroups;
}

const char *met_proc_group_name(const met_proc *p, int g)
{
    return g >= 0 && g < p->ngroups ? p->prefix[g] : "other";
}

int met_proc_other(const met_proc *p)
{
    return p->autogroups ? MET_PROC_GROUPS_MAX : p->ngroups;
}

static int other_index(const met_proc *p)
{
    return met_proc_other(p);
}

/* Read a small /proc file relative to dirfd into buf (NUL-terminated). Length or -errno. */
static ssize_t slurp(int dirfd, const char *name, char *buf, size_t len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && got == 0) {
                int e = errno;
                close(fd);
                return -e;
            }
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* Value after "key" in a status-style file ("Key:\t 123 kB"); -1 when absent. */
static int64_t status_field(const char *text, const char *key)
{
    const char *at = strstr(text, key);
    if (!at)
        return -1;
    return strtoll(at + strlen(key), NULL, 10);
}

void met_proc_name_class(const char *comm, size_t len, char *out)
{
    if (len > MET_PROC_PREFIX_MAX - 1)
        len = MET_PROC_PREFIX_MAX - 1;
    while (len > 1 && comm[len - 1] >= '0' && comm[len - 1] <= '9')
        len--;
    memcpy(out, comm, len);
    out[len] = '\0';
}

/* With fixed groups: the first prefix that matches, else "other". With name classes:
 * the class's group, made at its first sight; "other" once the table is full (the
 * last slot stays "other": indices must not move once readings hold them). */
static int group_of(met_proc *p, const char *comm, size_t len)
{
    if (p->autogroups) {
        char cls[MET_PROC_PREFIX_MAX];
        met_proc_name_class(comm, len, cls);
        for (int g = 0; g < p->ngroups; g++)
            if (!strcmp(p->prefix[g], cls))
                return g;
        if (p->ngroups == MET_PROC_GROUPS_MAX)
            return MET_PROC_GROUPS_MAX;
        memcpy(p->prefix[p->ngroups], cls, sizeof cls);
        p->prefix_len[p->ngroups] = strlen(cls);
        return p->ngroups++;
    }
    for (int g = 0; g < p->ngroups; g++)
        if (p->prefix_len[g] <= len && memcmp(comm, p->prefix[g], p->prefix_len[g]) == 0)
            return g;
    return p->ngroups;
}

/* Parse /proc/.../stat: comm between the first '(' and the last ')' (a name may hold
 * both), then field 39 (processor) is the 37th token after the ')'. */
static int parse_stat(met_proc *p, char *text, int *group, int *cpu)
{
    char *open = strchr(text, '('), *close = strrchr(text, ')');
    if (!open || !close || close < open)
        return -EINVAL;
    *group = group_of(p, open + 1, (size_t)(close - open - 1));
    char *s = close + 1;
    for (int field = 3; field <= 39; field++) {
        while (*s == ' ')
            s++;
        if (!*s)
            return -EINVAL;
        if (field == 39) {
            *cpu = (int)strtol(s, NULL, 10);
            return 0;
        }
        while (*s && *s != ' ')
            s++;
    }
    return -EINVAL;
}

static int by_tid(const void *a, const void *b)
{
    pid_t x = ((const task *)a)->tid, y = ((const task *)b)->tid;
    return (x > y) - (x < y);
}

static int reserve(met_proc *p, size_t n)
{
    if (n <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < n)
        cap *= 2;
    task *a = realloc(p->prev, cap * sizeof *a);
    if (!a)
        return -ENOMEM;
    p->prev = a;
    task *b = realloc(p->cur, cap * sizeof *b);
    if (!b)
        return -ENOMEM;
    p->cur = b;
    p->cap = cap;
    return 0;
}

/* The previous walk's record of tid (prev is sorted by tid), or NULL. */
static const task *find_prev(const met_proc *p, pid_t tid)
{
    size_t lo = 0, hi = p->nprev;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->prev[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nprev && p->prev[lo].tid == tid ? &p->prev[lo] : NULL;
}

/* Read one thread into t; -errno when it vanished meanwhile (then it is skipped). */
static int read_task(met_proc *p, int taskfd, pid_t tid, unsigned what, task *t, cpu_set_t *cpus)
{
    char name[64], buf[4096];
    int group = other_index(p), cpu = -1;
    /* a name is kept once read, unless it was the main thread's: a thread starts with
     * its maker's name and may not have renamed itself yet when first seen */
    const task *known = (what & MET_PROC_NAMES_ONCE) ? find_prev(p, tid) : NULL;
    if (known && tid != p->pid && known->group != p->main_group) {
        group = known->group;
    } else {
        snprintf(name, sizeof name, "%d/stat", (int)tid);
        if (slurp(taskfd, name, buf, sizeof buf) < 0 || parse_stat(p, buf, &group, &cpu) < 0)
            return -ESRCH;
        if (tid == p->pid)
            p->main_group = group;
    }
    snprintf(name, sizeof name, "%d/schedstat", (int)tid);
    if (slurp(taskfd, name, buf, sizeof buf) < 0)
        return -ESRCH;
    /* "run ns, wait ns, timeslices": the last counts the times it was given a CPU */
    char *end;
    *t = (task){.tid = tid, .group = group, .cpu_ns = strtoll(buf, &end, 10)};
    if (what & MET_PROC_RUNS) {
        strtoll(end, &end, 10);
        t->switches = strtoll(end, NULL, 10);
    }
    if (what & MET_PROC_CTXSW) {
        snprintf(name, sizeof name, "%d/status", (int)tid);
        if (slurp(taskfd, name, buf, sizeof buf) < 0)
            return -ESRCH;
        t->vol = status_field(buf, "\nvoluntary_ctxt_switches:");
        t->invol = status_field(buf, "\nnonvoluntary_ctxt_switches:");
        if (t->vol < 0 || t->invol < 0)
            t->vol = t->invol = 0;
        if (!(what & MET_PROC_RUNS))
            t->switches = t->vol + t->invol;
    }
    if (cpu >= 0 && cpu < CPU_SETSIZE)
        CPU_SET(cpu, cpus);
    return 0;
}

/* Threads of the previous walk that are gone now (or whose tid was reused: the CPU
 * went backwards) retire into the gone_* totals. Both arrays are sorted by tid. */
static void retire_exited(met_proc *p)
{
    size_t i = 0, j = 0;
    while (i < p->nprev) {
        const task *o = &p->prev[i];
        while (j < p->ncur && p->cur[j].tid < o->tid)
            j++;
        bool same = j < p->ncur && p->cur[j].tid == o->tid && p->cur[j].cpu_ns >= o->cpu_ns;
        if (!same) {
            p->gone_cpu[o->group] += o->cpu_ns;
            p->gone_ctxsw[o->group] += o->switches;
            p->gone_vol += o->vol;
            p->gone_invol += o->invol;
            p->threads_exited++;
        }
        i++;
    }
    /* count newly seen threads: present now, absent before */
    i = 0;
    for (j = 0; j < p->ncur; j++) {
        while (i < p->nprev && p->prev[i].tid < p->cur[j].tid)
            i++;
        if (i >= p->nprev || p->prev[i].tid != p->cur[j].tid || p->cur[j].cpu_ns < p->prev[i].cpu_ns)
            p->threads_seen++;
    }
}

static int walk_threads(met_proc *p, unsigned what, met_proc_reading *r)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)p->pid);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? -ESRCH : -errno;
    int taskfd = dirfd(d);
    p->ncur = 0;
    CPU_ZERO(&r->cpus);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if ((rc = reserve(p, p->ncur + 1)) < 0)
            break;
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
        if (read_task(p, taskfd, tid, what, &p->cur[p->ncur], &r->cpus) == 0)
            p->ncur++;
    }
    closedir(d);
    if (rc < 0)
        return rc;
    if (p->ncur == 0)
        return -ESRCH;   /* a zombie: the task dir exists but holds no live thread */
    qsort(p->cur, p->ncur, sizeof *p->cur, by_tid);
    retire_exited(p);
    task *t = p->prev;
    p->prev = p->cur;
    p->cur = t;
    p->nprev = p->ncur;

    int ng = other_index(p);
    for (int g = 0; g <= ng; g++) {
        r->group_cpu_ns[g] = p->gone_cpu[g];
        r->group_ctxsw[g] = p->gone_ctxsw[g];
        r->group_threads[g] = 0;
    }
    r->ctxsw_voluntary = p->gone_vol;
    r->ctxsw_involuntary = p->gone_invol;
    for (size_t i = 0; i < p->nprev; i++) {
        const task *k = &p->prev[i];
        r->group_cpu_ns[k->group] += k->cpu_ns;
        r->group_ctxsw[k->group] += k->switches;
        r->group_threads[k->group]++;
        r->ctxsw_voluntary += k->vol;
        r->ctxsw_involuntary += k->invol;
    }
    r->threads_exited = p->threads_exited;
    r->cpu_ns = 0;
    for (int g = 0; g <= ng; g++) {
        r->cpu_ns += r->group_cpu_ns[g];
        if (r->group_threads[g] > p->peak[g])
            p->peak[g] = r->group_threads[g];
        r->group_threads_peak[g] = p->peak[g];
    }
    r->threads = (int)p->nprev;
    r->threads_seen = p->threads_seen;
    return 0;
}

static int read_mem(met_proc *p, met_proc_reading *r, bool threads_too)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)p->pid);
    ssize_t n = slurp(AT_FDCWD, path, buf, sizeof buf);
    if (n < 0)
        return n == -ENOENT ? -ESRCH : (int)n;
    int64_t rss = status_field(buf, "\nVmRSS:"), hwm = status_field(buf, "\nVmHWM:");
    if (rss < 0)
        return -ESRCH;   /* a zombie has no Vm* lines */
    r->rss_bytes = rss * 1024;
    r->rss_peak_bytes = hwm < 0 ? r->rss_bytes : hwm * 1024;
    if (threads_too)
        r->threads = (int)status_field(buf, "\nThreads:");
    return 0;
}

/* utime + stime, fields 14 and 15 of /proc/PID/stat (12th and 13th after the comm). */
static int read_total(met_proc *p, met_proc_reading *r)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    ssize_t n = slurp(AT_FDCWD, path, buf, sizeof buf);
    if (n < 0)
        return n == -ENOENT ? -ESRCH : (int)n;
    char *s = strrchr(buf, ')');
    long long ut, st;
    if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -EINVAL;
    long hz = sysconf(_SC_CLK_TCK);
    r->cpu_total_ns = (ut + st) * (1000000000LL / (hz > 0 ? hz : 100));
    return 0;
}

int met_proc_read(met_proc *p, unsigned what, met_proc_reading *out)
{
    met_proc_reading r = p->last;
    int rc = 0;
    if (what & MET_PROC_TOTAL)
        rc = read_total(p, &r);
    if (rc == 0 && (what & MET_PROC_THREADS))
        rc = walk_threads(p, what, &r);
    if (rc == 0 && (what & MET_PROC_MEM))
        rc = read_mem(p, &r, !(what & MET_PROC_THREADS));
    if (rc == -ESRCH) {
        p->last.exited = true;
        *out = p->last;
        return rc;
    }
    if (rc < 0) {
        *out = p->last;
        return rc;
    }
    r.exited = false;
    p->last = r;
    *out = r;
    return 0;
}

int met_proc_steal_ns(int64_t *steal_ns)
{
    char buf[512];
    ssize_t n = slurp(AT_FDCWD, "/proc/stat", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    /* "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks */
    long long f[8];
    if (sscanf(buf, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &f[0], &f[1], &f[2],
               &f[3], &f[4], &f[5], &f[6], &f[7]) != 8)
        return -EINVAL;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    *steal_ns = f[7] * (1000000000LL / hz);
    return 0;
}

int met_proc_tcp_mem_bytes(int64_t *bytes)
{
    char buf[1024];
    ssize_t n = slurp(AT_FDCWD, "/proc/net/sockstat", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    const char *tcp = strstr(buf, "\nTCP:");
    const char *mem = tcp ? strstr(tcp, " mem ") : NULL;
    const char *eol = tcp ? strchr(tcp + 1, '\n') : NULL;
    if (!mem || (eol && mem > eol))
        return -EINVAL;
    *bytes = strtoll(mem + 5, NULL, 10) * (int64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

int met_proc_cpu_count(const cpu_set_t *s)
{
    return CPU_COUNT(s);
}

const char *met_proc_cpu_list(const cpu_set_t *s, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && used < len; c++) {
        if (!CPU_ISSET(c, s))
            continue;
        int n = snprintf(buf + used, len - used, used ? ",%d" : "%d", c);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
