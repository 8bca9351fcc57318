/* run_srvs.c — N server children on one SO_REUSEPORT port: start, broadcast commands, notice deaths, merge their reports. */
#include "run_srvs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "met_hist.h"
#include "run_go.h"
#include "run_watch.h"

/* Wait for child i's "ready"; 0, or -1 with err. */
static int await_ready(run_srvs *g, int i, rt_ns deadline, char *err, size_t errlen)
{
    char e[512] = "";
    json_t *ev = run_child_recv(&g->c[i], deadline, e, sizeof e);
    const char *name = json_string_value(json_object_get(ev, "event"));
    if (ev && name && !strcmp(name, "ready")) {
        g->port = (uint16_t)json_integer_value(json_object_get(ev, "port"));
        json_decref(ev);
        return 0;
    }
    const char *msg = json_string_value(json_object_get(ev, "message"));
    snprintf(err, errlen, "server %d/%d could not start: %s", i + 1, g->n, msg ? msg : e);
    json_decref(ev);
    return -1;
}

int run_srvs_start(run_srvs *g, const char *exe, const json_t *cfg, int n, rt_ns deadline,
                   struct run_watch *watch, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (n < 1 || n > RUN_SRVS_MAX) {
        snprintf(err, errlen, "processes: must be 1..%d (got %d)", RUN_SRVS_MAX, n);
        return -1;
    }
    json_t *c = json_deep_copy(cfg);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* a go:<design> variant runs the Go reference server instead of this executable */
    char prog[4096];
    const char *variant = json_string_value(json_object_get(cfg, "variant"));
    if (run_go_is(variant) && run_go_server_path(prog, sizeof prog, err, errlen) < 0) {
        json_decref(c);
        return -1;
    }
    json_object_set_new(c, "parent_pid", json_integer(getpid()));
    json_object_set_new(c, "reuseport", json_boolean(n > 1));
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (i == 1)   /* the others join the first one's port */
            json_object_set_new(c, "port", json_integer(g->port));
        char e[512] = "";
        g->c[i].pid = -1;
        if (run_child_spawn_prog(&g->c[i], exe, run_go_is(variant) ? prog : NULL, NULL, e, sizeof e) < 0) {
            snprintf(err, errlen, "server %d/%d: %s", i + 1, n, e);
            rc = -1;
            /* run_child_spawn leaves pipes open only when the process started */
            g->n = g->c[i].pid > 0 ? i + 1 : i;
            break;
        }
        g->n = i + 1;
        /* watched from its first thread on: our server waits for its configuration
         * before it makes any (srv_main); the Go reference server's runtime has a few
         * already, each counted from here with what it makes later */
        if (watch)
            run_watch_add(watch, g->c[i].pid);
        char *s = json_dumps(c, JSON_COMPACT);
        if (!s || run_child_send(&g->c[i], s) < 0) {
            snprintf(err, errlen, "server %d/%d: could not send its configuration", i + 1, n);
            free(s);
            rc = -1;
            break;
        }
        free(s);
        rc = await_ready(g, i, deadline, err, errlen);
    }
    json_decref(c);
    if (rc < 0)
        for (int i = 0; i < g->n; i++)
            run_child_finish(&g->c[i], rt_now() + 5 * RT_S);
    return rc;
}

void run_srvs_send(run_srvs *g, const char *cmd)
{
    for (int i = 0; i < g->n; i++)
        run_child_send(&g->c[i], cmd);
}

int run_srvs_recheck(run_srvs *g, rt_ns deadline, int *moved)
{
    run_srvs_send(g, "recheck");
    int missing = 0;
    *moved = 0;
    for (int i = 0; i < g->n; i++) {
        char e[256];
        json_t *ev = g->c[i].rep >= 0 && !g->c[i].reaped ? run_child_recv(&g->c[i], deadline, e, sizeof e) : NULL;
        const char *name = json_string_value(json_object_get(ev, "event"));
        if (name && !strcmp(name, "rechecked"))
            *moved += json_is_true(json_object_get(ev, "moved"));
        else
            missing++;
        json_decref(ev);
    }
    return missing;
}

int run_srvs_sync(run_srvs *g, rt_ns deadline)
{
    run_srvs_send(g, "sync");
    int missing = 0;
    for (int i = 0; i < g->n; i++) {
        char e[256];
        json_t *ev = g->c[i].rep >= 0 && !g->c[i].reaped ? run_child_recv(&g->c[i], deadline, e, sizeof e) : NULL;
        const char *name = json_string_value(json_object_get(ev, "event"));
        missing += !(name && !strcmp(name, "synced"));
        json_decref(ev);
    }
    return missing;
}

int run_srvs_exited(run_srvs *g)
{
    for (int i = 0; i < g->n; i++)
        if (run_child_exited(&g->c[i]))
            return i;
    return -1;
}

void run_srvs_kill(run_srvs *g, int sig)
{
    for (int i = 0; i < g->n; i++)
        if (g->c[i].pid > 0 && !g->c[i].reaped)
            kill(g->c[i].pid, sig);
}

