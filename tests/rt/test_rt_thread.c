/* test_rt_thread.c — rt threads: counts, detach, spawn failure, names, stacks, CPU and wake-up accounting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt.h"

static void nothing(void *arg)
{
    (void)arg;
}

static void park(void *arg)
{
    rt_queue *q = arg;
    void *it;
    rt_queue_pop(q, &it, RT_NEVER, NULL);   /* until closed */
}

Test(rt_thread, group_names_round_trip)
{
    for (int g = 0; g < RT_GROUP_COUNT; g++) {
        rt_group out;
        cr_assert_eq(rt_group_parse(rt_group_name((rt_group)g), &out), 0);
        cr_assert_eq(out, (rt_group)g);
    }
    rt_group out;
    cr_assert_eq(rt_group_parse("nope", &out), -EINVAL);
    cr_assert_str_eq(rt_group_name(RT_GROUP_LINK), "link");
}

Test(rt_thread, live_and_peak_return_after_join)
{
    rt_group_stats s0, s1, s2;
    rt_group_get(RT_GROUP_LINK, &s0);
    rt_queue *gate = rt_queue_create(1);
    rt_thread *t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(rt_thread_spawn(&t[i], RT_GROUP_LINK, "parked", park, gate), 0);
    rt_group_get(RT_GROUP_LINK, &s1);
    cr_assert_eq(s1.live, s0.live + 8);
    cr_assert_geq(s1.peak, s0.live + 8);
    cr_assert_eq(s1.spawned, s0.spawned + 8);
    rt_queue_close(gate);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(rt_thread_join(t[i]), 0);
    rt_group_get(RT_GROUP_LINK, &s2);
    cr_assert_eq(s2.live, s0.live);
    cr_assert_eq(s2.peak, s1.peak);
    rt_group_reset_peak(RT_GROUP_LINK);
    rt_group_get(RT_GROUP_LINK, &s2);
    cr_assert_eq(s2.peak, s0.live);
    /* other groups are untouched */
    rt_group_get(RT_GROUP_DRIVER, &s2);
    cr_assert_eq(s2.spawned, 0);
    rt_queue_destroy(gate);
}

Test(rt_thread, detached_threads_leave_the_count)
{
    rt_group_stats s0, s;
    rt_group_get(RT_GROUP_APP, &s0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(rt_thread_spawn(NULL, RT_GROUP_APP, "detached", nothing, NULL), 0);
    rt_thread *t;
    rt_queue *gate = rt_queue_create(1);
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_APP, "later", park, gate), 0);
    rt_thread_detach(t);
    rt_queue_close(gate);
    rt_ns give_up = rt_deadline_in(10 * RT_S);
    do {
        rt_group_get(RT_GROUP_APP, &s);
        if (s.live == s0.live)
            break;
        rt_sleep(RT_MS, NULL);
    } while (rt_now() < give_up);
    cr_assert_eq(s.live, s0.live);
    cr_assert_eq(s.spawned, s0.spawned + 21);
    cr_assert_geq(s.peak, s0.live + 1);
    /* the queue must outlive the detached thread that used it */
    rt_queue_destroy(gate);
}

Test(rt_thread, spawn_failure_is_counted_not_fatal)
{
    rt_group_stats s0, s1;
    rt_group_get(RT_GROUP_LINK, &s0);
    size_t saved = rt_stack_bytes();
    rt_set_stack_bytes(SIZE_MAX / 2);   /* no such mapping can exist */
    rt_thread *t = (rt_thread *)1;
    int rc = rt_thread_spawn(&t, RT_GROUP_LINK, "doomed", nothing, NULL);
    rt_set_stack_bytes(saved);
    cr_assert_lt(rc, 0);
    cr_assert_null(t);
    rt_group_get(RT_GROUP_LINK, &s1);
    cr_assert_eq(s1.spawn_failed, s0.spawn_failed + 1);
    cr_assert_eq(s1.spawned, s0.spawned);
    cr_assert_eq(s1.live, s0.live);
    cr_assert_eq(rt_thread_spawn(NULL, RT_GROUP_COUNT, "bad", nothing, NULL), -EINVAL);
    /* and spawning works again */
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LINK, "fine", nothing, NULL), 0);
    cr_assert_eq(rt_thread_join(t), 0);
}

Test(rt_thread, stack_size_default_env_and_override)
{
    setenv("LINKBENCH_STACK_KIB", "96", 1);   /* read once, on first use in this process */
    cr_assert_eq(rt_stack_bytes(), 96 * 1024);
    rt_set_stack_bytes(256 * 1024);
    cr_assert_eq(rt_stack_bytes(), 256 * 1024);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_OTHER, "bigstack", nothing, NULL), 0);
    cr_assert_eq(rt_thread_join(t), 0);
}

struct named {
    char name[32];
};

static void read_name(void *arg)
{
    struct named *n = arg;
    pthread_getname_np(pthread_self(), n->name, sizeof n->name);
}

Test(rt_thread, name_is_set_and_truncated)
{
    struct named n = {{0}};
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LINK, "link-receive-loop-42", read_name, &n), 0);
    cr_assert_eq(rt_thread_join(t), 0);
    cr_assert_str_eq(n.name, "link-receive-lo");
}

struct burner {
    rt_ns burn_ns;
    atomic_int phase;   /* 1 = burnt, keep spinning until 2 */
};

static rt_ns thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (rt_ns)ts.tv_sec * RT_S + ts.tv_nsec;
}

static void burn(void *arg)
{
    struct burner *b = arg;
    rt_ns start = thread_cpu();
    while (thread_cpu() - start < b->burn_ns)
        ;
    atomic_store(&b->phase, 1);
    while (atomic_load(&b->phase) != 2)
        rt_sleep(RT_MS, NULL);
}

Test(rt_thread, cpu_counts_live_and_exited_threads)
{
    rt_group_stats s0, live, done;
    rt_group_get(RT_GROUP_DRIVER, &s0);
    struct burner b = {.burn_ns = 30 * RT_MS};
    atomic_init(&b.phase, 0);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_DRIVER, "burner", burn, &b), 0);
    while (atomic_load(&b.phase) != 1)
        rt_sleep(RT_MS, NULL);
    rt_group_get(RT_GROUP_DRIVER, &live);
    cr_assert_geq(live.cpu_ns - s0.cpu_ns, 30 * RT_MS, "a live thread's CPU is read");
    atomic_store(&b.phase, 2);
    cr_assert_eq(rt_thread_join(t), 0);
    rt_group_get(RT_GROUP_DRIVER, &done);
    cr_assert_geq(done.cpu_ns, live.cpu_ns, "an exited thread's CPU is kept");
    cr_assert_lt(done.cpu_ns - s0.cpu_ns, 10 * RT_S, "and counted once");
}

static void three_sleeps(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        rt_sleep(RT_MS, NULL);
    rt_count_wakeup();
}

Test(rt_thread, wakeups_counted_per_group)
{
    rt_group_stats l0, o0, l1, o1;
    rt_group_get(RT_GROUP_LOOP, &l0);
    rt_group_get(RT_GROUP_OTHER, &o0);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LOOP, "sleeper", three_sleeps, NULL), 0);
    cr_assert_eq(rt_thread_join(t), 0);
    rt_sleep(RT_MS, NULL);   /* the test's own thread counts in "other" */
    rt_group_get(RT_GROUP_LOOP, &l1);
    rt_group_get(RT_GROUP_OTHER, &o1);
    cr_assert_eq(l1.wakeups - l0.wakeups, 4);
    cr_assert_eq(o1.wakeups - o0.wakeups, 1);
}
