/* run_ext_proc.c — the external target's process: start and stop a --target-cmd, and read its /proc figures (and its descendants') around the measured window. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "met_proc.h"
#include "rt.h"
#include "run_ext.h"

extern char **environ;

/* A server may fork workers (nginx, a wrapper like `linkbench serve`): the target is
 * the process and every descendant found while the run goes on. */
#define PROCS_MAX 16
#define SLOTS 3

typedef struct tp {
    pid_t pid;
    met_proc *mp;
    met_proc_reading r[SLOTS];
    bool have[SLOTS];
    int threads_max;
} tp;

struct run_tproc {
    /* Marks asked from the driver thread are taken on a helper thread: walking a
     * thread-per-link server's /proc/PID/task costs 40-70 us per thread (met_proc.h),
     * 100 ms and more at 2000 threads, which would stall the driver's sends. */
    pthread_t helper;
    bool helper_on, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned want, done;       /* bit per slot */
    pid_t root;
    bool started;              /* we started it: we reap and stop it */
    bool reaped;
    int status;
    int n;
    tp procs[PROCS_MAX];
};

/* Distinct thread names of pid, longest first so that a short name never takes a
 * longer one's threads as a prefix (met_proc groups by prefix). */
static int thread_names(pid_t pid, char names[][MET_PROC_PREFIX_MAX], int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p[320], name[MET_PROC_PREFIX_MAX] = "";
        snprintf(p, sizeof p, "/proc/%d/task/%s/comm", (int)pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
        bool seen = !name[0];
        for (int i = 0; i < n && !seen; i++)
            seen = !strcmp(names[i], name);
        if (!seen)
            snprintf(names[n++], MET_PROC_PREFIX_MAX, "%s", name);
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strlen(names[j]) > strlen(names[j - 1]); j--) {
            char t[MET_PROC_PREFIX_MAX];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    return n;
}

static void watch(run_tproc *p, pid_t pid)
{
    for (int i = 0; i < p->n; i++)
        if (p->procs[i].pid == pid)
            return;
    if (p->n >= PROCS_MAX)
        return;
    char names[MET_PROC_GROUPS_MAX][MET_PROC_PREFIX_MAX];
    int ng = thread_names(pid, names, MET_PROC_GROUPS_MAX);
    const char *pref[MET_PROC_GROUPS_MAX];
    for (int i = 0; i < ng; i++)
        pref[i] = names[i];
    met_proc *mp = met_proc_create(pid, pref, ng);
    if (!mp)
        return;
    p->procs[p->n++] = (tp){.pid = pid, .mp = mp};
}

/* The children of every thread of pid (/proc/PID/task/TID/children), recursively. */
static void watch_tree(run_tproc *p, pid_t pid, int depth)
{
    watch(p, pid);
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
        FILE *f = fopen(p2, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        for (char *s = buf, *end; *s; s = end) {
            long c = strtol(s, &end, 10);
            if (end == s)
                break;
            if (c > 0)
                watch_tree(p, (pid_t)c, depth + 1);
        }
    }
    closedir(d);
}

/* The first line of the command's output, "HOST:PORT" (what `linkbench serve` and the
 * interop echo server print): the number after its last ':'. */
static int first_line_port(const char *file, uint16_t *port)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256] = "";
    bool whole = fgets(line, sizeof line, f) && strchr(line, '\n');
    fclose(f);
    if (!whole)
        return -1;
    char *colon = strrchr(line, ':');
    long v = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (v <= 0 || v > 65535)
        return -2;
    *port = (uint16_t)v;
    return 0;
}

static int start_cmd(run_tproc *p, const char *cmd, const char *out_file, const int *cpus, int ncpus,
                     char *err, size_t errlen)
{
    char *exec_cmd = NULL, errf[4200];
    if (asprintf(&exec_cmd, "exec %s", cmd) < 0)
        return -1;
    snprintf(errf, sizeof errf, "%s.stderr", out_file);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_init(&at);
    /* its own process group: the stop reaches whatever it started too */
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"/bin/sh", "-c", exec_cmd, NULL};
    int rc = posix_spawn(&p->root, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(exec_cmd);
    if (rc) {
        snprintf(err, errlen, "--target-cmd: cannot start /bin/sh: %s", strerror(rc));
        return -1;
    }
    p->started = true;
    if (ncpus > 0) {
        /* the scenario's pin.server, as the built-in server gets it */
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < ncpus; i++)
            CPU_SET(cpus[i], &set);
        sched_setaffinity(p->root, sizeof set, &set);
    }
    return 0;
}