/* Keys that are no count: the longest of them, or the first one's. */
static bool is_max_key(const char *k)
{
    return !strcmp(k, "window_ns");
}
static bool is_first_key(const char *k)
{
    return !strcmp(k, "pid") || !strcmp(k, "threads_per_link_declared") || !strcmp(k, "app_inline") ||
           !strcmp(k, "event") || !strcmp(k, "variant");
}

void run_srvs_merge(json_t *a, const json_t *b)
{
    const char *k;
    json_t *vb;
    json_object_foreach((json_t *)b, k, vb) {
        json_t *va = json_object_get(a, k);
        if (!strcmp(k, "lat_in")) {
            /* histograms merge exactly: same bucket layout, counts added */
            met_hist *ha = met_hist_from_json(va), *hb = met_hist_from_json(vb);
            if (ha && hb) {
                met_hist_merge(ha, hb);
                json_t *j = met_hist_to_json(ha);
                if (j)
                    json_object_set_new(a, k, j);
            } else if (hb)
                json_object_set(a, k, vb);
            met_hist_destroy(ha);
            met_hist_destroy(hb);
        } else if (!va || json_is_null(va)) {
            json_object_set_new(a, k, json_deep_copy(vb));
        } else if (is_first_key(k)) {
            continue;
        } else if (json_is_integer(va) && json_is_integer(vb)) {
            json_int_t x = json_integer_value(va), y = json_integer_value(vb);
            json_object_set_new(a, k, json_integer(is_max_key(k) ? (x > y ? x : y) : x + y));
        } else if (json_is_number(va) && json_is_number(vb)) {
            double x = json_number_value(va), y = json_number_value(vb);
            json_object_set_new(a, k, json_real(is_max_key(k) ? (x > y ? x : y) : x + y));
        } else if (json_is_object(va) && json_is_object(vb)) {
            run_srvs_merge(va, vb);
        } else if (json_is_array(va) && json_is_array(vb)) {
            json_array_extend(va, vb);
        }
        /* strings (limit_errno): the first child's unless it had none */
    }
}

json_t *run_srvs_stop(run_srvs *g, rt_ns deadline, int *missing, char *err, size_t errlen)
{
    run_srvs_send(g, "stop");
    json_t *merged = NULL, *list = json_array();
    *missing = 0;
    for (int i = 0; i < g->n; i++) {
        char e[512] = "";
        json_t *r = g->c[i].rep >= 0 ? run_child_recv(&g->c[i], deadline, e, sizeof e) : NULL;
        const char *ev = json_string_value(json_object_get(r, "event"));
        /* a late answer to run_srvs_sync or run_srvs_recheck */
        while (r && ev && (!strcmp(ev, "synced") || !strcmp(ev, "rechecked"))) {
            json_decref(r);
            r = run_child_recv(&g->c[i], deadline, e, sizeof e);
            ev = json_string_value(json_object_get(r, "event"));
        }
        if (r && (!ev || strcmp(ev, "report"))) {
            snprintf(e, sizeof e, "server %d/%d: unexpected message instead of its report", i + 1, g->n);
            json_decref(r);
            r = NULL;
        }
        json_int_t held = r ? json_integer_value(json_object_get(json_object_get(r, "links"), "held")) : 0;
        if (!r) {
            (*missing)++;
            if (err[0] == 0 && e[0])
                snprintf(err, errlen, "server %d/%d: %s", i + 1, g->n, e);
        } else if (!merged) {
            merged = r;
        } else {
            run_srvs_merge(merged, r);
            json_decref(r);
        }
        json_array_append_new(list, json_pack("{s:i,s:i,s:I,s:b}", "index", i, "pid",
                                              (int)g->c[i].pid, "links_held", held, "reported",
                                              r != NULL));
    }
    for (int i = 0; i < g->n; i++) {
        char how[128];
        run_child_finish(&g->c[i], deadline > rt_now() + 10 * RT_S ? rt_now() + 10 * RT_S : deadline);
        json_object_set_new(json_array_get(list, (size_t)i), "how",
                            json_string(run_child_how(&g->c[i], how, sizeof how)));
    }
    if (merged)
        json_object_set_new(merged, "servers", list);
    else
        json_decref(list);
    return merged;
}

bool run_srvs_died(const run_srvs *g, char *buf, size_t len)
{
    size_t used = 0;
    bool any = false;
    if (len)
        buf[0] = 0;
    for (int i = 0; i < g->n; i++) {
        if (!run_child_died(&g->c[i]))
            continue;
        char how[128];
        int w = snprintf(buf + used, len - used, "%sserver %d/%d (pid %d) %s", any ? "; " : "",
                         i + 1, g->n, (int)g->c[i].pid, run_child_how(&g->c[i], how, sizeof how));
        any = true;
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return any;
}

const char *run_srvs_pids(const run_srvs *g, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = 0;
    for (int i = 0; i < g->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, i ? ",%d" : "%d", (int)g->c[i].pid);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}
