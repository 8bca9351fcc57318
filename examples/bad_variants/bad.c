/* bad.c — a variant table with one defect, chosen by BAD_ABI, MISSING_OP or BAD_PARAMS, that the loader must refuse. */
#include <linkbench/link.h>

#include <errno.h>

/* Operations that are never called: the loader refuses the module before any is. */
static int b_start(const struct link_start_args *a, struct link_server **out)
{
    (void)a;
    (void)out;
    return -ENOSYS;
}
static int b_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    (void)srv;
    (void)id;
    (void)out;
    vsock_destroy(s);
    return -ENOSYS;
}
static int b_send(struct link *l, vsock_msg *m) { (void)l; (void)m; return -EPIPE; }
#ifndef MISSING_OP
static int b_recv(struct link *l, vsock_msg **out) { (void)l; (void)out; return -EPIPE; }
#endif
static void b_update_active(struct link *l) { (void)l; }
static bool b_try_close_if_idle(struct link *l, rt_ns idle) { (void)l; (void)idle; return false; }
static int b_close(struct link *l) { (void)l; return 0; }
static void b_release(struct link *l) { (void)l; }
static void b_stop(struct link_server *srv) { (void)srv; }
static void b_held(struct link *l, int64_t *in, int64_t *out) { (void)l; *in = *out = 0; }

#ifdef BAD_PARAMS
static const struct link_param params[] = {
    {"queue", 256, 1, 1024, "a queue"},
    {"timeout_ms", 0, 1, 1000, "default below its minimum"},
};
#else
static const struct link_param params[] = {{"queue", 256, 1, 1024, "a queue"}};
#endif

LINK_VARIANT_EXPORT = {
#ifdef BAD_ABI
    .abi_version = LINK_ABI_VERSION + 41,
#else
    .abi_version = LINK_ABI_VERSION,
#endif
    .name = "bad",
    .summary = "a variant the loader must refuse",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_BLOCKS,
    .drop_reasons = 0,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .start = b_start,
    .attach = b_attach,
    .send = b_send,
#ifndef MISSING_OP
    .recv = b_recv,
#endif
    .update_active = b_update_active,
    .try_close_if_idle = b_try_close_if_idle,
    .close = b_close,
    .release = b_release,
    .stop = b_stop,
    .held = b_held,
};
