/* test_acct_mem.c — the accounting over the mem backend, in one process: the app, a variant and test clients on socketpairs, the server's census and run_acct as linkbench run uses them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link_fixture.h"
#include "lb_tmpdir.h"
#include "run_acct.h"
#include "srv_census.h"
#include "srv_report.h"
#include "vsock_census.h"

#define NL 4

static char dir[512];
static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_acct_mem"); }
static void teardown(void) { lb_tmpdir_remove(dir); }
TestSuite(acct_mem, .init = setup, .fini = teardown, .timeout = 120);

/* what one test client sent and got back on its link */
typedef struct client {
    vsock *c;
    uint32_t id;
    uint64_t sent;
    uint8_t got[4096];   /* seq -> echoed back */
    int64_t delivered, other;
} client;

static void send_all(client *cl, uint64_t n, uint32_t len)
{
    for (uint64_t k = 0; k < n; k++) {
        if (fx_send(cl->c, cl->id, cl->sent, len, 2 * RT_S) != 0)
            break;   /* the server stopped taking: what was sent is what counts */
        cl->sent++;
    }
}

/* read echoes until none comes for 300 ms */
static void drain(client *cl)
{
    struct wire_hdr h;
    int rc;
    while ((rc = fx_recv(cl->c, &h, 300 * RT_MS)) == 0 || rc == -EBADMSG) {
        if (rc == 0 && h.kind == WIRE_ECHO && h.seq < sizeof cl->got && !cl->got[h.seq]) {
            cl->got[h.seq] = 1;
            cl->delivered++;
        } else {
            cl->other++;
        }
    }
}

static json_t *sock_json(vsock *s)
{
    vsock_census c;
    vsock_census_get(s, &c);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "msgs_in", (json_int_t)c.msgs_in,
                     "msgs_out", (json_int_t)c.msgs_out, "inbox", (json_int_t)c.inbox_msgs,
                     "partial_bytes", (json_int_t)c.rx_partial_bytes, "out_bytes", (json_int_t)c.out_bytes,
                     "bytes_in", (json_int_t)c.bytes_in, "bytes_out", (json_int_t)c.bytes_out,
                     "k_in", (json_int_t)c.kernel_in_bytes, "k_out", (json_int_t)c.kernel_out_bytes,
                     "tcp", c.tcp);
}

/* The clients' census in drv_census's form (keyed by the server's link id, as the mem
 * backend has no addresses), and their totals as a drv_result. */
static json_t *client_census(client *cl, int n, struct drv_result *dr)
{
    memset(dr, 0, sizeof *dr);
    json_t *links = json_array();
    for (int i = 0; i < n; i++) {
        int64_t next = 0, gaps = 0;
        for (uint64_t s = 0; s < cl[i].sent; s++)
            if (cl[i].got[s]) next = (int64_t)s + 1;
        for (int64_t s = 0; s < next; s++)
            gaps += !cl[i].got[s];
        char key[16];
        snprintf(key, sizeof key, "%u", cl[i].id);
        json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "key", key,
                              "link", (json_int_t)i, "seq0", (json_int_t)0, "tx_seq", (json_int_t)cl[i].sent,
                              "echo_next", (json_int_t)next, "echo_delivered", (json_int_t)cl[i].delivered,
                              "push_delivered", (json_int_t)0, "other", (json_int_t)cl[i].other,
                              "unsent", (json_int_t)0, "meas0", (json_int_t)0, "gaps", (json_int_t)gaps,
                              "sock", sock_json(cl[i].c));
        json_array_append_new(links, o);
        dr->all.echo.sent += (int64_t)cl[i].sent;
        dr->all.echo.delivered += cl[i].delivered;
        dr->all.echo.gaps += gaps;
    }
    dr->all.echo.scheduled = dr->all.echo.sent;
    json_t *doc = json_pack("{s:I,s:I,s:I,s:o}", "t_end", (json_int_t)rt_now(), "t_measure_start",
                            (json_int_t)0, "t_measure_end", (json_int_t)rt_now(), "links", links);
    return json_pack("[o]", doc);
}

/* The server's census (settled), keyed by link id, in the server report of that moment. */
static json_t *server_report(fx *f)
{
    srv_census c;
    cr_assert_eq(srv_census_take(f->app, &f->host, &c, rt_now() + 3 * RT_S), 0);
    json_t *cj = srv_census_json(&c);
    cr_expect(c.settled, "the census did not settle");
    srv_census_deinit(&c);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(cj, "links"), i, l)
        json_object_set_new(l, "key", json_sprintf("%lld", (long long)json_integer_value(json_object_get(l, "id"))));
    srv_snap s;
    srv_snap_take(&s, f->app, &f->host, NULL);
    json_t *rep = srv_report_json(&s, &s, &s, &s, &s, NULL);
    json_object_set_new(rep, "census", cj);
    return rep;
}

typedef struct outcome {
    int64_t lost, dropped, in_flight, app_held, discarded, plugin_dropped;
    bool valid_identity;
    json_t *m;
} outcome;

static void plugin_log(const char *path, int64_t *discarded, int64_t *dropped)
{
    *discarded = *dropped = -1;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return;
    long long a, b;
    if (fscanf(fp, "discarded %lld dropped %lld", &a, &b) == 2) {
        *discarded = a;
        *dropped = b;
    }
    fclose(fp);
}

/* NL links of variant (a name or a module path), each sends n messages of len bytes;
 * deaf: the clients never read. Then the census and the accounting. */
