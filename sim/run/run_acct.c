/* run_acct.c — join the servers' and the drivers' censuses link by link: observed in flight, computed lost, drops matched per link and direction, censored latencies. */
#include "run_acct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_hist.h"

/* ---------------------------------------------------------------- JSON helpers */

static int64_t ji(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? (int64_t)json_number_value(v) : 0;
}

int64_t run_jpath(const json_t *o, const char *path)
{
    char key[128];
    const char *p = path;
    const json_t *cur = o;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return 0;
        memcpy(key, p, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        p = dot ? dot + 1 : p + n;
    }
    return json_is_number(cur) ? (int64_t)json_number_value(cur) : 0;
}
#define jp run_jpath

int64_t run_inbound_drops(const json_t *srv, const char *obj)
{
    static const char *const in[] = {"recv_queue_full", "rate_limited", "cancelled_at_close",
                                     "broken_by_deadline"};
    int64_t n = 0;
    char path[96];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        snprintf(path, sizeof path, "%s.%s", obj, in[i]);
        n += jp(srv, path);
    }
    return n;
}

json_t *run_lat_json(const met_hist *h)
{
    if (!h || met_hist_count(h) == 0)
        return NULL;
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "p50", met_hist_percentile(h, 50) / 1e3, "p90",
                     met_hist_percentile(h, 90) / 1e3, "p99", met_hist_percentile(h, 99) / 1e3,
                     "p999", met_hist_percentile(h, 99.9) / 1e3, "max", met_hist_max(h) / 1e3);
}

/* delivered latencies plus the undelivered ages: the censored object, marked with how
 * many of its values are ages (lower bounds) */
static void censored(json_t *m, const char *name, const met_hist *delivered,
                     const met_hist *const *undelivered, int n)
{
    met_hist *all = met_hist_create();
    if (!all)
        return;
    int64_t und = 0;
    if (delivered)
        met_hist_merge(all, delivered);
    for (int i = 0; i < n; i++)
        if (undelivered[i]) {
            met_hist_merge(all, undelivered[i]);
            und += met_hist_count(undelivered[i]);
        }
    json_t *o = run_lat_json(all);
    if (o) {
        json_object_set_new(o, "undelivered", json_integer(und));
        json_object_set_new(m, name, o);
    }
    met_hist_destroy(all);
}

/* ---------------------------------------------------------------- joining */

static void drv_key(const json_t *d, char *buf, size_t len)
{
    const char *k = json_string_value(json_object_get(d, "key"));
    if (k)
        snprintf(buf, len, "k:%s", k);
    else
        snprintf(buf, len, "%lld:%lld", (long long)ji(d, "ip"), (long long)ji(d, "port"));
}

static void srv_key(const json_t *s, char *buf, size_t len)
{
    const char *k = json_string_value(json_object_get(s, "key"));
    const json_t *so = json_object_get(s, "sock");
    if (k)
        snprintf(buf, len, "k:%s", k);
    else if (json_is_true(json_object_get(so, "tcp")))
        snprintf(buf, len, "%lld:%lld", (long long)ji(so, "peer_ip"), (long long)ji(so, "peer_port"));
    else
        buf[0] = 0;
}

/* Taken by the app: seq below next_seq and, within the 64 just below it, its bit set. */
static bool app_took(int64_t next_seq, uint64_t seen_win, uint64_t seq)
{
    if (next_seq < 0 || seq >= (uint64_t)next_seq)
        return false;
    uint64_t d = (uint64_t)next_seq - 1 - seq;
    return d >= 64 || (seen_win >> d & 1);
}

static bool push_received(const json_t *d, int64_t k)
{
    if (k >= ji(d, "push_next"))
        return false;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(d, "push_holes"), i, h)
        if (json_integer_value(h) == k)
            return false;
    return true;
}

/* what one joined link adds up to */
typedef struct sums {
    int64_t sent, delivered, dropped, refused, in_flight, lost_pos, over, other, gaps;
    int64_t unsent, to_server, server_socket, variant_in, app, app_held, variant_out, to_client;
    int64_t lost_in, lost_out, k_to_server, k_to_client, sock_to_server, sock_to_client;
    int64_t joined, kernel_disagree, counts_disagree, links_lost, links_over;
} sums;

