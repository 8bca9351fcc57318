/* test_met_kern.c — the kernel's system-call count of a process: threads made after it opened and exited since are in it, and the calls no wrapper sees. */
#include <criterion/criterion.h>
#include <pthread.h>
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
    char why[256];
    if (met_kern_open(getpid(), &k, why, sizeof why) < 0)
        cr_skip_test("no system-call count on this machine: %s", why);
    return k;
}

/* A thread made after the counter opened, which has exited by the read: its calls are
 * counted (inheritance, folded into the counter when the thread ends). */
Test(met_kern, counts_the_calls_of_a_thread_made_later_and_gone)
{
    met_kern *k = open_self();
    cr_expect_geq(met_kern_counters(k), 1);
    int64_t before, after;
    cr_assert_eq(met_kern_read(k, &before), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, caller, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(met_kern_read(k, &after), 0);
    /* the thread's own calls, plus a few of clone, exit and join: never fewer */
    cr_expect_geq(after - before, CALLS, "counted %lld of at least %d", (long long)(after - before), CALLS);
    cr_expect_lt(after - before, CALLS + 1000, "counted %lld for %d", (long long)(after - before), CALLS);
    met_kern_close(k);
}

/* Calls of this thread (present when the counter opened) count too. */
Test(met_kern, counts_the_calls_of_a_thread_present_at_open)
{
    met_kern *k = open_self();
    int64_t before, after;
    cr_assert_eq(met_kern_read(k, &before), 0);
    caller(NULL);
    cr_assert_eq(met_kern_read(k, &after), 0);
    cr_expect_geq(after - before, CALLS);
    cr_expect_lt(after - before, CALLS + 100);
    met_kern_close(k);
}

Test(met_kern, a_process_that_does_not_exist_says_why)
{
    met_kern *k = (met_kern *)1;
    char why[256] = "";
    cr_expect_lt(met_kern_open(999999999, &k, why, sizeof why), 0);
    cr_expect_null(k);
    cr_expect_neq(why[0], 0);
}
