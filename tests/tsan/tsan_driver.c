/* tsan_driver.c — the TSan runner's driver section: several driver threads (their own loops, one shared load time, stop requests from another thread, progress figures read across threads) against the echo thread. */
#include <pthread.h>
#include <stdlib.h>

#include "drv.h"
#include "drv_echo.h"
#include "rt.h"
#include "tsan.h"

/* The progress callback runs on thread 0 and reads every thread's published figures. */
static void progress(struct drv *d, const struct drv_progress *p, void *arg)
{
    (void)d;
    int64_t *calls = arg;
    (*calls)++;
    TS_CHECK(p->sent >= p->delivered, "sent %ld < delivered %ld", (long)p->sent, (long)p->delivered);
}

struct stopper {
    struct drv *d;
    rt_ns after;
};

/* drv_request_stop from a thread of its own, twice (the second ends the drain). */
static void *stop_main(void *arg)
{
    struct stopper *s = arg;
    rt_sleep(s->after, NULL);
    drv_request_stop(s->d);
    rt_sleep(20 * RT_MS, NULL);
    drv_request_stop(s->d);
    return NULL;
}

static void one_run(int threads, bool stop)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.push_per_echo = true;
    struct drv_echo *e;
    uint16_t port;
    TS_CHECK(drv_echo_start(&ep, &e, &port) == 0, "echo thread");
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = 0;
    p.threads = threads;
    p.groups[0].links = 8;
    p.groups[0].rate_per_s = 300;
    p.groups[0].pattern = DRV_POISSON;
    p.warmup_ns = 50 * RT_MS;
    p.duration_ns = stop ? 0 : 300 * RT_MS;
    p.progress_interval_ns = 5 * RT_MS;
    int64_t calls = 0;
    p.progress = progress;
    p.progress_arg = &calls;
    struct drv *d;
    char err[256];
    TS_CHECK(drv_create(&p, &d, err, sizeof err) == 0, "%s", err);
    pthread_t th;
    struct stopper s = {d, 150 * RT_MS};
    if (stop)
        pthread_create(&th, NULL, stop_main, &s);
    struct drv_result r;
    drv_run(d, &r);
    if (stop)
        pthread_join(th, NULL);
    TS_CHECK(r.threads == threads, "threads %ld", (long)r.threads);
    TS_CHECK(r.links_established == 8, "links %ld", (long)r.links_established);
    TS_CHECK(r.all.echo.sent == r.all.echo.delivered + r.all.echo.gaps + r.all.echo.in_flight +
                                    r.all.echo.abandoned, "accounting");
    TS_CHECK(r.all.echo.sent > 0 && calls > 0, "sent %ld, progress calls %ld", (long)r.all.echo.sent, (long)calls);
    TS_CHECK(!stop || r.stopped, "stopped");
    json_decref(drv_census(d));
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

void ts_section_driver(void)
{
    one_run(3, false);
    one_run(2, true);
    printf("driver: ok\n");
}