static outcome run_mem(const char *variant, uint64_t n, uint32_t len, bool deaf)
{
    char log[700];
    snprintf(log, sizeof log, "%s/lossy.log", dir);
    setenv("LINKBENCH_LOSSY_LOG", log, 1);
    fx f;
    cr_assert_eq(fx_start(&f, variant, FX_MEM, NULL, NULL), 0, "%s", f.err);
    static client cl[NL];
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < NL; i++) {
        cr_assert_eq(fx_link(&f, &cl[i].c, &cl[i].id), 0);
        if (deaf)
            vsock_mem_stop_reading(cl[i].c, true);
    }
    for (int i = 0; i < NL; i++)
        send_all(&cl[i], n, len);
    if (!deaf)
        for (int i = 0; i < NL; i++)
            drain(&cl[i]);
    else
        rt_sleep(200 * RT_MS, NULL);   /* let the server move what it can */
    json_t *srv = server_report(&f);
    struct drv_result dr;
    json_t *dc = client_census(cl, NL, &dr);
    json_t *m = json_object(), *reasons = json_object(), *why = json_array();
    run_acct_in in = {.srv = srv, .drv_census = dc, .dr = &dr};
    run_acct(&in, m, reasons, why);
    outcome o = {.m = m};
    o.lost = json_integer_value(json_object_get(m, "msgs_lost"));
    o.dropped = json_integer_value(json_object_get(m, "msgs_dropped"));
    o.in_flight = json_integer_value(json_object_get(m, "msgs_in_flight"));
    o.app_held = json_integer_value(json_object_get(json_object_get(m, "in_flight_detail"), "app_held"));
    int64_t sum = 0;
    const char *parts[] = {"msgs_delivered", "msgs_dropped", "msgs_refused", "msgs_in_flight",
                           "msgs_lost", "msgs_abandoned"};
    for (int k = 0; k < 6; k++)
        sum += json_integer_value(json_object_get(m, parts[k]));
    o.valid_identity = sum == json_integer_value(json_object_get(m, "msgs_sent"));
    if (o.lost > 0)
        cr_expect_gt(json_array_size(why), 0, "a loss must make the run invalid");
    json_decref(srv);
    json_decref(dc);
    json_decref(reasons);
    json_decref(why);
    for (int i = 0; i < NL; i++) {
        vsock_close(cl[i].c, VSOCK_CLOSE_NORMAL);
        vsock_destroy(cl[i].c);
    }
    fx_stop(&f);   /* the plug-in writes its log here */
    plugin_log(log, &o.discarded, &o.plugin_dropped);
    unlink(log);
    return o;
}

static void lossy(const char *flavour, bool drops)
{
    const char *pdir = getenv("LINKBENCH_TEST_PLUGINS");
    cr_assert_not_null(pdir, "LINKBENCH_TEST_PLUGINS must be set (ctest sets it)");
    char mod[700];
    snprintf(mod, sizeof mod, "%s/lossy_%s.so", pdir, flavour);
    outcome o = run_mem(mod, 100, 64, false);
    cr_log_info("%s: discarded %lld dropped %lld; msgs_lost %lld msgs_dropped %lld", flavour,
                (long long)o.discarded, (long long)o.plugin_dropped, (long long)o.lost, (long long)o.dropped);
    cr_assert_gt(o.discarded, 0, "the plug-in lost nothing: the test proves nothing");
    cr_expect_eq(o.lost, o.discarded, "msgs_lost %lld, discarded %lld\n%s", (long long)o.lost,
                 (long long)o.discarded, json_dumps(o.m, JSON_COMPACT));
    cr_expect_eq(o.dropped, o.plugin_dropped);
    if (drops)
        cr_expect_gt(o.dropped, 0);
    cr_expect(o.valid_identity);
    json_decref(o.m);
}

Test(acct_mem, one_in_n_mid_stream_is_lost_to_the_message) { lossy("every", false); }
Test(acct_mem, a_swallowed_tail_is_lost_not_in_flight) { lossy("tail", false); }
Test(acct_mem, drops_on_one_link_do_not_hide_losses_on_another) { lossy("mixed", true); }

/* The same load through a lossless design loses nothing. */
Test(acct_mem, lossless_design_loses_nothing)
{
    outcome o = run_mem("dual", 100, 64, false);
    cr_expect_eq(o.lost, 0, "%s", json_dumps(o.m, JSON_COMPACT));
    cr_expect_eq(o.in_flight, 0);
    cr_expect(o.valid_identity);
    json_decref(o.m);
}

/* Clients that never read: the echoes fill the sockets, dual's send queues, then the
 * app's held FIFOs. All of it is observed where it is; nothing is lost. */
Test(acct_mem, what_the_app_and_the_variant_hold_is_observed)
{
    outcome o = run_mem("dual", 400, 8192, true);
    char *detail = json_dumps(json_object_get(o.m, "in_flight_detail"), JSON_COMPACT);
    cr_log_info("in flight %lld, app held %lld: %s", (long long)o.in_flight, (long long)o.app_held,
                detail);
    free(detail);
    cr_expect_eq(o.lost, 0, "%s", json_dumps(o.m, JSON_COMPACT));
    cr_expect_gt(o.app_held, 0, "%s", json_dumps(json_object_get(o.m, "in_flight_detail"), JSON_COMPACT));
    cr_expect_gt(o.in_flight, o.app_held);
    cr_expect(o.valid_identity);
    json_t *c = json_object_get(o.m, "census_check");
    cr_expect_eq(json_integer_value(json_object_get(c, "kernel_bytes_disagree")), 0,
                 "%s", json_dumps(c, JSON_COMPACT));
    json_decref(o.m);
}
