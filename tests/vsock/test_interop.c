/* test_interop.c — vsock against a WebSocket implementation nobody here wrote (python3-websockets). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "vsock_test_util.h"

/* The Debian package is importable only by the system interpreter. */
static const char PY[] = "/usr/bin/python3";

static void need_websockets(void)
{
    pid_t p = fork();
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(PY, PY, "-c", "import websockets.client, websockets.server", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        cr_skip_test("%s cannot import websockets (Debian python3-websockets): interop not tested", PY);
}

static void script(char *out, size_t cap)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert_not_null(src, "LINKBENCH_SOURCE_DIR is set by ctest");
    snprintf(out, cap, "%s/tests/interop/ws_peer.py", src);
}

/* Wait for a child, killing it after `secs`. Its exit status, or -1 if killed. */
static int reap(pid_t p, int secs)
{
    for (int i = 0; i < secs * 100; i++) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(10000);
    }
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    return -1;
}

struct echo_server {
    pthread_t t;
    int listener;
    int deflate;                   /* VSOCK_DEFLATE_*: what the server answers to an offer */
    bool pmd_on;
    int last_rc, close_code, echoed;
    vsock_counters c;
};

/* One connection: handshake, echo every message until the peer closes. */
static void *echo_main(void *a)
{
    struct echo_server *e = a;
    int fd = accept(e->listener, NULL, NULL);
    vsock_opts o;
    vsock_opts_default(&o);
    o.deflate = e->deflate;
    vsock *s = vsock_tcp_wrap(fd, VSOCK_SERVER, &o);
    e->last_rc = vsock_handshake(s, NULL, NULL, rt_deadline_in(10 * RT_S));
    e->pmd_on = vsock_deflate_on(s);
    while (e->last_rc == 0) {
        vsock_msg *m;
        e->last_rc = vsock_read(s, &m, rt_deadline_in(20 * RT_S));
        if (e->last_rc)
            break;
        e->last_rc = vsock_write(s, m->data, m->len, m->opcode, rt_deadline_in(10 * RT_S));
        vsock_msg_free(m);
        e->echoed++;
    }
    e->close_code = vsock_close_code(s);
    vsock_close(s, VSOCK_CLOSE_NORMAL);
    vsock_get_counters(s, &e->c);
    vsock_destroy(s);
    return NULL;
}

/* ws_peer.py client against a vsock echo server answering offers with `deflate`; the
 * client offers `offer` and expects `expect` (ws_peer.py's words). Its exit status. */
static int py_client(struct echo_server *e, int deflate, const char *offer, const char *expect)
{
    need_websockets();
    char path[4096], port[16];
    script(path, sizeof path);
    *e = (struct echo_server){.listener = socket(AF_INET, SOCK_STREAM, 0), .deflate = deflate};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(e->listener, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(e->listener, 1), 0);
    getsockname(e->listener, (struct sockaddr *)&a, &al);
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    pthread_create(&e->t, NULL, echo_main, e);
    pid_t p = fork();
    if (p == 0) {
        execl(PY, PY, path, "client", port, offer, expect, (char *)NULL);
        _exit(127);
    }
    int st = reap(p, 30);
    pthread_join(e->t, NULL);
    close(e->listener);
    return st;
}

/* The library's default offer (with context takeover), and one asking none: accepted,
 * every message compressed both ways, the wire shorter than the payload. */
