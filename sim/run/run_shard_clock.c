/* run_shard_clock.c — this host's wall clock against the target's, bounded by the HTTP Date of the target's handshake responses: what a sharded run can say about its hosts' clocks without an NTP server of its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "run_shard.h"
#include "ws_handshake.h"

#define NS 1000000000LL
#define PROBE_TIMEOUT_MS 2000
#define PROBE_SPACING_NS (125 * 1000000LL)

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int run_shard_http_date(const char *s, size_t len, int64_t *utc_ns)
{
    char buf[64];
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    if (len == 0 || len >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    /* IMF-fixdate (RFC 9110 §5.6.7); the C locale's day and month names are English */
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (!end || *end)
        return -EINVAL;
    *utc_ns = (int64_t)timegm(&tm) * NS;
    return 0;
}

bool run_shard_clock_bounds(const int64_t *date_ns, const int64_t *t_sent, const int64_t *t_recv,
                            int n, int64_t *lo, int64_t *hi)
{
    /* the target stamped its Date (truncated to the second) at some instant t of ours
     * between sending and receiving: Date <= t + off < Date + 1 s */
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    for (int i = 0; i < n; i++) {
        int64_t l = date_ns[i] - t_recv[i], h = date_ns[i] + NS - t_sent[i];
        *lo = l > *lo ? l : *lo;
        *hi = h < *hi ? h : *hi;
    }
    return n > 0 && *lo <= *hi;
}

/* One handshake: connect, send, read the response head. 0 with *date_ns (-1 when the
 * head has no Date), or a negative errno / -EPROTO. */
static int one_sample(const struct sockaddr_in *dst, const char *hosthdr, const char *path,
                      int64_t *t_sent, int64_t *t_recv, int64_t *date_ns)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* RST on close: no TIME_WAIT left behind, and a server sees a client gone at once */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int rc = 0;
    struct pollfd q = {.fd = fd, .events = POLLOUT};
    if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS)
        rc = -errno;
    if (rc == 0 && poll(&q, 1, PROBE_TIMEOUT_MS) != 1)
        rc = -ETIMEDOUT;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr))
        rc = -(soerr ? soerr : errno);
    char req[1024], key[WS_KEY_LEN + 1], head[4096];
    if (rc == 0) {
        uint8_t nonce[16];
        int64_t t = realtime_ns();
        for (int i = 0; i < 16; i++)
            nonce[i] = (uint8_t)(t >> (i % 8 * 8)) ^ (uint8_t)(i * 37);   /* a nonce, not a secret */
        ws_make_key(nonce, key);
        int n = ws_build_request(req, sizeof req, hosthdr, path, key);
        *t_sent = realtime_ns();
        if (n < 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
            rc = -EIO;
    }
    size_t got = 0;
    while (rc == 0) {
        q.events = POLLIN;
        if (poll(&q, 1, PROBE_TIMEOUT_MS) != 1) {
            rc = -ETIMEDOUT;
            break;
        }
        ssize_t r = recv(fd, head + got, sizeof head - 1 - got, 0);
        if (r <= 0) {
            rc = r == 0 ? -ECONNRESET : -errno;
            break;
        }
        got += (size_t)r;
        head[got] = 0;
        if (strstr(head, "\r\n\r\n")) {
            *t_recv = realtime_ns();
            break;
        }
        if (got == sizeof head - 1)
            rc = -EPROTO;
    }
    close(fd);
    if (rc < 0)
        return rc;
    *date_ns = -1;
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, "Date:", 5)) {
            const char *e = strstr(line, "\r\n");
            if (run_shard_http_date(line + 5, (size_t)(e - line - 5), date_ns) < 0)
                *date_ns = -1;
            break;
        }
    }
    return 0;
}

json_t *run_shard_clock_probe(const char *host, uint16_t port, const char *path, int samples,
                              int64_t stop_ns)
{
    const char *method = "HTTP Date of the target's handshake responses (1 s resolution); the "
                         "bounds of the samples intersected; offset = target's clock - this host's";
    json_t *o = json_pack("{s:s,s:i}", "method", method, "samples", samples);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        json_object_set_new(o, "absent", json_sprintf("the target %s is no IPv4 address", host));
        return o;
    }
    char hosthdr[96];
    snprintf(hosthdr, sizeof hosthdr, "%s:%u", host, port);
    int64_t d[16], ts[16], tr[16], rtt_max = 0;
    int n = 0, answered = 0, err = 0;
    if (samples > 16)
        samples = 16;
    int taken = 0;
    for (int i = 0; i < samples; i++) {
        int64_t t0 = realtime_ns(), a = 0, b = 0, date = -1;
        if (stop_ns > 0 && i > 0 && t0 + PROBE_SPACING_NS > stop_ns)
            break;   /* the run's start comes first */
        taken++;
        int rc = one_sample(&dst, hosthdr, path, &a, &b, &date);
        if (rc == 0) {
            answered++;
            rtt_max = b - a > rtt_max ? b - a : rtt_max;
            if (date >= 0) {
                d[n] = date, ts[n] = a, tr[n] = b;
                n++;
            }
        } else if (!err) {
            err = -rc;
        }
        /* spaced so that the samples fall at different places within a second */
        int64_t wait = t0 + PROBE_SPACING_NS - realtime_ns();
        if (i + 1 < samples && wait > 0) {
            struct timespec w = {0, (long)wait};
            nanosleep(&w, NULL);
        }
    }
    json_object_set_new(o, "samples", json_integer(taken));
    json_object_set_new(o, "with_date", json_integer(n));
    int64_t lo, hi;
    if (answered == 0)
        json_object_set_new(o, "absent", json_sprintf("the target did not answer a handshake (%s)",
                                                      strerror(err ? err : ETIMEDOUT)));
    else if (n == 0)
        json_object_set_new(o, "absent", json_string("the target's handshake responses carry no Date "
                                                     "header"));
    else if (!run_shard_clock_bounds(d, ts, tr, n, &lo, &hi))
        json_object_set_new(o, "absent", json_string("the samples' bounds do not meet (the target's "
                                                     "clock stepped, or it stamps Date wrongly)"));
    else {
        json_object_set_new(o, "offset_ms", json_real((double)(lo + hi) / 2e6));
        json_object_set_new(o, "uncertainty_ms", json_real((double)(hi - lo) / 2e6));
        json_object_set_new(o, "lo_ms", json_real((double)lo / 1e6));
        json_object_set_new(o, "hi_ms", json_real((double)hi / 1e6));
        json_object_set_new(o, "rtt_ms_max", json_real((double)rtt_max / 1e6));
    }
    return o;
}
