/* run_ext_proc.c — the external target's process: start and stop a --target-cmd, and read its /proc figures (and its descendants') around the measured window. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "met_proc.h"
#include "run_watch.h"
#include "rt.h"
#include "run_ext.h"

extern char **environ;

struct run_tproc {
    pid_t root;
    bool started;              /* we started it: we reap and stop it */
    bool reaped;
    int status;
    run_watch *w;              /* the process and every descendant (run_watch.h) */
};

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

pid_t run_tproc_pid(const run_tproc *p)
{
    return p ? p->root : 0;
}

void run_tproc_mark_async(run_tproc *p, int slot, rt_ns at)
{
    if (p)
        run_watch_mark_at(p->w, slot, at);
}

void run_tproc_sync(run_tproc *p)
{
    if (p)
        run_watch_sync(p->w);
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
    /* descendants too: a server may fork workers (nginx, a wrapper like `linkbench
     * serve`). Its system calls count from here: the threads it has now and all it
     * makes later. */
    p->w = run_watch_create(true);
    if (!p->w || run_watch_add(p->w, p->root) < 0) {
        snprintf(err, errlen, "out of memory");
        run_tproc_stop(p, NULL, 0);
        return -1;
    }
    *out = p;
    return 0;
}

void run_tproc_mark(run_tproc *p, int slot)
{
    if (p)
        run_watch_mark(p->w, slot);
}

void run_tproc_metrics(run_tproc *p, json_t *m, json_t *run, int64_t links, char *cpus, size_t cpulen)
{
    cpus[0] = 0;
    json_t *k = run_watch_json(p->w);
    if (!k)
        return;
    if (json_integer_value(json_object_get(k, "processes")) == 0) {
        json_decref(k);
        return;
    }
    double win_s = (double)json_integer_value(json_object_get(k, "window_ns")) / 1e9;
    int64_t cpu = json_integer_value(json_object_get(k, "cpu_ns"));
    json_object_set_new(m, "cpu_server_s", json_real((double)cpu / 1e9));
    json_t *by = json_object(), *v;
    const char *name;
    json_object_foreach(json_object_get(k, "by_name"), name, v)
        json_object_set_new(by, name, json_real((double)json_integer_value(json_object_get(v, "cpu_ns")) / 1e9));
    json_object_set_new(m, "cpu_by_thread_s", by);
    if (win_s > 0)
        json_object_set_new(m, "cpu_server_util", json_real((double)cpu / 1e9 / win_s));
    json_object_set_new(m, "threads_peak", json_object_get(k, "threads_max"));
    json_incref(json_object_get(k, "threads_max"));
    json_object_set_new(m, "threads_live", json_integer(json_integer_value(json_object_get(k, "threads_end"))));
    if (links > 0) {
        /* the threads the links added: live at the window's end minus before the links */
        int64_t added = json_integer_value(json_object_get(k, "threads_end")) -
                        json_integer_value(json_object_get(k, "threads_base"));
        json_object_set_new(m, "threads_per_link", json_real((double)added / (double)links));
        if (win_s > 0)
            json_object_set_new(m, "wakeups_per_link_s", json_real(
                (double)json_integer_value(json_object_get(k, "wakeups")) / (double)links / win_s));
        json_object_set_new(m, "rss_per_link_bytes", json_real(
            (double)(json_integer_value(json_object_get(k, "rss_end_bytes")) -
                     json_integer_value(json_object_get(k, "rss_base_bytes"))) / (double)links));
    }
    json_object_set_new(m, "rss_peak_bytes", json_integer(json_integer_value(json_object_get(k, "rss_peak_bytes"))));
    json_object_set_new(m, "ctxsw", json_integer(json_integer_value(json_object_get(k, "wakeups"))));
    json_object_set_new(m, "server_processes", json_integer(json_integer_value(json_object_get(k, "processes"))));
    json_object_set_new(m, "syscalls_window", json_deep_copy(json_object_get(k, "syscalls")));
    snprintf(cpus, cpulen, "%s", json_string_value(json_object_get(k, "cpus")));
    json_object_set_new(run, "kernel", k);
}

void run_tproc_stop(run_tproc *p, char *how, size_t howlen)
{
    if (how && howlen)
        how[0] = 0;
    if (!p)
        return;
    run_watch_destroy(p->w);
    p->w = NULL;
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
    free(p);
}
