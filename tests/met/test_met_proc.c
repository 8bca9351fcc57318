/* test_met_proc.c — /proc readings of this test process and of a child: CPU by group, threads, memory, steal. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "met_proc.h"

static atomic_bool stop_busy, stop_idle;

static void *busy(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "busy-0");
    volatile uint64_t x = 0;
    while (!atomic_load(&stop_busy))
        x++;
    return NULL;
}

static void *idle(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "idle-w");
    while (!atomic_load(&stop_idle)) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

Test(met_proc, busy_thread_cpu_grows_and_threads_are_grouped)
{
    static const char *const groups[] = {"busy", "idle"};
    met_proc *p = met_proc_create(0, groups, 2);
    cr_assert_not_null(p);
    cr_assert_str_eq(met_proc_group_name(p, 2), "other");
    met_proc_reading r0, r1, r2;
    cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r0), 0);
    cr_assert_eq(r0.group_threads[0], 0);
    int base = r0.threads;

    pthread_t b, w[3];
    cr_assert_eq(pthread_create(&b, NULL, busy, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&w[i], NULL, idle, NULL), 0);
    nap_ms(50);   /* let the threads name themselves */
    cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r1), 0);
    cr_assert_eq(r1.threads, base + 4);
    cr_assert_eq(r1.group_threads[0], 1);
    cr_assert_eq(r1.group_threads[1], 3);
    cr_assert_eq(r1.group_threads[2], base);
    /* poll rather than assume a time: on a loaded machine the spinner may wait its turn */
    for (int tries = 0; tries < 100; tries++) {
        nap_ms(50);
        cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r2), 0);
        if (r2.group_cpu_ns[0] > r1.group_cpu_ns[0])
            break;
    }
    cr_assert_gt(r2.group_cpu_ns[0], r1.group_cpu_ns[0], "busy CPU did not grow");
    cr_assert_geq(r2.cpu_ns, r1.cpu_ns);
    cr_assert_geq(r2.ctxsw_voluntary + r2.ctxsw_involuntary, 1);
    cr_assert_gt(r2.rss_bytes, 0);
    cr_assert_geq(r2.rss_peak_bytes, r2.rss_bytes);
    cr_assert_geq(met_proc_cpu_count(&r2.cpus), 1);

    /* threads that exit keep their CPU in the totals; the live count drops */
    atomic_store(&stop_busy, true);
    atomic_store(&stop_idle, true);
    pthread_join(b, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    met_proc_reading r3;
    cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r3), 0);
    cr_assert_eq(r3.threads, base);
    cr_assert_eq(r3.group_threads[0], 0);
    cr_assert_eq(r3.group_threads_peak[0], 1);
    cr_assert_eq(r3.group_threads_peak[1], 3);
    cr_assert_geq(r3.group_cpu_ns[0], r2.group_cpu_ns[0]);
    cr_assert_geq(r3.threads_seen, base + 4);
    met_proc_destroy(p);
}

Test(met_proc, memory_only_reading_gives_thread_count_from_status)
{
    met_proc *p = met_proc_create(0, NULL, 0);
    met_proc_reading r;
    cr_assert_eq(met_proc_read(p, MET_PROC_MEM, &r), 0);
    cr_assert_geq(r.threads, 1);
    cr_assert_gt(r.rss_bytes, 0);
    met_proc_destroy(p);
}

Test(met_proc, another_process_is_read_and_its_exit_is_reported)
{
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    met_proc *p = met_proc_create(child, NULL, 0);
    met_proc_reading r;
    cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r), 0);
    cr_assert_eq(r.threads, 1);
    cr_assert_not(r.exited);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cr_assert_eq(met_proc_read(p, MET_PROC_ALL, &r), -ESRCH);
    cr_assert(r.exited);
    cr_assert_eq(r.threads, 1);   /* the last values are kept */
    met_proc_destroy(p);
}

Test(met_proc, machine_steal_and_tcp_memory_are_readable)
{
    int64_t steal = -1, mem = -1;
    cr_assert_eq(met_proc_steal_ns(&steal), 0);
    cr_assert_geq(steal, 0);
    cr_assert_eq(met_proc_tcp_mem_bytes(&mem), 0);
    cr_assert_geq(mem, 0);
}

