/* rt_thread.c — named, counted threads with small stacks; per-group live/peak/CPU/wake-up accounting. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "met_proc.h"
#include "rt_internal.h"

struct rt_thread {
    pthread_t th;
    rt_group group;
    void (*fn)(void *arg);
    void *arg;
    char name[16];
    atomic_int_fast64_t wakeups;   /* written by the thread itself, relaxed */
    atomic_int refs;               /* the thread + the handle (if joinable) */
    rt_thread *prev, *next;        /* live list, guarded by reg_mu */
};

/* The registry: live threads and the totals of exited ones. Spawns and exits are
 * rare next to waits, so one lock is enough; the wake-up hot path never takes it. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_thread *live_list;
#define NAMES_MAX 16
static struct {
    int64_t live, peak, spawned, spawn_failed, cpu_ns_exited, wakeups_exited;
    int nnames;                    /* may exceed NAMES_MAX: only the first are kept */
    char names[NAMES_MAX][16];     /* thread-name classes spawned in the group */
} groups[RT_GROUP_COUNT];
/* Wake-ups of threads rt did not spawn (main, test runners): RT_GROUP_OTHER. */
static atomic_int_fast64_t foreign_wakeups;

static _Thread_local rt_thread *self;

static const char *const group_names[RT_GROUP_COUNT] = {
    [RT_GROUP_LINK] = "link",     [RT_GROUP_LOOP] = "loop",   [RT_GROUP_APP] = "app",
    [RT_GROUP_DRIVER] = "driver", [RT_GROUP_OTHER] = "other",
};

const char *rt_group_name(rt_group g)
{
    return (unsigned)g < RT_GROUP_COUNT ? group_names[g] : "?";
}

int rt_group_parse(const char *name, rt_group *out)
{
    for (int g = 0; name && g < RT_GROUP_COUNT; g++) {
        if (strcmp(name, group_names[g]) == 0) {
            *out = (rt_group)g;
            return 0;
        }
    }
    return -EINVAL;
}

/* ------------------------------------------------------------ stack size */

#ifdef LB_SANITIZER
#define DEFAULT_STACK_BYTES ((size_t)512 * 1024)   /* sanitizers need much deeper stacks */
#else
#define DEFAULT_STACK_BYTES ((size_t)64 * 1024)
#endif

static atomic_size_t stack_bytes;   /* 0 = not decided yet */

size_t rt_stack_bytes(void)
{
    size_t b = atomic_load(&stack_bytes);
    if (b)
        return b;
    b = DEFAULT_STACK_BYTES;
    const char *env = getenv("LINKBENCH_STACK_KIB");
    if (env && *env) {
        char *end;
        unsigned long long kib = strtoull(env, &end, 10);
        if (*end == '\0' && kib > 0 && kib < SIZE_MAX / 1024)
            b = (size_t)kib * 1024;
    }
    size_t expect = 0;
    atomic_compare_exchange_strong(&stack_bytes, &expect, b);
    return atomic_load(&stack_bytes);
}

void rt_set_stack_bytes(size_t bytes)
{
    atomic_store(&stack_bytes, bytes ? bytes : DEFAULT_STACK_BYTES);
}

/* ------------------------------------------------------------ wake-ups */

void rt__count_wakeup(void)
{
    rt_thread *t = self;
    if (t)
        atomic_fetch_add_explicit(&t->wakeups, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&foreign_wakeups, 1, memory_order_relaxed);
}

void rt_count_wakeup(void)
{
    rt__count_wakeup();
}

/* ------------------------------------------------------------ spawn / exit */

