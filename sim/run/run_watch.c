/* run_watch.c — read the server processes from outside at the run's marks: /proc walks (threads, CPU and switches by thread name) and perf system-call counters. */
#include "run_watch.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "met_kern.h"
#include "met_proc.h"

#define PROCS_MAX 80   /* RUN_SRVS_MAX server children, or a target and its workers */

typedef struct wproc {
    pid_t pid;
    met_proc *mp;
    met_kern *mk;                       /* NULL: no count (see kern_why) or inherited */
    bool inherited;                     /* found later: its parent's counter counts it */
    met_proc_reading r[RUN_WATCH_SLOTS];
    bool have[RUN_WATCH_SLOTS];
    met_kern_reading k[RUN_WATCH_SLOTS];
    int threads_max;
} wproc;

struct run_watch {
    bool follow;
    pthread_mutex_t mu;                 /* guards procs[] and the readings */
    pthread_mutex_t jmu;                /* guards the job fields: never held during a walk,
                                         * so the driver's thread asking for a mark never
                                         * waits for one */
    pthread_cond_t cv;
    pthread_t helper;
    bool helper_on, quit;
    unsigned want, done;                /* bit per slot */
    rt_ns at[RUN_WATCH_SLOTS];
    bool kern_ok[MET_KERN_COUNT];       /* every process has this count */
    char kern_why[MET_KERN_COUNT][MET_KERN_WHY_BYTES];
    rt_ns t_sys[RUN_WATCH_SLOTS];       /* when each mark read the counters */
    rt_ns walk_ns[RUN_WATCH_SLOTS];
    int n;
    wproc procs[PROCS_MAX];
};

static void *helper_main(void *arg);

run_watch *run_watch_create(bool follow)
{
    run_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->follow = follow;
    for (int k = 0; k < MET_KERN_COUNT; k++)
        w->kern_ok[k] = true;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->jmu, NULL);
    /* timed waits on the clock of the marks' times (rt_now: CLOCK_MONOTONIC) */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->helper_on = pthread_create(&w->helper, NULL, helper_main, w) == 0;
    return w;
}

/* Add pid to procs (mu held or no helper running). count: open its own counter. */
static int add_locked(run_watch *w, pid_t pid, bool count)
{
    for (int i = 0; i < w->n; i++)
        if (w->procs[i].pid == pid)
            return 0;
    if (w->n >= PROCS_MAX)
        return -ENOSPC;
    met_proc *mp = met_proc_create(pid, NULL, MET_PROC_AUTO);
    if (!mp)
        return -ENOMEM;
    wproc *p = &w->procs[w->n++];
    *p = (wproc){.pid = pid, .mp = mp, .inherited = !count};
    if (count) {
        char why[MET_KERN_COUNT][MET_KERN_WHY_BYTES];
        met_kern_open(pid, &p->mk, why);
        for (int k = 0; k < MET_KERN_COUNT; k++)
            if (why[k][0] && w->kern_ok[k]) {
                w->kern_ok[k] = false;
                memcpy(w->kern_why[k], why[k], MET_KERN_WHY_BYTES);
            }
    }
    return 0;
}