Test(met_proc, cpu_list_renders_the_set)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    CPU_SET(3, &s);
    char buf[32];
    cr_assert_str_eq(met_proc_cpu_list(&s, buf, sizeof buf), "0,3");
    cr_assert_eq(met_proc_cpu_count(&s), 2);
}

Test(met_proc, too_many_groups_is_refused)
{
    static const char *const g[MET_PROC_GROUPS_MAX + 1] = {"a"};
    cr_assert_null(met_proc_create(0, g, MET_PROC_GROUPS_MAX + 1));
}

Test(met_proc, cheap_total_cpu_follows_a_busy_thread)
{
    met_proc *p = met_proc_create(0, NULL, 0);
    met_proc_reading r0, r1;
    cr_assert_eq(met_proc_read(p, MET_PROC_TOTAL | MET_PROC_MEM, &r0), 0);
    atomic_store(&stop_busy, false);
    pthread_t b;
    cr_assert_eq(pthread_create(&b, NULL, busy, NULL), 0);
    /* ticks are 10 ms: poll until at least one passes */
    for (int tries = 0; tries < 100; tries++) {
        nap_ms(50);
        cr_assert_eq(met_proc_read(p, MET_PROC_TOTAL | MET_PROC_MEM, &r1), 0);
        if (r1.cpu_total_ns > r0.cpu_total_ns)
            break;
    }
    atomic_store(&stop_busy, true);
    pthread_join(b, NULL);
    cr_assert_gt(r1.cpu_total_ns, r0.cpu_total_ns);
    cr_assert_geq(r1.threads, 1);
    met_proc_destroy(p);
}

/* Name classes as groups, switches from schedstat, names read once: what the run's
 * watch of a server uses (run_watch.c). */
Test(met_proc, name_classes_runs_and_names_once)
{
    atomic_store(&stop_idle, false);
    met_proc *p = met_proc_create(0, NULL, MET_PROC_AUTO);
    cr_assert_not_null(p);
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&w[i], NULL, idle, NULL), 0);
    nap_ms(50);
    met_proc_reading r0, r1;
    cr_assert_eq(met_proc_read(p, MET_PROC_THREADS | MET_PROC_RUNS | MET_PROC_CTXSW, &r0), 0);
    int g = -1;
    for (int k = 0; k < met_proc_groups(p); k++)
        if (!strcmp(met_proc_group_name(p, k), "idle-w"))
            g = k;
    cr_assert_geq(g, 0, "no group for the class idle-w");
    cr_expect_eq(r0.group_threads[g], 3);
    nap_ms(100);
    /* rename one: a walk that reads names once keeps it where it was */
    pthread_setname_np(w[0], "renamed-7");
    cr_assert_eq(met_proc_read(p, MET_PROC_THREADS | MET_PROC_RUNS | MET_PROC_CTXSW | MET_PROC_NAMES_ONCE, &r1), 0);
    cr_expect_eq(r1.group_threads[g], 3);
    /* 2 ms naps: switches grow, and schedstat's count is status's two counts */
    int64_t runs = 0, status = 0;
    for (int k = 0; k <= met_proc_other(p); k++)
        runs += r1.group_ctxsw[k];
    status = r1.ctxsw_voluntary + r1.ctxsw_involuntary;
    cr_expect_gt(r1.group_ctxsw[g], r0.group_ctxsw[g] + 30);
    cr_expect(runs >= status - 20 && runs <= status + 20, "schedstat %lld vs status %lld",
              (long long)runs, (long long)status);
    atomic_store(&stop_idle, true);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    char cls[16];
    met_proc_name_class("pair-17", 7, cls);
    cr_expect_str_eq(cls, "pair-");
    met_proc_name_class("app-worker", 10, cls);
    cr_expect_str_eq(cls, "app-worker");
    met_proc_name_class("7", 1, cls);
    cr_expect_str_eq(cls, "7");
    met_proc_destroy(p);
}
