/* sleepy.c — test-only plug-in: evloop, unchanged, with SLEEPY_SLEEP_US of sleep before every message the app sends (the planted regression `linkbench compare` must flag). */
/*
 * Built twice by tests/plugins/CMakeLists.txt, as <build>/test-plugins/fast/sleepy.so
 * (SLEEPY_SLEEP_US=0) and .../slow/sleepy.so (200): the same design, one of them 200 µs
 * slower per message, like a pull request that added a blocking call on the send path.
 * evloop's sources are compiled into the module with its export renamed
 * (-Dlinkbench_variant=sleepy_inner), so this file only wraps its operation table.
 * The sleep goes through rt.h (a variant may not call the OS itself); it runs on the
 * app's consumer thread that calls send, so every later message waits behind it.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "link.h"

#ifndef SLEEPY_SLEEP_US
#error "build with -DSLEEPY_SLEEP_US=<microseconds>"
#endif
/* The noisy/ build: raw system calls on every send, which break the rule (a variant
 * talks only to rt and vsock) exactly as a plug-in hiding work would: no harness counter
 * sees them, the kernel's count must (tests/run/test_kernel.c). */
#ifndef SLEEPY_SYSCALLS
#define SLEEPY_SYSCALLS 0
#endif
/* The eager/ build: a wrong idle reaper, which takes a link as idle after an eighth of the
 * timeout, so it closes links that are still talking (tests/run/test_acct.c: the
 * idle_timeout scenario's links_closed_idle_talking must see them). */
#ifndef SLEEPY_IDLE_DIVISOR
#define SLEEPY_IDLE_DIVISOR 1
#endif

extern const struct link_variant sleepy_inner;

/* The wrapper declares no params of its own; evloop takes its defaults when given none
 * (evl_server.c: a->params ? a->params[i] : evl_params[i].def). */
static int s_start(const struct link_start_args *a, struct link_server **out)
{
    struct link_start_args b = *a;
    b.params = NULL;
    return sleepy_inner.start(&b, out);
}

static int s_send(struct link *l, vsock_msg *m)
{
    if (SLEEPY_SLEEP_US > 0)
        rt_sleep((rt_ns)SLEEPY_SLEEP_US * 1000, NULL);
    for (int i = 0; i < SLEEPY_SYSCALLS; i++)
        syscall(SYS_getppid);
    return sleepy_inner.send(l, m);
}

static int s_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    return sleepy_inner.attach(srv, s, id, out);
}

static int s_recv(struct link *l, vsock_msg **out) { return sleepy_inner.recv(l, out); }
static void s_update_active(struct link *l) { sleepy_inner.update_active(l); }
static bool s_try_close_if_idle(struct link *l, rt_ns idle)
{
    return sleepy_inner.try_close_if_idle(l, idle / SLEEPY_IDLE_DIVISOR);
}
static int s_close(struct link *l) { return sleepy_inner.close(l); }
static void s_release(struct link *l) { sleepy_inner.release(l); }
static void s_stop(struct link_server *srv) { sleepy_inner.stop(srv); }
static void s_held(struct link *l, int64_t *in, int64_t *out) { sleepy_inner.held(l, in, out); }

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "sleepy",
    .summary = "test only: evloop with a fixed sleep before every send (SLEEPY_SLEEP_US)",
    .threads_per_link = 0,
    .loss_policy = LINK_LOSS_LOSSLESS,
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_SEND_OVERFLOW) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) |
                    LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),   /* evloop's */
    .params = NULL,
    .n_params = 0,
    .start = s_start,
    .attach = s_attach,
    .send = s_send,
    .recv = s_recv,
    .update_active = s_update_active,
    .try_close_if_idle = s_try_close_if_idle,
    .close = s_close,
    .release = s_release,
    .stop = s_stop,
    .held = s_held,
};
