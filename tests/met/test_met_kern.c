/* test_met_kern.c — the kernel's system-call count of a process: threads made after it opened and exited since are in it, and the calls no wrapper sees. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "met_kern.h"

enum { CALLS = 5000 };

/* Raw system calls: nothing in the harness counts these. */
static void *caller(void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++)
        syscall(SYS_getppid);
    return NULL;
}

static met_kern *open_self(void)
{
    met_kern *k = NULL;
    char why[MET_KERN_COUNT][MET_KERN_WHY_BYTES];
    if (met_kern_open(getpid(), &k, why) < 0 || why[MET_KERN_SYSCALLS][0])
        cr_skip_test("no system-call count on this machine: %s", why[MET_KERN_SYSCALLS]);
    return k;
}

static int64_t syscalls(met_kern *k)
{
    met_kern_reading r;
    cr_assert_eq(met_kern_read(k, &r), 0);
    cr_assert(r.have[MET_KERN_SYSCALLS]);
    return r.v[MET_KERN_SYSCALLS];
}

/* A thread made after the counter opened, which has exited by the read: its calls are
 * counted (inheritance, folded into the counter when the thread ends). */
Test(met_kern, counts_the_calls_of_a_thread_made_later_and_gone)
{
    met_kern *k = open_self();
    cr_expect_geq(met_kern_counters(k), 1);
    int64_t before = syscalls(k);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, caller, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    int64_t after = syscalls(k);
    /* the thread's own calls, plus a few of clone, exit and join: never fewer */
    cr_expect_geq(after - before, CALLS, "counted %lld of at least %d", (long long)(after - before), CALLS);
    cr_expect_lt(after - before, CALLS + 1000, "counted %lld for %d", (long long)(after - before), CALLS);
    met_kern_close(k);
}

/* Calls of this thread (present when the counter opened) count too. */
Test(met_kern, counts_the_calls_of_a_thread_present_at_open)
{
    met_kern *k = open_self();
    int64_t before = syscalls(k);
    caller(NULL);
    int64_t after = syscalls(k);
    cr_expect_geq(after - before, CALLS);
    cr_expect_lt(after - before, CALLS + 100);
    met_kern_close(k);
}

Test(met_kern, a_process_that_does_not_exist_says_why)
{
    met_kern *k = (met_kern *)1;
    char why[MET_KERN_COUNT][MET_KERN_WHY_BYTES];
    cr_expect_lt(met_kern_open(999999999, &k, why), 0);
    cr_expect_null(k);
    cr_expect_neq(why[MET_KERN_SWITCHES][0], 0);
}

/* Context switches of a thread that sleeps 200 times and then ends: all counted, as
 * its own status said just before it ended. */
static _Atomic long long status_switches;

static void *sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        usleep(500);
    char p[64], line[128];
    snprintf(p, sizeof p, "/proc/self/task/%ld/status", (long)syscall(SYS_gettid));
    FILE *f = fopen(p, "r");
    long long v, sum = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
            sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
            sum += v;
    if (f)
        fclose(f);
    status_switches = sum;
    return NULL;
}

Test(met_kern, counts_the_switches_of_a_thread_gone_since)
{
    met_kern *k = NULL;
    char why[MET_KERN_COUNT][MET_KERN_WHY_BYTES];
    if (met_kern_open(getpid(), &k, why) < 0 || why[MET_KERN_SWITCHES][0])
        cr_skip_test("no context-switch count on this machine: %s", why[MET_KERN_SWITCHES]);
    met_kern_reading a, b;
    cr_assert_eq(met_kern_read(k, &a), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, sleeper, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(met_kern_read(k, &b), 0);
    int64_t d = b.v[MET_KERN_SWITCHES] - a.v[MET_KERN_SWITCHES];
    cr_expect_geq(d, status_switches, "perf %lld, the thread's own status %lld", (long long)d, status_switches);
    cr_expect_geq(status_switches, 200);
    cr_expect_lt(d, status_switches + 50, "perf %lld, the thread's own status %lld", (long long)d, status_switches);
    met_kern_close(k);
}
