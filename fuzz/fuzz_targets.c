/* fuzz_targets.c — fuzz entry points: HTTP upgrade parser, frames into a server vsock (wslay, and in place against it), scenario loader. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_targets.h"
#include "scn.h"
#include "vsock.h"
#include "ws_handshake.h"

/* A broken invariant: say which, then abort so the fuzzer keeps the input. */
#define INVARIANT(cond)                                                              \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                       \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* An exact-size heap copy, so reading one byte past `size` is an ASan report. */
static char *dup_exact(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (p && size) memcpy(p, data, size);
    return p;
}

/* ---------------------------------------------------------------- handshake */

/* RFC 6455's example accept value, so an input can carry a matching answer. */
static const char ACCEPT[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

static void check_request(const char *buf, size_t len, size_t cut)
{
    struct ws_request r;
    memset(&r, 0x5a, sizeof r);
    int n = ws_parse_request(buf, len, &r);
    INVARIANT(n == 0 || n == -EPROTO || n == -E2BIG || (n > 0 && (size_t)n <= len));
    if (n == -EPROTO) INVARIANT(r.error != NULL);
    if (n <= 0) return;
    INVARIANT(memchr(r.key, 0, sizeof r.key) != NULL);
    /* the head alone parses to the same length; any shorter prefix asks for more */
    struct ws_request r2;
    INVARIANT(ws_parse_request(buf, (size_t)n, &r2) == n);
    INVARIANT(!strcmp(r.key, r2.key));
    if (cut < (size_t)n) INVARIANT(ws_parse_request(buf, cut, &r2) == 0);
    char accept[WS_ACCEPT_LEN + 1];
    INVARIANT(ws_accept_key(r.key, strlen(r.key), accept) == 0);
    char resp[512];
    int rl = ws_build_response(resp, sizeof resp, accept);
    INVARIANT(rl > 0);
    const char *why = NULL;
    INVARIANT(ws_parse_response(resp, (size_t)rl, accept, &why) == rl);
}

static void check_response(const char *buf, size_t len, size_t cut)
{
    const char *why = NULL;
    int n = ws_parse_response(buf, len, ACCEPT, &why);
    INVARIANT(n == 0 || n == -EPROTO || n == -E2BIG || (n > 0 && (size_t)n <= len));
    if (n == -EPROTO) INVARIANT(why != NULL);
    if (n <= 0) return;
    INVARIANT(ws_parse_response(buf, (size_t)n, ACCEPT, &why) == n);
    if (cut < (size_t)n) INVARIANT(ws_parse_response(buf, cut, ACCEPT, &why) == 0);
}

int lb_fuzz_ws_handshake(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cut = (size_t)data[0] * 37 % size;   /* a prefix length picked by the input */
    char *buf = dup_exact(data + 1, size - 1);
    if (!buf) return 0;
    check_request(buf, size - 1, cut);
    check_response(buf, size - 1, cut);
    /* the builders with input-made fields: a head they build must parse back */
    char host[64], path[sizeof host + 1], key[WS_KEY_LEN + 1], req[WS_HS_MAX_BYTES];
    size_t hl = size - 1 < sizeof host - 1 ? size - 1 : sizeof host - 1;
    memcpy(host, buf, hl);
    host[hl] = 0;
    snprintf(path, sizeof path, "/%s", host);
    uint8_t nonce[16] = {0};
    memcpy(nonce, data, size < 16 ? size : 16);
    ws_make_key(nonce, key);
    int rl = ws_build_request(req, sizeof req, host, path, key);
    if (rl > 0 && !strpbrk(host, "\r\n") && !memchr(host, 0, hl) && hl == strlen(host)) {
        struct ws_request r;
        int n = ws_parse_request(req, (size_t)rl, &r);
        /* a host with odd bytes may be refused, but never mis-parsed */
        INVARIANT(n == rl || n == -EPROTO);
        if (n == rl) INVARIANT(!strcmp(r.key, key));
    }
    char bad[256];
    INVARIANT(ws_build_bad_request(bad, sizeof bad, host) != 0);
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------- frames into vsock */

int lb_fuzz_vsock_frames(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    bool event_loop = data[0] & 1;          /* vsock_read_nb/poll_msg, else vsock_read */
    size_t chunk = data[1] % 17;            /* bytes per recv (0: unlimited): split frames */
    size_t budget = 1 + (size_t)(data[0] >> 1) * 97;   /* read_nb's max_bytes */
    data += 2;
    size -= 2;
    vsock_opts o;
    vsock_opts_default(&o);
    o.max_msg_bytes = 4096;                 /* small, so the 1009 path is reached */
    o.close_timeout = 1;   /* 1 ns: the close handshake never waits (0 means the default 2 s) */
    vsock *srv, *cli;
    if (vsock_mem_pair(&srv, &cli, &o) < 0) return 0;
    vsock_mem_set_chunk(srv, chunk, 0);
    /* The client's fd takes the raw bytes (as if a client sent them), then EOF. A
     * socketpair holds well over libFuzzer's default max_len, so this never blocks. */
    int fd = vsock_fd(cli);
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0) break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t got_bytes = 0;
    for (int guard = 0; guard < 100000; guard++) {
        vsock_msg *m = NULL;
        int rc;
        if (event_loop) {
            size_t n = 0;
            rc = vsock_read_nb(srv, budget, &n);
            while ((m = vsock_poll_msg(srv))) {
                INVARIANT(m->opcode == VSOCK_TEXT || m->opcode == VSOCK_BINARY);
                INVARIANT(m->len <= o.max_msg_bytes);
                got_bytes += m->len;
                vsock_msg_free(m);
            }
            vsock_flush(srv);   /* pongs and close replies */
            if (rc < 0) break;
            if (n == 0 && rc == 0) {
                /* nothing read and no error: only possible before EOF was seen */
                if (guard > 1000) break;
            }
        } else {
            rc = vsock_read(srv, &m, rt_now());   /* deadline now: never waits */
            if (rc == 0) {
                INVARIANT(m->opcode == VSOCK_TEXT || m->opcode == VSOCK_BINARY);
                INVARIANT(m->len <= o.max_msg_bytes);
                got_bytes += m->len;
                vsock_msg_free(m);
                continue;
            }
            if (rc != -ETIMEDOUT) {
                INVARIANT(rc == -EPIPE || rc == -ECONNRESET || rc == -EPROTO || rc == -EMSGSIZE);
                break;
            }
            if (guard > 1000) break;
        }
    }
    /* every delivered payload byte came from the input (frames add headers) */
    INVARIANT(got_bytes <= size);
    vsock_close(srv, VSOCK_CLOSE_NORMAL);
    vsock_destroy(srv);
    vsock_destroy(cli);
    return 0;
}

/* ---------------------------------------------------------------- in place vs wslay */

typedef struct fz_msgs {
    size_t n, bytes;
    uint64_t hash;       /* of every message's opcode, length and bytes, in order */
    uint8_t stops;       /* the handler's answers, a bit per message (in place only) */
    int calls;
} fz_msgs;

static void fz_add(fz_msgs *g, int op, const uint8_t *d, size_t len)
{
    uint64_t h = g->hash ^ ((uint64_t)op << 56) ^ len;
    for (size_t i = 0; i < len; i++)
        h = (h ^ d[i]) * 0x100000001b3ULL;
    g->hash = h * 0x100000001b3ULL;
    g->n++;
    g->bytes += len;
}

static int fz_take(void *arg, uint8_t *data, size_t len, int op)
{
    fz_msgs *g = arg;
    INVARIANT(op == VSOCK_TEXT || op == VSOCK_BINARY);
    int ans = (g->stops >> (g->calls++ & 7)) & 3;   /* 0 go on, 1 stop after, 2 stop before */
    if (ans == 3) ans = 0;
    if (ans != VSOCK_STOP_BEFORE)
        fz_add(g, op, data, len);
    return ans;
}

/* A pair with these bytes from the client, then EOF; chunk bytes per server recv. */
static int fz_pair(const uint8_t *data, size_t size, size_t chunk, vsock **srv, vsock **cli)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.max_msg_bytes = 4096;
    o.close_timeout = 1;
    if (vsock_mem_pair(srv, cli, &o) < 0) return -1;
    vsock_mem_set_chunk(*srv, chunk, 0);
    int fd = vsock_fd(*cli);
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0) break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    return 0;
}