bool run_tproc_exited(run_tproc *p)
{
    if (!p)
        return false;
    if (p->started) {
        if (!p->reaped && waitpid(p->root, &p->status, WNOHANG) == p->root)
            p->reaped = true;
        return p->reaped;
    }
    return kill(p->root, 0) < 0 && errno == ESRCH;
}

static void *helper_main(void *arg)
{
    run_tproc *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && !(p->want & ~p->done))
            pthread_cond_wait(&p->cv, &p->mu);
        unsigned todo = p->want & ~p->done;
        if (!todo)
            break;
        int slot = __builtin_ctz(todo);
        pthread_mutex_unlock(&p->mu);
        run_tproc_mark(p, slot);
        pthread_mutex_lock(&p->mu);
        p->done |= 1u << slot;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void run_tproc_mark_async(run_tproc *p, int slot)
{
    if (!p || slot < 0 || slot >= SLOTS)
        return;
    if (!p->helper_on) {
        run_tproc_mark(p, slot);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->want |= 1u << slot;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void run_tproc_sync(run_tproc *p)
{
    if (!p || !p->helper_on)
        return;
    pthread_mutex_lock(&p->mu);
    while ((p->want & ~p->done) != 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int run_tproc_start(const run_target *t, const char *out_file, const int *cpus, int ncpus,
                    bool want_port, uint16_t *port, run_tproc **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!t->cmd && t->pid <= 0)
        return 0;
    run_tproc *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (t->cmd) {
        if (start_cmd(p, t->cmd, out_file, cpus, ncpus, err, errlen) < 0) {
            free(p);
            return -1;
        }
    } else {
        p->root = t->pid;
        if (run_tproc_exited(p)) {
            snprintf(err, errlen, "--target-pid %d: no such process", (int)t->pid);
            free(p);
            return -1;
        }
    }
    if (t->cmd && want_port) {
        /* bounded wait for the listening address on its first output line */
        int rc = -1;
        for (int i = 0; i < 1500 && (rc = first_line_port(out_file, port)) == -1; i++) {
            if (run_tproc_exited(p))
                break;
            rt_sleep(20 * RT_MS, NULL);
        }
        if (rc < 0) {
            char how[128];
            bool dead = run_tproc_exited(p);
            run_tproc_stop(p, how, sizeof how);
            snprintf(err, errlen, "--target-cmd: %s before printing HOST:PORT on its first line "
                     "(its output: %s and %s.stderr)", dead ? how : rc == -2 ? "no port" : "30 s passed",
                     out_file, out_file);
            return -1;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->helper_on = pthread_create(&p->helper, NULL, helper_main, p) == 0;
    *out = p;
    return 0;
}

void run_tproc_mark(run_tproc *p, int slot)
{
    if (!p || slot < 0 || slot >= SLOTS)
        return;
    /* no run_tproc_exited here: it reaps, and this may run on the helper thread while
     * the driver thread asks; a gone process simply reads as exited (met_proc) */
    watch_tree(p, p->root, 0);
    for (int i = 0; i < p->n; i++) {
        tp *x = &p->procs[i];
        met_proc_reading r;
        if (met_proc_read(x->mp, MET_PROC_THREADS | MET_PROC_CTXSW | MET_PROC_MEM, &r) == 0) {
            x->r[slot] = r;
            x->have[slot] = true;
            if (r.threads > x->threads_max)
                x->threads_max = r.threads;
        }
    }
}

/* Add v to the number at key of object o. */
static void add_num(json_t *o, const char *key, double v)
{
    json_t *cur = json_object_get(o, key);
    json_object_set_new(o, key, json_real((cur ? json_number_value(cur) : 0) + v));
}

void run_tproc_metrics(run_tproc *p, json_t *m, int64_t links, int64_t window_ns, char *cpus, size_t cpulen)
{
    int64_t cpu = 0, vol = 0, invol = 0, rss0 = 0, rss = 0, hwm = 0;
    int threads_peak = 0, threads_live = 0, nproc = 0;
    cpu_set_t where;
    CPU_ZERO(&where);
    json_t *by_name = json_object();
    for (int i = 0; i < p->n; i++) {
        tp *x = &p->procs[i];
        if (!x->have[2])
            continue;
        nproc++;
        /* a process that appeared during the window counts from its first reading */
        const met_proc_reading *a = x->have[1] ? &x->r[1] : x->have[0] ? &x->r[0] : NULL;
        const met_proc_reading *b = &x->r[2];
        cpu += b->cpu_ns - (a ? a->cpu_ns : 0);
        vol += b->ctxsw_voluntary - (a ? a->ctxsw_voluntary : 0);
        invol += b->ctxsw_involuntary - (a ? a->ctxsw_involuntary : 0);
        for (int g = 0; g <= met_proc_groups(x->mp); g++)
            add_num(by_name, met_proc_group_name(x->mp, g),
                    (double)(b->group_cpu_ns[g] - (a ? a->group_cpu_ns[g] : 0)) / 1e9);
        rss0 += x->have[0] ? x->r[0].rss_bytes : b->rss_bytes;
        rss += b->rss_bytes;
        hwm += b->rss_peak_bytes;
        threads_peak += x->threads_max;
        threads_live += b->threads;
        CPU_OR(&where, &where, &b->cpus);
    }
    cpus[0] = 0;
    if (nproc == 0) {
        json_decref(by_name);
        return;
    }
    /* drop names that used nothing: a reader wants the threads that worked */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(by_name, tmp, k, v)
        if (json_number_value(v) <= 0)
            json_object_del(by_name, k);
    json_object_set_new(m, "cpu_server_s", json_real((double)cpu / 1e9));
    json_object_set_new(m, "cpu_by_thread_s", by_name);
    if (window_ns > 0)
        json_object_set_new(m, "cpu_server_util", json_real((double)cpu / (double)window_ns));
    json_object_set_new(m, "threads_peak", json_integer(threads_peak));
    json_object_set_new(m, "threads_live", json_integer(threads_live));
    json_object_set_new(m, "rss_peak_bytes", json_integer(hwm));
    if (links > 0)
        json_object_set_new(m, "rss_per_link_bytes", json_real((double)(rss - rss0) / (double)links));
    json_object_set_new(m, "ctxsw_voluntary", json_integer(vol));
    json_object_set_new(m, "ctxsw_involuntary", json_integer(invol));
    json_object_set_new(m, "server_processes", json_integer(nproc));
    met_proc_cpu_list(&where, cpus, cpulen);
}

void run_tproc_stop(run_tproc *p, char *how, size_t howlen)
{
    if (how && howlen)
        how[0] = 0;
    if (!p)
        return;
    if (p->helper_on) {
        pthread_mutex_lock(&p->mu);
        p->quit = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->helper, NULL);
        p->helper_on = false;
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->started) {
        if (!run_tproc_exited(p)) {
            kill(-p->root, SIGTERM);
            /* `linkbench serve` writes its report when stopped: give it time */
            for (int i = 0; i < 500 && !run_tproc_exited(p); i++)
                rt_sleep(20 * RT_MS, NULL);
            if (!run_tproc_exited(p)) {
                kill(-p->root, SIGKILL);
                if (waitpid(p->root, &p->status, 0) == p->root)
                    p->reaped = true;
            }
        }
        if (how && howlen) {
            if (WIFEXITED(p->status))
                snprintf(how, howlen, "exited with status %d", WEXITSTATUS(p->status));
            else if (WIFSIGNALED(p->status))
                snprintf(how, howlen, "killed by signal %d (%s)", WTERMSIG(p->status),
                         strsignal(WTERMSIG(p->status)));
        }
    }
    for (int i = 0; i < p->n; i++)
        met_proc_destroy(p->procs[i].mp);
    free(p);
}
