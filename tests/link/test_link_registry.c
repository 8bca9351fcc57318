/* test_link_registry.c — variant table checks, params by name with range errors, enum names, `linkbench list`. */
#include <criterion/criterion.h>
#include <sys/wait.h>

#include "link_fixture.h"

static int op_start(const struct link_start_args *a, struct link_server **o) { (void)a; (void)o; return -ENOSYS; }
static int op_attach(struct link_server *s, vsock *v, uint32_t id, struct link **o) { (void)s; (void)v; (void)id; (void)o; return -ENOSYS; }
static int op_send(struct link *l, vsock_msg *m) { (void)l; (void)m; return -EPIPE; }
static int op_recv(struct link *l, vsock_msg **m) { (void)l; (void)m; return -EPIPE; }
static void op_active(struct link *l) { (void)l; }
static bool op_idle(struct link *l, rt_ns i) { (void)l; (void)i; return false; }
static int op_close(struct link *l) { (void)l; return 0; }
static void op_release(struct link *l) { (void)l; }
static void op_stop(struct link_server *s) { (void)s; }
static void op_held(struct link *l, int64_t *in, int64_t *out) { (void)l; *in = *out = 0; }

static const struct link_param good_params[] = {
    {"batch_size", 8, 1, 4096, "messages per batch"},
    {"tick_ms", 20, 1, 1000, "ticker"},
};

static struct link_variant good(void)
{
    return (struct link_variant){
        .abi_version = LINK_ABI_VERSION, .name = "t", .summary = "test table",
        .threads_per_link = 1, .loss_policy = LINK_LOSS_BLOCKS,
        .params = good_params, .n_params = 2,
        .start = op_start, .attach = op_attach, .send = op_send, .recv = op_recv,
        .update_active = op_active, .try_close_if_idle = op_idle, .close = op_close,
        .release = op_release, .stop = op_stop, .held = op_held};
}

Test(link_registry, good_table_passes)
{
    struct link_variant v = good();
    char err[256] = "";
    cr_expect_eq(link_variant_check(&v, err, sizeof err), 0, "%s", err);
}

Test(link_registry, each_missing_op_is_named)
{
    static const char *const names[] = {"start", "attach", "send", "recv", "update_active",
                                        "try_close_if_idle", "close", "release", "stop", "held"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct link_variant v = good();
        void **ops[] = {(void **)&v.start, (void **)&v.attach, (void **)&v.send, (void **)&v.recv,
                        (void **)&v.update_active, (void **)&v.try_close_if_idle,
                        (void **)&v.close, (void **)&v.release, (void **)&v.stop,
                        (void **)&v.held};
        *ops[i] = NULL;
        char err[256], want[64];
        cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
        snprintf(want, sizeof want, "operation '%s' is missing", names[i]);
        cr_expect(strstr(err, want), "got: %s", err);
    }
}

Test(link_registry, bad_tables_refused)
{
    char err[256];
    struct link_variant v = good();
    v.abi_version = 7;
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EPROTO);
    char want[64];
    snprintf(want, sizeof want, "expects ABI version %d", LINK_ABI_VERSION);
    cr_expect(strstr(err, "ABI version 7") && strstr(err, want), "%s", err);
    v = good();
    v.drop_reasons = LINK_DROP_BIT(LINK_DROP_COUNT);
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "drop_reasons"), "%s", err);
    v = good();
    v.summary = "";
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "no summary"), "%s", err);
    v = good();
    v.name = NULL;
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
    const struct link_param dup[] = {{"a", 1, 0, 2, ""}, {"a", 1, 0, 2, ""}};
    v = good();
    v.params = dup;
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "'a' is declared twice"), "%s", err);
    const struct link_param out[] = {{"q", 5, 6, 9, ""}};
    v = good();
    v.params = out;
    v.n_params = 1;
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "'q': default must be in [6, 9] (got 5)"), "%s", err);
    v = good();
    v.params = NULL;
    cr_expect_eq(link_variant_check(&v, err, sizeof err), -EINVAL);
}