int lb_fuzz_vsock_inplace(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t chunk = data[0] % 17;
    size_t cap = 16 + (size_t)data[1] * 16;   /* 16..4096: frames beyond it go through the carry */
    fz_msgs a = {0}, b = {.stops = data[2]};
    data += 3;
    size -= 3;
    vsock *srv, *cli;
    /* the reference: wslay through the blocking API */
    if (fz_pair(data, size, chunk, &srv, &cli) < 0) return 0;
    /* a small recv chunk makes each call read a few bytes: stop once calls stop reading */
    int64_t seen = -1;
    for (int guard = 0, idle = 0; guard < 1000000 && idle < 1000; guard++) {
        vsock_msg *m = NULL;
        int rc = vsock_read(srv, &m, rt_now());
        if (rc == 0) {
            fz_add(&a, m->opcode, m->data, m->len);
            vsock_msg_free(m);
            idle = 0;
            continue;
        }
        if (rc != -ETIMEDOUT) break;
        vsock_counters vc;
        vsock_get_counters(srv, &vc);
        idle = vc.bytes_in == seen ? idle + 1 : 0;
        seen = vc.bytes_in;
    }
    vsock_destroy(srv);
    vsock_destroy(cli);
    /* in place */
    if (fz_pair(data, size, chunk, &srv, &cli) < 0) return 0;
    uint8_t *buf = malloc(cap);   /* exact size: ASan sees a read or write past it */
    int idle = 0;
    for (int guard = 0; guard < 200000 && buf; guard++) {
        size_t n = 0;
        int calls = b.calls;
        int rc = vsock_read_inplace(srv, buf, cap, true, fz_take, &b, &n);
        vsock_flush(srv);
        if (rc < 0) {
            INVARIANT(rc == -EPIPE || rc == -ECONNRESET || rc == -EPROTO || rc == -EMSGSIZE);
            break;
        }
        idle = n == 0 && b.calls == calls ? idle + 1 : 0;
        if (idle > 1000) break;
    }
    free(buf);
    vsock_destroy(srv);
    vsock_destroy(cli);
    if (a.n != b.n || a.hash != b.hash)
        fprintf(stderr, "wslay handed over %zu messages (%zu bytes), in place %zu (%zu bytes)\n", a.n,
                a.bytes, b.n, b.bytes);
    INVARIANT(a.n == b.n && a.bytes == b.bytes && a.hash == b.hash);
    return 0;
}