typedef struct cens {
    met_hist *out_undel, *in_undel;
} cens;

static void join_one(const json_t *S, const json_t *D, const json_t *doc, bool sink, sums *t,
                     json_t *bad, cens *c)
{
    const json_t *ss = json_object_get(S, "sock"), *ds = json_object_get(D, "sock");
    /* in: client socket -> server socket -> variant -> app */
    int64_t sent_in = ji(ds, "msgs_out");
    int64_t to_server = sent_in - ji(ss, "msgs_in");
    int64_t inbox = ji(ss, "inbox"), v_in = ji(S, "v_in"), taken = ji(S, "taken");
    int64_t drop_in = ji(S, "drop_in"), drop_out = ji(S, "drop_out");
    int64_t lost_in = ji(ss, "msgs_in") - inbox - v_in - taken - drop_in;
    /* out: app -> variant -> server socket -> client socket */
    int64_t echoed = ji(S, "echoed"), pushed = ji(S, "pushed"), held = ji(S, "held");
    int64_t refused = ji(S, "refused"), v_out = ji(S, "v_out");
    int64_t app_hand = sink ? 0 : taken - echoed;   /* taken, not yet echoed */
    int64_t lost_out = ji(S, "accepted") - v_out - drop_out - ji(ss, "msgs_out");
    int64_t to_client = ji(ss, "msgs_out") - ji(ds, "msgs_in");
    int64_t unsent = ji(D, "unsent");
    int64_t echo_del = ji(D, "echo_delivered"), push_del = ji(D, "push_delivered");

    int64_t sent = sent_in + unsent + pushed;
    int64_t delivered = (sink ? taken : echo_del) + push_del;
    int64_t in_flight = unsent + to_server + inbox + v_in + app_hand + held + v_out + to_client;
    int64_t lost = sent - delivered - (drop_in + drop_out) - refused - in_flight;
    int64_t dup = ji(D, "other");

    t->joined++;
    t->sent += sent;
    t->delivered += delivered;
    t->dropped += drop_in + drop_out;
    t->refused += refused;
    t->in_flight += in_flight;
    t->other += dup;
    t->gaps += ji(D, "gaps");
    t->unsent += unsent;
    t->to_server += to_server;
    t->server_socket += inbox;
    t->variant_in += v_in;
    t->app += app_hand;
    t->app_held += held;
    t->variant_out += v_out;
    t->to_client += to_client;
    t->lost_in += lost_in;
    t->lost_out += lost_out;
    t->k_to_server += ji(ds, "k_out") + ji(ss, "k_in");
    t->k_to_client += ji(ss, "k_out") + ji(ds, "k_in");
    t->sock_to_server += ji(ds, "out_bytes");
    t->sock_to_client += ji(ss, "out_bytes");
    if (lost > 0) {
        t->lost_pos += lost;
        t->links_lost++;
    } else if (lost < 0) {
        t->over += -lost;
        t->links_over++;
    }
    /* Checks that can fail. The kernel's queues must hold exactly the bytes one socket
     * wrote and the other has not read; the driver's counts of the connection must match
     * its socket's. */
    bool kernel_ok = ji(ds, "bytes_out") - ji(ss, "bytes_in") == ji(ds, "k_out") + ji(ss, "k_in") &&
                     ji(ss, "bytes_out") - ji(ds, "bytes_in") == ji(ss, "k_out") + ji(ds, "k_in");
    bool counts_ok = ji(D, "tx_seq") - ji(D, "seq0") == sent_in &&
                     ji(ds, "msgs_in") == echo_del + push_del + dup &&
                     echoed + pushed == ji(S, "accepted") + held + refused;
    t->kernel_disagree += !kernel_ok;
    t->counts_disagree += !counts_ok;
    if ((lost != 0 || !kernel_ok || !counts_ok) && json_array_size(bad) < 8)
        json_array_append_new(bad, json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b}", "server_link", (json_int_t)ji(S, "id"),
            "driver_link", (json_int_t)ji(D, "link"), "sent", (json_int_t)sent, "delivered",
            (json_int_t)delivered, "dropped", (json_int_t)(drop_in + drop_out), "refused",
            (json_int_t)refused, "in_flight", (json_int_t)in_flight, "lost", (json_int_t)lost,
            "lost_in", (json_int_t)lost_in, "lost_out", (json_int_t)lost_out, "kernel_ok", kernel_ok,
            "counts_ok", counts_ok));

    /* censored lat_out: the window's pushes of this link not received by the end, at
     * their age then (stamps of the latest 64; older ones at least as old as the oldest);
     * pushes made after the window are not the window's */
    int64_t t_end = ji(doc, "t_end"), w1 = ji(doc, "t_measure_end");
    const json_t *pt = json_object_get(S, "push_t_us");
    int64_t np = (int64_t)json_array_size(pt);
    for (int64_t k = ji(S, "pushed_m0"); np > 0 && k < pushed; k++) {
        if (push_received(D, k))
            continue;
        int64_t idx = k - (pushed - np);
        int64_t stamp = json_integer_value(json_array_get(pt, (size_t)(idx < 0 ? 0 : idx))) * 1000;
        if (idx >= 0 && stamp > w1)
            break;   /* this one and the later ones came after the window */
        met_hist_record(c->out_undel, t_end - stamp);
    }
    /* censored lat_in: the window's client messages the app had not taken (the driver
     * kept the ages of the latest not back) */
    int64_t meas0 = ji(D, "meas0"), next = json_is_number(json_object_get(S, "next_seq"))
                                               ? ji(S, "next_seq") : -1;
    const char *win = json_string_value(json_object_get(S, "seen_win"));
    uint64_t seen = win ? strtoull(win, NULL, 16) : ~0ull;
    if (meas0 >= 0) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(D, "ages"), i, a) {
            int64_t seq = json_integer_value(json_array_get(a, 0));
            if (seq >= meas0 && !app_took(next, seen, (uint64_t)seq))
                met_hist_record(c->in_undel, json_integer_value(json_array_get(a, 1)));
        }
        /* older than those: not taken when at or above next_seq */
        int64_t lo = meas0 > ji(D, "seq0") ? meas0 : ji(D, "seq0");
        if (next > lo)
            lo = next;
        int64_t older = ji(D, "ages_from") - lo;
        if (older > 0 && json_object_get(D, "older_age_min"))
            met_hist_record_n(c->in_undel, ji(D, "older_age_min"), older);
    }
}