int run_watch_add(run_watch *w, pid_t pid)
{
    pthread_mutex_lock(&w->mu);
    int rc = add_locked(w, pid, true);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* The children of every thread of pid (/proc/PID/task/TID/children), recursively. A
 * process found at the first mark gets its own counter; one found later was made after
 * its parent's counter opened, which counts it already (inheritance). */
static void find_tree(run_watch *w, pid_t pid, int depth, bool count)
{
    if (depth > 4)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p2[320], buf[1024];
        snprintf(p2, sizeof p2, "/proc/%d/task/%s/children", (int)pid, e->d_name);
        FILE *f = fopen(p2, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        for (char *s = buf, *end; *s; s = end) {
            long c = strtol(s, &end, 10);
            if (end == s)
                break;
            if (c > 0 && add_locked(w, (pid_t)c, count) == 0)
                find_tree(w, (pid_t)c, depth + 1, count);
        }
    }
    closedir(d);
}

static void take(run_watch *w, int slot)
{
    pthread_mutex_lock(&w->mu);
    /* the counters first: cheap, and they are what the mark's time means */
    w->t_sys[slot] = rt_now();
    for (int i = 0; i < w->n; i++) {
        wproc *p = &w->procs[i];
        memset(&p->k[slot], 0, sizeof p->k[slot]);
        if (p->mk)
            met_kern_read(p->mk, &p->k[slot]);
    }
    if (w->follow) {
        int n = w->n;
        for (int i = 0; i < n; i++)
            find_tree(w, w->procs[i].pid, 0, slot == RUN_WATCH_BASE);
    }
    rt_ns t0 = rt_now();
    for (int i = 0; i < w->n; i++) {
        wproc *p = &w->procs[i];
        met_proc_reading r;
        /* one file per thread (schedstat: CPU and switches); names once per thread: at
         * 2000 threads a full walk of three files each takes 100 ms and more */
        unsigned what = MET_PROC_THREADS | MET_PROC_RUNS | MET_PROC_MEM;
        if (slot != RUN_WATCH_BASE)
            what |= MET_PROC_NAMES_ONCE;
        if (met_proc_read(p->mp, what, &r) == 0) {
            p->r[slot] = r;
            p->have[slot] = true;
            if (r.threads > p->threads_max)
                p->threads_max = r.threads;
        }
    }
    w->walk_ns[slot] = rt_now() - t0;
    pthread_mutex_unlock(&w->mu);
}

void run_watch_mark(run_watch *w, int slot)
{
    if (w && slot >= 0 && slot < RUN_WATCH_SLOTS)
        take(w, slot);
}

static void *helper_main(void *arg)
{
    run_watch *w = arg;
    pthread_mutex_lock(&w->jmu);
    for (;;) {
        while (!w->quit && !(w->want & ~w->done))
            pthread_cond_wait(&w->cv, &w->jmu);
        unsigned todo = w->want & ~w->done;
        if (!todo || w->quit)
            break;   /* a mark still pending at the end is not taken: nothing waits for it */
        int slot = __builtin_ctz(todo);
        /* wait for the mark's time; a later request may bring it forward (a run
         * stopped before its planned end ends its window then) */
        if (w->at[slot] > rt_now()) {
            struct timespec ts = {.tv_sec = w->at[slot] / RT_S, .tv_nsec = w->at[slot] % RT_S};
            pthread_cond_timedwait(&w->cv, &w->jmu, &ts);
            continue;
        }
        pthread_mutex_unlock(&w->jmu);
        take(w, slot);
        pthread_mutex_lock(&w->jmu);
        w->done |= 1u << slot;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->jmu);
    return NULL;
}

void run_watch_mark_at(run_watch *w, int slot, rt_ns at)
{
    if (!w || slot < 0 || slot >= RUN_WATCH_SLOTS)
        return;
    if (!w->helper_on) {
        if (at > rt_now())
            rt_sleep_until(at, NULL);
        take(w, slot);
        return;
    }
    pthread_mutex_lock(&w->jmu);
    if (!(w->want & (1u << slot))) {
        w->at[slot] = at;
        w->want |= 1u << slot;
    } else if (!(w->done & (1u << slot)) && at < w->at[slot]) {
        w->at[slot] = at;   /* asked again, sooner: the earlier time holds */
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->jmu);
}

void run_watch_sync(run_watch *w)
{
    if (!w || !w->helper_on)
        return;
    pthread_mutex_lock(&w->jmu);
    while ((w->want & ~w->done) != 0)
        pthread_cond_wait(&w->cv, &w->jmu);
    pthread_mutex_unlock(&w->jmu);
}

void run_watch_destroy(run_watch *w)
{
    if (!w)
        return;
    if (w->helper_on) {
        pthread_mutex_lock(&w->jmu);
        w->quit = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->jmu);
        pthread_join(w->helper, NULL);
    }
    for (int i = 0; i < w->n; i++) {
        met_proc_destroy(w->procs[i].mp);
        met_kern_close(w->procs[i].mk);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->jmu);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* Add v to the number at key of object o. */
static void add_num(json_t *o, const char *key, int64_t v)
{
    json_t *cur = json_object_get(o, key);
    json_object_set_new(o, key, json_integer((cur ? json_integer_value(cur) : 0) + v));
}

/* The reading at slot, or the nearest earlier one taken; NULL when none. */
static const met_proc_reading *at_or_before(const wproc *p, int slot)
{
    for (int s = slot; s >= 0; s--)
        if (p->have[s])
            return &p->r[s];
    return NULL;
}

json_t *run_watch_json(run_watch *w)
{
    json_t *j = json_object(), *by = json_object();
    if (!j || !by) {
        json_decref(j);
        json_decref(by);
        return NULL;
    }
    pthread_mutex_lock(&w->mu);
    /* a run whose window never started (the driver never reported the measuring phase:
     * the server then counts the whole run) starts at the mark before the links */
    int s0 = w->t_sys[RUN_WATCH_START] ? RUN_WATCH_START : RUN_WATCH_BASE;
    int64_t th[RUN_WATCH_SLOTS] = {0}, th_max = 0, exited = 0, cpu = 0, switches = 0;
    int64_t rss0 = 0, rss = 0, hwm = 0, kv[MET_KERN_COUNT] = {0};
    int nproc = 0;
    bool kv_have[MET_KERN_COUNT];
    for (int c = 0; c < MET_KERN_COUNT; c++)
        kv_have[c] = w->kern_ok[c];
    cpu_set_t where;
    CPU_ZERO(&where);
    for (int i = 0; i < w->n; i++) {
        const wproc *p = &w->procs[i];
        const met_proc_reading *b = at_or_before(p, RUN_WATCH_END);
        if (!b)
            continue;
        nproc++;
        /* a process first seen after the window started lived all of its life in it */
        const met_proc_reading *a = p->have[s0] ? &p->r[s0]
                                  : p->have[RUN_WATCH_BASE] ? &p->r[RUN_WATCH_BASE] : NULL;
        if (a == b && !p->have[RUN_WATCH_END])
            a = b;   /* cut short before the end: an empty window, not a whole life */
        for (int s = 0; s < RUN_WATCH_SLOTS; s++) {
            const met_proc_reading *r = at_or_before(p, s);
            th[s] += r ? r->threads : 0;
        }
        th_max += p->threads_max;
        cpu += b->cpu_ns - (a ? a->cpu_ns : 0);
        exited += b->threads_exited - (a ? a->threads_exited : 0);
        int ng = met_proc_groups(p->mp), other = met_proc_other(p->mp);
        for (int g = 0; g <= ng; g++) {
            int k = g == ng ? other : g;
            const char *name = met_proc_group_name(p->mp, k);
            json_t *o = json_object_get(by, name);
            if (!o)
                json_object_set_new(by, name, o = json_pack("{s:I,s:I,s:I}", "threads", (json_int_t)0,
                                                            "cpu_ns", (json_int_t)0, "ctxsw", (json_int_t)0));
            add_num(o, "threads", b->group_threads[k]);
            add_num(o, "cpu_ns", b->group_cpu_ns[k] - (a ? a->group_cpu_ns[k] : 0));
            add_num(o, "ctxsw", b->group_ctxsw[k] - (a ? a->group_ctxsw[k] : 0));
            switches += b->group_ctxsw[k] - (a ? a->group_ctxsw[k] : 0);
        }
        const met_proc_reading *r0 = at_or_before(p, RUN_WATCH_BASE);
        rss0 += r0 ? r0->rss_bytes : b->rss_bytes;
        rss += b->rss_bytes;
        hwm += b->rss_peak_bytes;
        /* placement: walks that read names once see it only for threads new to them */
        for (int s = 0; s < RUN_WATCH_SLOTS; s++)
            if (p->have[s])
                CPU_OR(&where, &where, &p->r[s].cpus);
        if (p->inherited)
            continue;   /* counted by its parent's inherited counter */
        for (int c = 0; c < MET_KERN_COUNT; c++) {
            if (p->k[s0].have[c] && p->k[RUN_WATCH_END].have[c])
                kv[c] += p->k[RUN_WATCH_END].v[c] - p->k[s0].v[c];
            else
                kv_have[c] = false;
        }
    }
    /* names that neither ran nor live: a reader wants the threads that exist or worked */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(by, tmp, k, v)
        if (json_integer_value(json_object_get(v, "threads")) == 0 &&
            json_integer_value(json_object_get(v, "cpu_ns")) == 0 &&
            json_integer_value(json_object_get(v, "ctxsw")) == 0)
            json_object_del(by, k);
    char cpus[256];
    met_proc_cpu_list(&where, cpus, sizeof cpus);
    json_object_set_new(j, "processes", json_integer(nproc));
    json_object_set_new(j, "threads_base", json_integer(th[RUN_WATCH_BASE]));
    json_object_set_new(j, "threads_start", json_integer(th[RUN_WATCH_START]));
    json_object_set_new(j, "threads_end", json_integer(th[RUN_WATCH_END]));
    json_object_set_new(j, "threads_max", json_integer(th_max));
    json_object_set_new(j, "threads_exited", json_integer(exited));
    json_object_set_new(j, "window_ns", json_integer(w->t_sys[RUN_WATCH_END] && w->t_sys[s0]
                                                     ? w->t_sys[RUN_WATCH_END] - w->t_sys[s0] : 0));
    json_object_set_new(j, "window_from", json_string(s0 == RUN_WATCH_START ? "window start" : "before the links"));
    json_object_set_new(j, "t_start_ns", json_integer(w->t_sys[s0]));
    json_object_set_new(j, "t_end_ns", json_integer(w->t_sys[RUN_WATCH_END]));
    json_object_set_new(j, "cpu_ns", json_integer(cpu));
    json_object_set_new(j, "ctxsw", json_integer(switches));
    static const char *const kn[MET_KERN_COUNT] = {"syscalls", "switches"};
    for (int c = 0; c < MET_KERN_COUNT; c++) {
        char why[40];
        snprintf(why, sizeof why, "%s_why", kn[c]);
        if (kv_have[c] && nproc > 0) {
            json_object_set_new(j, kn[c], json_integer(kv[c]));
        } else {
            json_object_set_new(j, kn[c], json_null());
            json_object_set_new(j, why, json_string(!w->kern_ok[c] ? w->kern_why[c]
                                : nproc == 0 ? "no process was read"
                                             : "a counter could not be read at both window marks"));
        }
    }
    json_object_set_new(j, "by_name", by);
    json_object_set_new(j, "rss_base_bytes", json_integer(rss0));
    json_object_set_new(j, "rss_end_bytes", json_integer(rss));
    json_object_set_new(j, "rss_peak_bytes", json_integer(hwm));
    json_object_set_new(j, "walk_ms", json_pack("[f,f,f]", w->walk_ns[0] / 1e6, w->walk_ns[1] / 1e6,
                                                w->walk_ns[2] / 1e6));
    json_object_set_new(j, "cpus", json_string(cpus));
    bool sw = kv_have[MET_KERN_SWITCHES] && nproc > 0;
    /* the wake-ups: perf's exact count where there is one, else the walks' sum */
    json_object_set_new(j, "wakeups", json_integer(sw ? kv[MET_KERN_SWITCHES] : switches));
    json_object_set_new(j, "sources", json_pack("{s:s,s:s,s:s,s:s,s:o}",
        "wakeups", sw ? MET_KERN_SWITCHES_SOURCE " (inherited: every thread, exited ones too)"
                      : "proc:task/*/schedstat timeslices (times given a CPU: voluntary + involuntary "
                        "switches; a thread that ended in the window counts to its last reading)",
        "wakeups_by_group", "proc:task/*/schedstat timeslices by thread name",
        "threads", "proc:task",
        "cpu", "proc:task/*/schedstat",
        "syscalls", kv_have[MET_KERN_SYSCALLS] && nproc > 0 ? json_string(MET_KERN_SYSCALLS_SOURCE) : json_null()));
    pthread_mutex_unlock(&w->mu);
    return j;
}