/* ---------------------------------------------------------------- scenario loader */

int lb_fuzz_scn(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!root) return 0;
    struct scn *s = malloc(sizeof *s);
    if (!s) {
        json_decref(root);
        return 0;
    }
    struct scn_diag d;
    scn_diag_init(&d);
    scn_defaults(s);
    int n = scn_parse_json("fuzz.json", root, s, &d);
    n += scn_validate(s, NULL, "fuzz.json", &d);
    INVARIANT((n == 0) == (d.n == 0));
    if (d.n) INVARIANT(d.text && strlen(d.text) == d.len);
    /* scaling, as a suite would apply it */
    struct scn_scaling sc;
    scn_scaling_defaults(&sc);
    sc.links_factor = 0.5;
    sc.time_factor = 0.1;
    if (n == 0) {
        /* the effective config re-parses to the same scenario */
        json_t *eff = scn_to_json(s);
        INVARIANT(eff != NULL);
        struct scn *s2 = malloc(sizeof *s2);
        INVARIANT(s2 != NULL);
        struct scn_diag d2;
        scn_diag_init(&d2);
        scn_defaults(s2);
        int n2 = scn_parse_json("fuzz.json", eff, s2, &d2);
        n2 += scn_validate(s2, NULL, "fuzz.json", &d2);
        if (n2) fprintf(stderr, "re-parse errors:\n%s\n", d2.text);
        INVARIANT(n2 == 0);
        json_t *eff2 = scn_to_json(s2);
        INVARIANT(json_equal(eff, eff2));
        for (int i = 0; i <= s2->n_groups; i++) (void)scn_group_links(s2, i, s2->links);
        scn_apply_scaling(s2, &sc);
        json_decref(eff2);
        json_decref(eff);
        scn_diag_deinit(&d2);
        free(s2);
    }
    scn_diag_deinit(&d);
    free(s);
    json_decref(root);
    return 0;
}

lb_fuzz_fn lb_fuzz_lookup(const char *name)
{
    if (!strcmp(name, "ws_handshake")) return lb_fuzz_ws_handshake;
    if (!strcmp(name, "vsock_frames")) return lb_fuzz_vsock_frames;
    if (!strcmp(name, "scn")) return lb_fuzz_scn;
    if (!strcmp(name, "vsock_inplace")) return lb_fuzz_vsock_inplace;
    return NULL;
}