Test(interop, python_websockets_client_with_compression_against_vsock_server, .timeout = 90)
{
    static const struct { int deflate; const char *offer; } cases[] = {
        {VSOCK_DEFLATE_TAKEOVER, "default"},
        {VSOCK_DEFLATE_TAKEOVER, "nct"},
        {VSOCK_DEFLATE_NO_TAKEOVER, "default"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct echo_server e;
        cr_assert_eq(py_client(&e, cases[i].deflate, cases[i].offer, "on"), 0,
                     "case %zu: ws_peer.py client failed (its stderr says why)", i);
        cr_assert(e.pmd_on);
        cr_assert_eq(e.echoed, 22, "text, random binary, 20 documents");
        cr_assert_eq(e.last_rc, -EPIPE);
        cr_assert_eq(e.close_code, VSOCK_CLOSE_NORMAL);
        cr_assert_eq(e.c.zmsgs_in, 22, "python compressed every message");
        cr_assert_eq(e.c.zmsgs_out, 22, "and inflated every one of ours");
        cr_assert_lt(e.c.bytes_in, e.c.payload_in, "case %zu: fewer bytes on the wire (%lld) "
                     "than in the messages (%lld)", i, (long long)e.c.bytes_in,
                     (long long)e.c.payload_in);
    }
}

Test(interop, python_websockets_client_without_an_offer_gets_no_compression, .timeout = 60)
{
    struct echo_server e;
    cr_assert_eq(py_client(&e, VSOCK_DEFLATE_TAKEOVER, "none", "off"), 0);
    cr_assert_not(e.pmd_on);
    cr_assert_eq(e.echoed, 2);
    cr_assert_eq(e.c.zmsgs_in + e.c.zmsgs_out, 0);
}

Test(interop, python_websockets_client_against_vsock_server, .timeout = 60)
{
    need_websockets();
    char path[4096], port[16];
    script(path, sizeof path);
    struct echo_server e = {.listener = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(e.listener, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(e.listener, 1), 0);
    getsockname(e.listener, (struct sockaddr *)&a, &al);
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    pthread_create(&e.t, NULL, echo_main, &e);
    pid_t p = fork();
    if (p == 0) {
        execl(PY, PY, path, "client", port, (char *)NULL);
        _exit(127);
    }
    int st = reap(p, 30);
    pthread_join(e.t, NULL);
    close(e.listener);
    cr_assert_eq(st, 0, "ws_peer.py client failed (its stderr says why)");
    cr_assert_eq(e.echoed, 2, "text and binary");
    cr_assert_eq(e.last_rc, -EPIPE, "ended by the client's close");
    cr_assert_eq(e.close_code, VSOCK_CLOSE_NORMAL);
    cr_assert_eq(e.c.pings_answered, 1);
    cr_assert_eq(e.c.msgs_in, 2);
    cr_assert_gt(e.c.bytes_in, 100 * 1024);
    cr_assert_not(e.pmd_on, "compression is off by default: the offer was declined by silence");
}

/* vsock as the client (offering `deflate`) against ws_peer.py's echo server (with the
 * library's permessage-deflate: server_max_window_bits=12, client_max_window_bits=12 in
 * its answer; none when plain). */
static void vsock_client(int deflate, bool plain, bool want_on)
{
    need_websockets();
    char path[4096];
    script(path, sizeof path);
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t p = fork();
    if (p == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(PY, PY, path, "server", plain ? "plain" : NULL, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[32] = {0};
    size_t n = 0;
    while (n < sizeof line - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(out[0]);
    int port = atoi(line);
    cr_assert_gt(port, 0, "the server printed its port (got '%s')", line);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    vsock_opts o;
    vsock_opts_default(&o);
    o.deflate = deflate;
    vsock *s = vsock_tcp_wrap(fd, VSOCK_CLIENT, &o);
    cr_assert_eq(vsock_handshake(s, "127.0.0.1", "/interop", rt_deadline_in(10 * RT_S)), 0);
    cr_assert_eq(vsock_deflate_on(s), want_on);
    vsock_msg *m;
    cr_assert_eq(vsock_write(s, "hello, python", 13, VSOCK_TEXT, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(vsock_read(s, &m, rt_deadline_in(10 * RT_S)), 0);
    cr_assert_eq(m->opcode, VSOCK_TEXT);
    cr_assert_eq(m->len, 13);
    cr_assert_eq(memcmp(m->data, "hello, python", 13), 0);
    vsock_msg_free(m);
    size_t big = 100 * 1024;
    uint8_t *blob = malloc(big);
    for (size_t i = 0; i < big; i++)
        blob[i] = (uint8_t)(i * 7 + 3);
    cr_assert_eq(vsock_write(s, blob, big, VSOCK_BINARY, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(vsock_read(s, &m, rt_deadline_in(10 * RT_S)), 0);
    cr_assert_eq(m->opcode, VSOCK_BINARY);
    cr_assert_eq(m->len, big);
    cr_assert_eq(memcmp(m->data, blob, big), 0, "masked by us, unmasked by them, echoed intact");
    vsock_msg_free(m);
    free(blob);
    if (want_on) {
        /* alike documents: with context takeover (window 12 on both sides) the later
         * ones cost a fraction of the first on the wire */
        char doc[4096];
        size_t dn = 0;
        for (int j = 0; dn + 64 < sizeof doc; j++)
            dn += (size_t)snprintf(doc + dn, sizeof doc - dn, "{\"id\":%d,\"name\":\"item-%d\"},", j, j);
        for (int k = 0; k < 10; k++) {
            cr_assert_eq(vsock_write(s, doc, dn, VSOCK_TEXT, rt_deadline_in(5 * RT_S)), 0);
            cr_assert_eq(vsock_read(s, &m, rt_deadline_in(10 * RT_S)), 0);
            cr_assert_eq(m->len, dn);
            cr_assert_eq(memcmp(m->data, doc, dn), 0, "document %d echoed intact", k);
            vsock_msg_free(m);
        }
        vsock_counters c;
        vsock_get_counters(s, &c);
        cr_assert_eq(c.zmsgs_out, 12);
        cr_assert_eq(c.zmsgs_in, 12, "python compressed its echoes");
        cr_assert_lt(c.zbytes_out - (int64_t)big, 10 * (int64_t)dn / 4);
    }
    cr_assert_eq(vsock_close(s, VSOCK_CLOSE_NORMAL), 0, "the server answered our close");
    cr_assert_eq(vsock_close_code(s), VSOCK_CLOSE_NORMAL);
    vsock_destroy(s);
    cr_assert_eq(reap(p, 30), 0, "ws_peer.py server saw close 1000");
}

Test(interop, vsock_client_against_python_websockets_server, .timeout = 60)
{
    vsock_client(VSOCK_DEFLATE_OFF, false, false);
}

Test(interop, vsock_client_with_compression_against_python_websockets_server, .timeout = 60)
{
    vsock_client(VSOCK_DEFLATE_TAKEOVER, false, true);
    vsock_client(VSOCK_DEFLATE_NO_TAKEOVER, false, true);
}

Test(interop, vsock_client_offering_compression_to_a_python_server_without_it, .timeout = 60)
{
    vsock_client(VSOCK_DEFLATE_TAKEOVER, true, false);
}