Test(link_registry, params_set_by_name_with_range)
{
    struct link_variant v = good();
    int64_t vals[2];
    link_params_defaults(&v, vals);
    cr_expect_eq(vals[0], 8);
    cr_expect_eq(vals[1], 20);
    char err[256];
    cr_expect_eq(link_params_set(&v, vals, "tick_ms", 5, err, sizeof err), 0);
    cr_expect_eq(vals[1], 5);
    cr_expect_eq(link_params_set(&v, vals, "batch_size", 0, err, sizeof err), -ERANGE);
    cr_expect_str_eq(err, "t: batch_size: must be in [1, 4096] (got 0)");
    cr_expect_eq(vals[0], 8, "a refused value leaves the old one");
    cr_expect_eq(link_params_set(&v, vals, "nope", 1, err, sizeof err), -ENOENT);
    cr_expect_str_eq(err, "t: nope: unknown param (known: batch_size tick_ms)");
    cr_expect_eq(link_params_find(&v, "tick_ms"), 1);
    cr_expect_eq(link_params_find(&v, "x"), -1);
}

Test(link_registry, enum_names_are_stable)
{
    cr_expect_str_eq(link_loss_policy_name(LINK_LOSS_LOSSLESS), "lossless");
    static const char *const drops[] = {"recv_queue_full", "rate_limited", "send_overflow",
                                        "send_failed", "unsent_at_close",
                                        "cancelled_at_close", "broken_by_deadline"};
    for (int i = 0; i < LINK_DROP_COUNT; i++) {
        cr_expect_str_eq(link_drop_reason_name((enum link_drop_reason)i), drops[i]);
        cr_expect_eq(link_drop_reason_parse(drops[i]), i);
    }
    static const char *const closes[] = {"peer", "error", "idle", "retry_spent", "stall",
                                         "overflow", "app", "shutdown"};
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) {
        cr_expect_str_eq(link_close_cause_name((enum link_close_cause)i), closes[i]);
        cr_expect_eq(link_close_cause_parse(closes[i]), i);
    }
    cr_expect_str_eq(link_counter_name(LINK_C_SEND_BACKPRESSURE), "send_backpressure");
    cr_expect_str_eq(link_drop_reason_name(LINK_DROP_COUNT), "unknown");
    cr_expect_eq(link_close_cause_parse("nope"), -1);
}

Test(link_registry, names_list_every_built_module)
{
    char **names;
    int n = link_registry_names(&names);
    cr_assert_gt(n, 0);
    for (int i = 1; i < n; i++) cr_expect_lt(strcmp(names[i - 1], names[i]), 0, "sorted, no duplicates");
    for (int i = 0; i < n; i++) {
        link_module *m;
        char err[1024];
        cr_expect_eq(link_module_load(names[i], &m, err, sizeof err), 0, "%s", err);
        if (m) cr_expect_str_eq(m->v->name, names[i], "a module's name is its file name");
        link_module_unload(m);
    }
    link_registry_names_free(names, n);
}

/* Run `linkbench <args>`, return its exit status and its stdout in out. */
static int run_bin(const char *args, char *out, size_t len)
{
    const char *bin = getenv("LINKBENCH_BIN");
    cr_assert(bin, "LINKBENCH_BIN must be set (ctest sets it)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(link_registry, list_command_prints_every_variant)
{
    static char out[65536];
    cr_assert_eq(run_bin("list", out, sizeof out), 0);
    cr_expect(strstr(out, "variant") && strstr(out, "threads") && strstr(out, "loss"), "%s", out);
    char **names;
    int n = link_registry_names(&names);
    for (int i = 0; i < n; i++) cr_expect(strstr(out, names[i]), "list lacks %s", names[i]);
    link_registry_names_free(names, n);
    cr_assert_eq(run_bin("list --params", out, sizeof out), 0);
    cr_expect(strstr(out, "["), "params show their range: %s", out);
    cr_expect_eq(run_bin("list --help", out, sizeof out), 0);
    cr_expect(strstr(out, "usage: linkbench list"));
    cr_expect_eq(run_bin("list --bogus", out, sizeof out), 2);
}