static void unref(rt_thread *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

static int64_t thread_cpu_ns(clockid_t cid)
{
    struct timespec ts;
    if (clock_gettime(cid, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * RT_S + ts.tv_nsec;
}

static void *trampoline(void *p)
{
    rt_thread *t = p;
    self = t;
    rt__wait_mask();   /* block the wake signal before the first wait */
    pthread_setname_np(pthread_self(), t->name);
    t->fn(t->arg);

    /* Leave the registry: our CPU and wake-ups move to the exited totals under the
     * lock, so rt_group_get counts each thread exactly once. */
    pthread_mutex_lock(&reg_mu);
    groups[t->group].cpu_ns_exited += thread_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    groups[t->group].wakeups_exited += atomic_load_explicit(&t->wakeups, memory_order_relaxed);
    groups[t->group].live--;
    if (t->prev)
        t->prev->next = t->next;
    else
        live_list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&reg_mu);
    self = NULL;
    unref(t);
    return NULL;
}

int rt_thread_spawn(rt_thread **out, rt_group g, const char *name,
                    void (*fn)(void *arg), void *arg)
{
    if (out)
        *out = NULL;
    if ((unsigned)g >= RT_GROUP_COUNT || !fn)
        return -EINVAL;
    rt_thread *t = calloc(1, sizeof *t);
    if (!t) {
        pthread_mutex_lock(&reg_mu);
        groups[g].spawn_failed++;
        pthread_mutex_unlock(&reg_mu);
        return -ENOMEM;
    }
    t->group = g;
    t->fn = fn;
    t->arg = arg;
    snprintf(t->name, sizeof t->name, "%s", name ? name : rt_group_name(g));
    atomic_init(&t->wakeups, 0);
    atomic_init(&t->refs, out ? 2 : 1);

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0)
        rc = pthread_attr_setstacksize(&attr, rt_stack_bytes());
    if (rc == 0 && !out)
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

    /* Created under the registry lock so the record is listed with a valid pthread_t
     * before anyone (rt_group_get) can read its CPU clock. */
    pthread_mutex_lock(&reg_mu);
    if (rc == 0)
        rc = pthread_create(&t->th, &attr, trampoline, t);
    /* named by its maker too, so that a reader of /proc never finds it under the
     * maker's name once this returns (the thread names itself again: harmless) */
    if (rc == 0)
        pthread_setname_np(t->th, t->name);
    if (rc == 0) {
        char cls[16];
        met_proc_name_class(t->name, strlen(t->name), cls);
        bool known = false;
        for (int i = 0; i < groups[g].nnames && i < NAMES_MAX && !known; i++)
            known = !strcmp(groups[g].names[i], cls);
        if (!known && groups[g].nnames++ < NAMES_MAX)
            memcpy(groups[g].names[groups[g].nnames - 1], cls, sizeof cls);
        t->next = live_list;
        if (live_list)
            live_list->prev = t;
        live_list = t;
        groups[g].spawned++;
        if (++groups[g].live > groups[g].peak)
            groups[g].peak = groups[g].live;
    } else {
        groups[g].spawn_failed++;
    }
    pthread_mutex_unlock(&reg_mu);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(t);
        return -rc;
    }
    if (out)
        *out = t;
    return 0;
}

int rt_thread_join(rt_thread *t)
{
    if (!t)
        return -EINVAL;
    int rc = pthread_join(t->th, NULL);
    unref(t);
    return -rc;
}

void rt_thread_detach(rt_thread *t)
{
    if (!t)
        return;
    pthread_detach(t->th);
    unref(t);   /* the thread frees the record when it exits, if it has not already */
}

/* ------------------------------------------------------------ stats */

void rt_group_get(rt_group g, rt_group_stats *out)
{
    memset(out, 0, sizeof *out);
    if ((unsigned)g >= RT_GROUP_COUNT)
        return;
    pthread_mutex_lock(&reg_mu);
    out->live = groups[g].live;
    out->peak = groups[g].peak;
    out->spawned = groups[g].spawned;
    out->spawn_failed = groups[g].spawn_failed;
    out->cpu_ns = groups[g].cpu_ns_exited;
    out->wakeups = groups[g].wakeups_exited;
    for (rt_thread *t = live_list; t; t = t->next) {
        if (t->group != g)
            continue;
        clockid_t cid;
        if (pthread_getcpuclockid(t->th, &cid) == 0)
            out->cpu_ns += thread_cpu_ns(cid);
        out->wakeups += atomic_load_explicit(&t->wakeups, memory_order_relaxed);
    }
    pthread_mutex_unlock(&reg_mu);
    if (g == RT_GROUP_OTHER)
        out->wakeups += atomic_load_explicit(&foreign_wakeups, memory_order_relaxed);
}

int rt_group_names(rt_group g, char (*names)[16], int max)
{
    if ((unsigned)g >= RT_GROUP_COUNT)
        return 0;
    pthread_mutex_lock(&reg_mu);
    int n = groups[g].nnames;
    for (int i = 0; i < n && i < max && i < NAMES_MAX; i++)
        memcpy(names[i], groups[g].names[i], 16);
    pthread_mutex_unlock(&reg_mu);
    return n;
}

void rt_group_reset_peak(rt_group g)
{
    if ((unsigned)g >= RT_GROUP_COUNT)
        return;
    pthread_mutex_lock(&reg_mu);
    groups[g].peak = groups[g].live;
    pthread_mutex_unlock(&reg_mu);
}