/* ---------------------------------------------------------------- the driver side alone */

static int64_t frame_bytes(int64_t payload, bool masked)
{
    return payload + 2 + (payload < 126 ? 0 : payload < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 || b <= 0 ? 0 : (a + b - 1) / b;
}

/* Messages in the driver's own queues when nothing can be joined (--target): bytes
 * over the smallest frame the scenario sends (exact when sizes are fixed; with sizes
 * that vary, at most that many), a partly received message counting once. */
static int64_t driver_side_msgs(const json_t *D, bool *estimated)
{
    const json_t *ds = json_object_get(D, "sock");
    int64_t pmin = ji(D, "payload_min");
    if (ji(D, "payload_max") != pmin)
        *estimated = true;
    int64_t to_server = ceil_div(ji(ds, "out_bytes") + ji(ds, "k_out"), frame_bytes(pmin, true));
    int64_t partial = ji(ds, "partial_bytes");
    int64_t at_driver = ceil_div(ji(ds, "k_in") + (partial > 0 ? frame_bytes(partial, false) : 0),
                                 frame_bytes(pmin, false));
    return to_server + at_driver;
}

/* ---------------------------------------------------------------- the whole run */

static void set_i(json_t *m, const char *k, int64_t v)
{
    json_object_set_new(m, k, json_integer(v));
}

/* A server that takes no census (the go: reference server speaks the same protocol but
 * has none): the rule before the census, said as such. Holes below a later seq that the
 * drops and refusals do not explain are lost; in flight is what is left, a remainder,
 * not an observation (census_check.in_flight_observed = false); a swallowed tail
 * cannot be told from it. */
static void no_census(json_t *m, const json_t *srv, const struct drv_result *dr, bool sink,
                      int64_t sent, int64_t delivered, int64_t dropped, int64_t refused,
                      int64_t *in_flight, int64_t *lost, int64_t *abandoned, json_t *why)
{
    int64_t l;
    if (sink) {
        int64_t in_drop = run_inbound_drops(srv, "drops");
        int64_t in_end = run_inbound_drops(srv, "drops_at_driver_end");
        int64_t lost_in = jp(srv, "app.seq_missing") - in_drop;
        int64_t lost_push = dr->all.push.gaps - (dropped - in_end) - refused;
        l = (lost_in > 0 ? lost_in : 0) + (lost_push > 0 ? lost_push : 0);
    } else {
        l = dr->all.echo.gaps + dr->all.push.gaps - dropped - refused;
        if (l < 0)
            l = 0;
    }
    *lost = l;
    *abandoned = 0;
    *in_flight = sent - delivered - dropped - refused - l;
    if (*in_flight < 0)
        json_array_append_new(why, json_sprintf("accounting: %lld more messages dropped or refused "
                              "than missing (a drop counted twice?)", (long long)-*in_flight));
    json_object_set_new(m, "in_flight_not_observed", json_string(
        "the server took no census: in flight is what is missing, and only holes below a later "
        "seq that drops do not explain count as lost"));
}

void run_acct(const run_acct_in *in, json_t *m, json_t *reasons, json_t *why)
{
    const struct drv_result *dr = in->dr;
    const json_t *srv = in->srv;
    const json_t *census = json_object_get(srv, "census");
    bool sink = in->sink;
    sums t;
    memset(&t, 0, sizeof t);
    cens c = {met_hist_create(), met_hist_create()};
    json_t *bad = json_array();

    /* the drivers' links by key */
    json_t *dmap = json_object();
    json_t *ddoc = json_object();    /* key -> its driver process's document */
    size_t i, j;
    json_t *doc, *d;
    int64_t drv_links = 0, unsent_unjoined = 0;
    json_array_foreach(in->drv_census, i, doc) {
        json_array_foreach(json_object_get(doc, "links"), j, d) {
            char k[96];
            drv_key(d, k, sizeof k);
            json_object_set(dmap, k, d);
            json_object_set(ddoc, k, doc);
            drv_links++;
        }
    }
    int64_t srv_open = 0, pushed_all = ji(json_object_get(census, "closed"), "pushed");
    int64_t taken_all = ji(json_object_get(census, "closed"), "taken");
    int64_t dropped_links = ji(json_object_get(census, "closed"), "drop_in") +
                            ji(json_object_get(census, "closed"), "drop_out");
    json_t *s;
    json_array_foreach(json_object_get(census, "links"), i, s) {
        srv_open++;
        pushed_all += ji(s, "pushed");
        taken_all += ji(s, "taken");
        dropped_links += ji(s, "drop_in") + ji(s, "drop_out");
        char k[96];
        srv_key(s, k, sizeof k);
        json_t *D = k[0] ? json_object_get(dmap, k) : NULL;
        if (!D)
            continue;
        join_one(s, D, json_object_get(ddoc, k), sink, &t, bad, &c);
        json_object_del(dmap, k);   /* each driver link joins once */
    }
    const char *k;
    json_object_foreach(dmap, k, d)
        unsent_unjoined += ji(d, "unsent");

    /* what the whole run adds up to */
    int64_t sent, delivered, dropped = 0, refused, in_flight, lost, abandoned = 0;
    const char *rk;
    json_t *rv;
    if (srv) {
        /* the host's drops by reason: every one at the driver's end (after the census) */
        json_object_foreach(json_object_get(srv, "drops_at_driver_end"), rk, rv) {
            dropped += json_integer_value(rv);
            if (json_integer_value(rv) > 0)
                json_object_set_new(reasons, rk, json_integer(json_integer_value(rv)));
        }
        refused = jp(srv, "refused_at_driver_end");
        /* what the teardown threw away after the census (queues and held messages of
         * links still open when the server stopped): in flight at the end, not dropped */
        int64_t teardown = jp(srv, "app.unsent_at_close") - refused - dropped;
        json_object_foreach(json_object_get(srv, "drops"), rk, rv)
            teardown += json_integer_value(rv);
        set_i(m, "msgs_discarded_at_teardown", teardown > 0 ? teardown : 0);
        if (!census)
            pushed_all = jp(srv, "app.pushed");
        sent = dr->all.echo.scheduled + pushed_all;
        delivered = (sink ? (census ? taken_all : jp(srv, "app.recv_msgs")) : dr->all.echo.delivered) +
                    dr->all.push.delivered;
        in_flight = t.in_flight;
        /* connections that closed, or that one side saw closed: what is left of them */
        int64_t sent_c = sent - t.sent, del_c = delivered - t.delivered;
        int64_t drop_c = dropped - t.dropped, ref_c = refused - t.refused;
        int64_t residual = sent_c - del_c - drop_c - ref_c;
        int64_t holes_c = dr->all.echo.gaps + dr->all.push.gaps - t.gaps;
        if (sink)
            holes_c = dr->all.push.gaps - t.gaps;
        int64_t lost_c = holes_c - drop_c - ref_c;
        if (lost_c < 0)
            lost_c = 0;
        if (lost_c > residual)
            lost_c = residual > 0 ? residual : 0;
        abandoned = residual - lost_c;
        lost = t.lost_pos + lost_c;
        if (!census)
            no_census(m, srv, dr, sink, sent, delivered, dropped, refused, &in_flight, &lost, &abandoned,
                      why);
        if (abandoned < 0)
            json_array_append_new(why, json_sprintf("accounting: on connections that closed, %lld more "
                                  "messages dropped or refused than missing (a drop counted twice?)",
                                  (long long)-abandoned));
        if (dropped != dropped_links && census)
            json_array_append_new(why, json_sprintf("accounting: %lld drops not attributed to a link "
                                  "(a dropped message with a wrong link id)", (long long)(dropped - dropped_links)));
        if (ji(census, "unsettled") > 0)
            json_array_append_new(why, json_sprintf("census: %lld server(s) did not settle (messages still "
                                  "moving while in flight was observed)", (long long)ji(census, "unsettled")));
        if (ji(census, "quiesce_timeouts") > 0)
            json_array_append_new(why, json_string("census: the app did not stop in time"));
    } else {
        /* --target: the driver's side only */
        bool est = false;
        int64_t obs = 0;
        json_array_foreach(in->drv_census, i, doc)
            json_array_foreach(json_object_get(doc, "links"), j, d) {
                obs += ji(d, "unsent") + driver_side_msgs(d, &est);
            }
        sent = dr->all.echo.scheduled;
        delivered = dr->all.echo.delivered + dr->all.push.delivered;
        refused = 0;
        abandoned = dr->all.echo.abandoned;
        /* a run cut short did not wait for its tail: that tail is not lost */
        int64_t tail = dr->stopped ? dr->all.echo.in_flight : 0;
        in_flight = obs + tail;
        lost = sent - delivered - in_flight - abandoned;
        if (lost < 0) {
            in_flight += lost;   /* estimated from bytes: never more than what is missing */
            lost = 0;
        }
        if (est)
            json_object_set_new(m, "in_flight_estimated", json_true());
        if (lost > 0)
            json_array_append_new(why, json_sprintf("%lld echoes neither back nor in the driver's queues "
                                  "after the drain: counted lost (the target's own queues cannot be "
                                  "observed)", (long long)lost));
    }
    int64_t dup = dr->all.echo.duplicates + dr->all.push.duplicates + (sink ? jp(srv, "app.seq_dup") : 0);
    set_i(m, "msgs_sent", sent);
    set_i(m, "msgs_delivered", delivered);
    if (srv) {
        set_i(m, "msgs_dropped", dropped);
        set_i(m, "msgs_refused", refused);
    }
    set_i(m, "msgs_in_flight", in_flight);
    set_i(m, "msgs_abandoned", abandoned);
    set_i(m, "msgs_lost", lost);
    set_i(m, "msgs_duplicated", dup);
    if (srv)
        json_object_set_new(m, "in_flight_detail", json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "driver_unsent", (json_int_t)t.unsent,
            "to_server", (json_int_t)t.to_server, "server_socket", (json_int_t)t.server_socket,
            "variant_in", (json_int_t)t.variant_in, "app", (json_int_t)t.app, "app_held",
            (json_int_t)t.app_held, "variant_out", (json_int_t)t.variant_out, "to_client",
            (json_int_t)t.to_client, "kernel_bytes_to_server", (json_int_t)t.k_to_server,
            "kernel_bytes_to_client", (json_int_t)t.k_to_client, "socket_bytes_to_server",
            (json_int_t)t.sock_to_server, "socket_bytes_to_client", (json_int_t)t.sock_to_client));
    json_t *chk = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "links_joined",
        (json_int_t)t.joined, "driver_links_open", (json_int_t)drv_links, "server_links_open",
        (json_int_t)srv_open, "links_lost", (json_int_t)t.links_lost, "links_overcounted",
        (json_int_t)t.links_over, "kernel_bytes_disagree", (json_int_t)t.kernel_disagree,
        "counts_disagree", (json_int_t)t.counts_disagree, "lost_in", (json_int_t)t.lost_in,
        "lost_out", (json_int_t)t.lost_out, "links", bad);
    json_object_set_new(chk, "settled", json_boolean(census && ji(census, "unsettled") == 0));
    json_object_set_new(chk, "in_flight_observed", json_boolean(census || !srv));
    if (census && json_object_get(census, "drops_before"))
        set_i(chk, "drops_while_settling", dropped - ji(census, "drops_before"));
    json_object_set_new(m, "census_check", chk);
    (void)unsent_unjoined;

    if (lost > 0)
        json_array_append_new(why, json_sprintf("msgs_lost = %lld: sent - delivered - dropped - refused "
                              "- in flight (observed) - abandoned > 0 (%lld link(s))", (long long)lost,
                              (long long)t.links_lost));
    if (t.over > 0)
        json_array_append_new(why, json_sprintf("accounting: on %lld link(s) %lld more messages observed "
                              "(delivered, dropped, refused, in flight) than sent: counted twice",
                              (long long)t.links_over, (long long)t.over));
    if (t.kernel_disagree > 0 && census && ji(census, "unsettled") == 0)
        json_array_append_new(why, json_sprintf("census: on %lld link(s) the kernel's queued bytes differ "
                              "from what one socket wrote and the other read", (long long)t.kernel_disagree));
    if (t.counts_disagree > 0)
        json_array_append_new(why, json_sprintf("census: on %lld link(s) the counts of a connection "
                              "differ from its socket's", (long long)t.counts_disagree));
    if (dup > 0)
        json_array_append_new(why, json_sprintf("%lld messages delivered twice", (long long)dup));

    /* censored latencies: delivered ones, plus the undelivered at their age at the end */
    if (!sink) {
        const met_hist *u[2] = {dr->rtt_undelivered, dr->unsent_age};
        censored(m, "lat_rtt_censored_us", dr->lat_rtt, u, 2);
    }
    if (srv) {
        const met_hist *uo[1] = {c.out_undel};
        censored(m, "lat_out_censored_us", dr->lat_out, uo, 1);
        const met_hist *ui[2] = {c.in_undel, dr->unsent_age};
        censored(m, "lat_in_censored_us", in->lat_in, ui, 2);
    }
    json_decref(dmap);
    json_decref(ddoc);
    met_hist_destroy(c.out_undel);
    met_hist_destroy(c.in_undel);
}
