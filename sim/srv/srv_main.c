/* srv_main.c — the server child process: listener, variant and app model under the parent's commands; reports one JSON document at the end. */
#include "srv_main.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "link_host_impl.h"
#include "link_registry.h"
#include "srv_acceptor.h"
#include "srv_census.h"
#include "srv_report.h"

#define LINE_MAX_BYTES (1 << 20)

/* The loaded variant module, never unloaded (see the end of srv_main). Volatile: a
 * static that is never read would have its store optimised away. */
static link_module *volatile kept_module;

typedef struct server {
    int ctrl, rep, sfd;
    link_module *mod;
    link_host_impl host;
    app *app;
    struct link_server *srv;
    srv_acceptor *acc;
    app_params ap;
    char inbuf[4096];
    size_t inlen;
} server;

/* Write all of s to fd (the parent reads as fast as we write; a pipe write of a report
 * larger than the pipe buffer simply blocks until it does). */
static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_json(int fd, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return -ENOMEM;
    int rc = write_all(fd, s, strlen(s));
    if (rc == 0)
        rc = write_all(fd, "\n", 1);
    free(s);
    return rc;
}

static int fail(server *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(server *sv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_json(sv->rep, json_pack("{s:s,s:s}", "event", "error", "message", msg));
    return 1;
}

/* Next command line from the parent. Returns 1 with a line, 0 on EOF or SIGTERM (both
 * mean "stop"), -ETIMEDOUT when timeout_ms passed (-1: wait forever). */
static int next_line(server *sv, char *line, size_t cap, int timeout_ms)
{
    for (;;) {
        char *nl = memchr(sv->inbuf, '\n', sv->inlen);
        if (nl) {
            size_t n = (size_t)(nl - sv->inbuf);
            size_t c = n < cap - 1 ? n : cap - 1;
            memcpy(line, sv->inbuf, c);
            line[c] = 0;
            memmove(sv->inbuf, nl + 1, sv->inlen - n - 1);
            sv->inlen -= n + 1;
            return 1;
        }
        if (sv->inlen == sizeof sv->inbuf)
            sv->inlen = 0;   /* an absurd line: drop it rather than wedge */
        struct pollfd p[2] = {{.fd = sv->ctrl, .events = POLLIN}, {.fd = sv->sfd, .events = POLLIN}};
        int n = poll(p, sv->sfd >= 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return -ETIMEDOUT;
        if (n > 0 && (p[1].revents & POLLIN))
            return 0;   /* SIGTERM */
        ssize_t r = read(sv->ctrl, sv->inbuf + sv->inlen, sizeof sv->inbuf - sv->inlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;   /* the parent is gone: stop */
        sv->inlen += (size_t)r;
    }
}

static int64_t jint(const json_t *o, const char *key, int64_t def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static int configure(server *sv, const json_t *cfg, struct link_common *common, int64_t **params)
{
    char err[1024];
    const char *name = json_string_value(json_object_get(cfg, "variant"));
    if (!name)
        return fail(sv, "server config: variant: must be a string");
    if (link_module_load(name, &sv->mod, err, sizeof err) < 0)
        return fail(sv, "%s", err);
    const struct link_variant *v = sv->mod->v;
    *params = calloc((size_t)v->n_params + 1, sizeof **params);
    if (!*params)
        return fail(sv, "out of memory");
    link_params_defaults(v, *params);
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(cfg, "params"), key, val) {
        if (link_params_set(v, *params, key, json_integer_value(val), err, sizeof err) < 0)
            return fail(sv, "%s", err);
    }
    const json_t *c = json_object_get(cfg, "common");
    common->rate_limit_per_s = jint(c, "rate_limit_per_s", 0);
    common->auto_close = json_is_true(json_object_get(c, "auto_close"));
    common->max_msg_bytes = jint(c, "max_msg_bytes", 4 << 20);

    const json_t *a = json_object_get(cfg, "app");
    app_params_default(&sv->ap);
    sv->ap.workers = (int)jint(a, "workers", sv->ap.workers);
    const char *mode = json_string_value(json_object_get(a, "mode"));
    sv->ap.mode = mode && !strcmp(mode, "sink") ? APP_SINK : APP_ECHO;
    sv->ap.recv_batch = (int)jint(a, "recv_batch", sv->ap.recv_batch);
    sv->ap.service_ns = jint(a, "service_ns", sv->ap.service_ns);
    const json_t *pr = json_object_get(a, "push_per_s");
    if (json_is_number(pr))
        sv->ap.push_per_s = json_number_value(pr);
    const char *pat = json_string_value(json_object_get(a, "push_pattern"));
    if (pat)
        sv->ap.push_pattern = !strcmp(pat, "poisson") ? APP_PUSH_POISSON : APP_PUSH_CONSTANT;
    sv->ap.push_seed = (uint64_t)jint(a, "push_seed", (int64_t)sv->ap.push_seed);
    sv->ap.push_bytes = (uint32_t)jint(a, "push_bytes", sv->ap.push_bytes);
    sv->ap.idle_timeout_ns = jint(a, "idle_timeout_ns", sv->ap.idle_timeout_ns);
    sv->ap.reap_period_ns = jint(a, "reap_period_ns", sv->ap.reap_period_ns);
    sv->ap.max_links = (uint32_t)jint(a, "max_links", sv->ap.max_links);
    sv->ap.inline_handlers = json_is_true(json_object_get(a, "inline"));
    if (app_params_check(&sv->ap, err, sizeof err) < 0)
        return fail(sv, "app: %s", err);

    /* Pin before any thread exists: every thread spawned later inherits the mask. */
    const json_t *pin = json_object_get(cfg, "pin");
    if (json_array_size(pin) > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        size_t i;
        json_t *cpu;
        json_array_foreach(pin, i, cpu) CPU_SET((int)json_integer_value(cpu), &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            return fail(sv, "pin: sched_setaffinity: %s", strerror(errno));
    }
    return 0;
}

/* Links whose inbound sequence numbers skipped ahead or went back (loss, duplication or
 * reordering inside the variant): the first few by id, and how many there were. */
static json_t *seq_anomalies(app *a)
{
    json_t *list = json_array();
    int64_t n = 0;
    uint32_t links = app_links(a);
    for (uint32_t id = 0; id < links; id++) {
        app_link_stats ls;
        app_link_stats_get(a, id, &ls);
        if (!ls.exists || (ls.seq_gaps == 0 && ls.seq_backwards == 0))
            continue;
        if (n++ < 32)
            json_array_append_new(list, json_pack("{s:I,s:I,s:I}", "link", (json_int_t)id, "gaps",
                                                  (json_int_t)ls.seq_gaps, "backwards",
                                                  (json_int_t)ls.seq_backwards));
    }
    return json_pack("{s:I,s:o}", "links", (json_int_t)n, "first", list);
}

/* The measured window starts: the histograms so far are the warm-up's, thread peaks
 * restart, counters are snapshot, each link notes its pushes so far. */
static void window_start(server *sv, met_hist **warm, srv_snap *m0)
{
    met_hist_destroy(*warm);
    *warm = met_hist_create();
    if (*warm)
        app_lat_in_merge(sv->app, *warm);
    for (int g = 0; g < RT_GROUP_COUNT; g++)
        rt_group_reset_peak((rt_group)g);
    app_window_start(sv->app);
    srv_snap_take(m0, sv->app, &sv->host, sv->acc);
}

/* Where the variants' log lines go: the file LINKBENCH_LOG names ("-": stderr), kept
 * after the run; otherwise an unnamed file (O_TMPFILE) in the working directory, or in
 * /tmp, written through the page cache as a real log file is and gone when the server
 * exits (an overloaded dropping design writes tens of MB a second, as the seed's would).
 * The fd, or -errno. */
static int open_log(void)
{
    const char *path = getenv("LINKBENCH_LOG");
    if (path && !strcmp(path, "-"))
        return 2;
    int fd = path && *path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                           : open(".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && !(path && *path))
        fd = open("/tmp", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

/* Raise the open-files limit to the hard limit: each link is one descriptor. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int srv_main(int ctrl_fd, int report_fd)
{
    server sv = {.ctrl = ctrl_fd, .rep = report_fd, .sfd = -1};
    /* Ctrl-C reaches the whole process group: the parent handles it and tells us to
     * stop, so the server must survive it to send its report. SIGTERM means stop:
     * blocked here (inherited by every thread) and read through a signalfd. */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    sv.sfd = signalfd(-1, &ss, SFD_CLOEXEC);
    /* The parent killed (kill -9, OOM) must not leave a server holding thousands of
     * links and threads: the kernel kills us with it. The pipe's EOF would also stop us,
     * but only once the variant's stop returns; SIGKILL does not wait. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    raise_nofile();

    static char line[LINE_MAX_BYTES];
    if (next_line(&sv, line, sizeof line, 30000) != 1)
        return fail(&sv, "no configuration from the parent");
    json_error_t jerr;
    json_t *cfg = json_loads(line, 0, &jerr);
    if (!cfg)
        return fail(&sv, "server config: %s", jerr.text);
    struct link_common common;
    int64_t *params = NULL;
    int rc = configure(&sv, cfg, &common, &params);
    /* `linkbench serve` listens where it is told; `run` takes any free loopback port */
    char listen_addr[64] = "";
    const char *la = json_string_value(json_object_get(cfg, "addr"));
    if (la)
        snprintf(listen_addr, sizeof listen_addr, "%s", la);
    uint16_t listen_port = (uint16_t)jint(cfg, "port", 0);
    bool reuseport = json_is_true(json_object_get(cfg, "reuseport"));
    /* the parent may have died before prctl above took effect: then nobody would kill us */
    pid_t parent = (pid_t)jint(cfg, "parent_pid", 0);
    json_decref(cfg);
    if (parent > 0 && getppid() != parent)
        return 1;
    if (rc)
        return rc;

    srv_snap base, m0, m1, acct, fin;
    link_host_init(&sv.host);
    int log_fd = open_log();
    if (log_fd < 0)
        return fail(&sv, "the variants' log file (LINKBENCH_LOG=%s): %s",
                    getenv("LINKBENCH_LOG") ? getenv("LINKBENCH_LOG") : "", strerror(-log_fd));
    if (link_host_set_log_fd(&sv.host, log_fd) < 0)
        return fail(&sv, "out of memory");
    sv.app = app_create(&sv.ap, sv.mod->v, &sv.host);
    if (!sv.app)
        return fail(&sv, "app: could not create the app model");
    struct link_start_args sa = {.host = &sv.host.base, .params = params, .common = &common};
    rc = sv.mod->v->start(&sa, &sv.srv);
    if (rc < 0)
        return fail(&sv, "%s: start failed: %s", sv.mod->v->name, strerror(-rc));
    rc = app_start(sv.app, sv.srv);
    if (rc < 0)
        return fail(&sv, "app: start failed: %s", strerror(-rc));
    srv_acceptor_opts ao;
    srv_acceptor_opts_default(&ao);
    ao.vs.max_msg_bytes = (size_t)common.max_msg_bytes;
    /* permessage-deflate is negotiated by the gateway's upgrade, before a design sees the
     * connection; a design that has the seed's WithCompression option (or evloop)
     * declares a "compression" param, and its value says what the upgrade answers */
    int pc = link_params_find(sv.mod->v, "compression");
    if (pc >= 0)
        ao.vs.deflate = (int)params[pc];
    if (listen_addr[0])
        ao.addr = listen_addr;
    ao.port = listen_port;
    ao.reuseport = reuseport;
    sv.acc = srv_acceptor_start(&ao, sv.app, &rc);
    if (!sv.acc)
        return fail(&sv, "listen on %s:%u: %s", ao.addr, (unsigned)ao.port, strerror(-rc));
    /* the baseline for memory per link: everything but the links is in place */
    srv_snap_take(&base, NULL, NULL, NULL);
    send_json(sv.rep, json_pack("{s:s,s:i,s:i}", "event", "ready", "port",
                                (int)srv_acceptor_port(sv.acc), "pid", (int)getpid()));

    /* Until the window starts the whole run counts as the window; its end fixes it. */
    met_hist *warm = NULL;
    srv_snap_take(&m0, sv.app, &sv.host, sv.acc);
    bool started = false, ended = false, acct_taken = false;
    rt_ns pause_until = 0, start_at = 0, end_at = 0;
    rt_ns end_late = -1;          /* how late the window's end figures were taken */
    json_t *census = NULL;
    srv_census kept;              /* the census the document was made from ("recheck") */
    bool have_kept = false;
    int64_t drops_at_census = 0, rechecks = 0, moved_after = 0;
    for (;;) {
        /* the window's edges at the times the driver gave ("window"): the same
         * CLOCK_MONOTONIC instants as its own window, so the server's CPU and the
         * driver's messages are counted over one interval */
        rt_ns now = rt_now();
        if (start_at && !started && now >= start_at) {
            window_start(&sv, &warm, &m0);
            started = true;
        }
        if (end_at && started && !ended && now >= end_at) {
            srv_snap_take(&m1, sv.app, &sv.host, sv.acc);
            end_late = now - end_at;
            ended = true;
        }
        rt_ns due = pause_until;
        if (start_at && !started && (!due || start_at < due))
            due = start_at;
        if (end_at && !ended && (!due || end_at < due))
            due = end_at;
        int tmo = -1;
        if (due) {
            rt_ns left = due - now;
            /* poll has millisecond resolution: the last millisecond is slept exactly */
            if (left > 0 && left < RT_MS)
                rt_sleep(left, NULL);
            tmo = left > RT_MS ? (int)(left / RT_MS) : 0;
        }
        int n = next_line(&sv, line, sizeof line, tmo);
        if (pause_until && rt_now() >= pause_until) {
            /* the pause is over: back to the scenario's service time */
            app_set_service(sv.app, sv.ap.service_ns, sv.ap.service_kind);
            pause_until = 0;
        }
        if (n == -ETIMEDOUT)
            continue;
        if (n <= 0 || !strcmp(line, "stop"))
            break;
        if (!strcmp(line, "measure")) {
            if (!started)
                window_start(&sv, &warm, &m0);
            started = true;
        } else if (!strncmp(line, "window ", 7)) {
            long long a = 0, b = 0;
            if (sscanf(line + 7, "%lld %lld", &a, &b) == 2 && !started) {
                start_at = a;
                end_at = b;
            }
        } else if (!strcmp(line, "end") && !ended) {
            if (!started) {   /* no window after all: the whole run is it */
                started = true;
            }
            srv_snap_take(&m1, sv.app, &sv.host, sv.acc);
            ended = true;
        } else if (!strcmp(line, "acct")) {
            /* The driver has stopped: stop the app, let the links settle, take what
             * every link holds (srv_census.h); what was dropped or refused by then
             * explains the driver's holes. */
            srv_census c;
            link_host_snapshot before;
            link_host_snapshot_get(&sv.host, &before);
            if (!census && srv_census_take(sv.app, &sv.host, &c, rt_now() + 3 * RT_S) == 0) {
                census = srv_census_json(&c);
                kept = c;
                have_kept = true;
                /* a design that drops when its queue is full drops what still arrives
                 * while the app is stopped for the census: said, not hidden */
                drops_at_census = before.drops_total;
                json_object_set_new(census, "drops_before", json_integer(before.drops_total));
            }
            srv_snap_take(&acct, sv.app, &sv.host, sv.acc);
            acct_taken = true;
        } else if (!strcmp(line, "recheck")) {
            /* The drivers took their census after this one: the two are of one moment
             * only if nothing moved here in between. A census settles when two rounds
             * 10 ms apart agree, and a variant whose loop sleeps longer with a message in
             * hand (poll at 50 ms) writes it after that: the kernel's queues then
             * disagree with the counters. Taken again and compared, a move is seen and
             * the newer census kept; the parent takes its own again and asks once more. */
            bool moved = false;
            srv_census c2;
            if (have_kept && srv_census_take(sv.app, &sv.host, &c2, rt_now() + 3 * RT_S) == 0) {
                rechecks++;
                moved = !srv_census_same(&kept, &c2);
                if (moved) {
                    moved_after++;
                    srv_census_deinit(&kept);
                    kept = c2;
                    json_decref(census);
                    census = srv_census_json(&kept);
                    json_object_set_new(census, "drops_before", json_integer(drops_at_census));
                } else {
                    srv_census_deinit(&c2);
                }
            }
            send_json(sv.rep, json_pack("{s:s,s:b}", "event", "rechecked", "moved", moved));
        } else if (!strcmp(line, "sync")) {
            /* every command before it is done: the parent may close its links now
             * without their closes landing in the window (commands are asynchronous) */
            send_json(sv.rep, json_pack("{s:s}", "event", "synced"));
        } else if (!strncmp(line, "pause ", 6)) {
            /* the app's workers each sleep the pause away on the next message they take:
             * the closest the app model comes to "takes nothing for a while" */
            rt_ns d = strtoll(line + 6, NULL, 10);
            if (d > 0) {
                app_set_service(sv.app, d, APP_SERVICE_SLEEP);
                pause_until = rt_now() + d;
            }
        }
    }
    if (!ended)
        srv_snap_take(&m1, sv.app, &sv.host, sv.acc);
    if (!acct_taken)
        acct = m1;
    met_hist *all = met_hist_create();
    if (all)
        app_lat_in_merge(sv.app, all);
    met_hist *window = all ? srv_hist_sub(all, warm) : NULL;

    srv_acceptor_stop(sv.acc);
    app_stop(sv.app);
    sv.mod->v->stop(sv.srv);
    link_host_log_flush(&sv.host);   /* the last lines' write is the run's too */
    srv_snap_take(&fin, sv.app, &sv.host, sv.acc);
    json_t *rep = srv_report_json(&base, &m0, &m1, &acct, &fin, window);
    if (rep) {
        json_object_set_new(rep, "pid", json_integer(getpid()));
        json_object_set_new(rep, "variant", json_string(sv.mod->v->name));
        json_object_set_new(rep, "threads_per_link_declared", json_real(sv.mod->v->threads_per_link));
        /* app.inline asked and supported: the handlers ran on the variant's threads */
        json_object_set_new(rep, "app_inline", json_boolean(app_inline(sv.app)));
        json_object_set_new(rep, "seq_anomalies", seq_anomalies(sv.app));
        /* the window's end figures (closes, counters) are of end_at only if taken then:
         * a main thread kept from running would count what came after */
        json_object_set_new(rep, "window_end_late_ns", end_late >= 0 ? json_integer(end_late) : json_null());
        if (census) {
            /* times the census was taken again after the drivers' and found moved */
            json_object_set_new(census, "rechecks", json_integer(rechecks));
            json_object_set_new(census, "moved_after_census", json_integer(moved_after));
            json_object_set_new(rep, "census", census);
        }
        census = NULL;
        send_json(sv.rep, rep);
    }
    json_decref(census);
    if (have_kept)
        srv_census_deinit(&kept);
    app_destroy(sv.app);
    link_host_deinit(&sv.host);
    srv_acceptor_destroy(sv.acc);
    met_hist_destroy(warm);
    met_hist_destroy(all);
    met_hist_destroy(window);
    free(params);
    /* the module is not unloaded: the process ends here, and a variant's leftovers
     * (a detached thread finishing its last instruction) must never run unmapped code.
     * Kept reachable from a static so LeakSanitizer does not report it as lost. */
    kept_module = sv.mod;
    return rep ? 0 : 1;
}
