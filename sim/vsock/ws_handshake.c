/* ws_handshake.c — RFC 6455 opening handshake: strict enough to refuse garbage, lenient where HTTP allows. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws_handshake.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char cat[64 + sizeof GUID], md[SHA_DIGEST_LENGTH];
    if (key_len > 64)
        return -EINVAL;
    memcpy(cat, key, key_len);
    memcpy(cat + key_len, GUID, sizeof GUID - 1);
    SHA1(cat, key_len + sizeof GUID - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);   /* writes 28 + NUL */
    return 0;
}

void ws_make_key(const uint8_t nonce[16], char out[WS_KEY_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)out, nonce, 16);
}

/* ---------------------------------------------------------------- parsing helpers */

/* The end of the head: index just past "\r\n\r\n", 0 if not there yet. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* Does a comma-separated header value contain `tok` (case-insensitive)?
 * "Connection: keep-alive, Upgrade" must match "upgrade". */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (is_ws(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ws(v[e - 1]))
            e--;
        if (e - s == tl && !strncasecmp(v + s, tok, tl))
            return true;
    }
    return false;
}

static bool value_is(const char *v, size_t n, const char *want)
{
    return n == strlen(want) && !strncasecmp(v, want, n);
}

/* One header line: name and value (trimmed). Returns false on a malformed line. */
static bool split_header(const char *l, size_t n, const char **name, size_t *nl,
                         const char **val, size_t *vl)
{
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l || is_ws(l[0]))
        return false;
    *name = l;
    *nl = (size_t)(colon - l);
    for (size_t i = 0; i < *nl; i++)
        if (is_ws(l[i]) || (unsigned char)l[i] < 33 || (unsigned char)l[i] > 126)
            return false;
    const char *v = colon + 1, *end = l + n;
    while (v < end && is_ws(*v))
        v++;
    while (end > v && is_ws(end[-1]))
        end--;
    *val = v;
    *vl = (size_t)(end - v);
    return true;
}

/* Visit each header line of a head of length hl (first line already skipped at off).
 * Calls fn for each; stops at the blank line. Returns false on a malformed line. */
typedef void (*header_fn)(void *arg, const char *name, size_t nl, const char *val, size_t vl);
static bool each_header(const char *buf, size_t off, size_t hl, header_fn fn, void *arg)
{
    while (off + 2 <= hl) {
        const char *l = buf + off;
        const char *crlf = memchr(l, '\r', hl - off);
        if (!crlf || crlf[1] != '\n')
            return false;
        size_t n = (size_t)(crlf - l);
        if (n == 0)
            return true;   /* blank line: end of head */
        const char *name, *val;
        size_t nl, vl;
        if (!split_header(l, n, &name, &nl, &val, &vl))
            return false;
        fn(arg, name, nl, val, vl);
        off += n + 2;
    }
    return false;
}

/* ---------------------------------------------------------------- request */

struct req_seen {
    bool host, upgrade, connection, version_ok, version_seen, key_ok;
    char key[WS_KEY_LEN + 1];
    bool pmd;
    struct ws_pmd pmd_offer;
    const char *pmd_declined;
};

static void req_header(void *arg, const char *name, size_t nl, const char *val, size_t vl)
{
    struct req_seen *s = arg;
#define IS(h) (nl == sizeof(h) - 1 && !strncasecmp(name, h, nl))
    if (IS("Host"))
        s->host = vl > 0;
    else if (IS("Upgrade"))
        s->upgrade = has_token(val, vl, "websocket");
    else if (IS("Connection"))
        s->connection = has_token(val, vl, "upgrade");
    else if (IS("Sec-WebSocket-Version")) {
        s->version_seen = true;
        s->version_ok = value_is(val, vl, "13");
    } else if (IS("Sec-WebSocket-Key")) {
        /* 16 bytes in base64: 22 significant characters and "==". */
        s->key_ok = vl == WS_KEY_LEN && val[22] == '=' && val[23] == '=';
        for (size_t i = 0; s->key_ok && i < 22; i++) {
            char c = val[i];
            s->key_ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';
        }
        if (s->key_ok) {
            memcpy(s->key, val, WS_KEY_LEN);
            s->key[WS_KEY_LEN] = 0;
        }
    } else if (IS("Sec-WebSocket-Extensions") && !s->pmd) {
        /* several lines are one list in order (RFC 9110 §5.3): the first acceptable
         * offer of the first line that has one is the list's first */
        const char *why;
        s->pmd = ws_pmd_pick_offer(val, vl, &s->pmd_offer, &why) == 1;
        if (!s->pmd_declined)
            s->pmd_declined = why;
    }
#undef IS
}

int ws_parse_request(const char *buf, size_t len, struct ws_request *r)
{
    r->error = NULL;
    r->key[0] = 0;
    r->pmd = false;
    r->pmd_declined = NULL;
    size_t hl = head_end(buf, len < WS_HS_MAX_BYTES ? len : WS_HS_MAX_BYTES);
    if (!hl) {
        if (len >= WS_HS_MAX_BYTES) {
            r->error = "request head too long";
            return -E2BIG;
        }
        /* Refuse early what can never become a request, so garbage is answered at once. */
        size_t n = len < 4 ? len : 4;
        if (n && strncmp(buf, "GET ", n)) {
            r->error = "not a GET request";
            return -EPROTO;
        }
        return 0;
    }
    /* Request line: GET SP target SP HTTP/1.x (x >= 1). */
    const char *eol = memchr(buf, '\r', hl);
    size_t ll = (size_t)(eol - buf);
    if (ll < 4 || strncmp(buf, "GET ", 4)) {
        r->error = "not a GET request";
        return -EPROTO;
    }
    const char *sp = memchr(buf + 4, ' ', ll - 4);
    if (!sp || sp == buf + 4 || buf[4] != '/') {
        r->error = "bad request target";
        return -EPROTO;
    }
    size_t vl = (size_t)(eol - (sp + 1));
    if (vl != 8 || strncmp(sp + 1, "HTTP/1.", 7) || sp[8] < '1' || sp[8] > '9') {
        r->error = "not HTTP/1.1";
        return -EPROTO;
    }
    struct req_seen s = {0};
    if (!each_header(buf, ll + 2, hl, req_header, &s)) {
        r->error = "malformed header line";
        return -EPROTO;
    }
    if (!s.host)
        r->error = "missing Host";
    else if (!s.upgrade)
        r->error = "missing Upgrade: websocket";
    else if (!s.connection)
        r->error = "missing Connection: Upgrade";
    else if (!s.version_ok)
        r->error = s.version_seen ? "unsupported Sec-WebSocket-Version (want 13)"
                                  : "missing Sec-WebSocket-Version";
    else if (!s.key_ok)
        r->error = "missing or malformed Sec-WebSocket-Key";
    if (r->error)
        return -EPROTO;
    memcpy(r->key, s.key, sizeof r->key);
    r->pmd = s.pmd;
    r->pmd_offer = s.pmd_offer;
    r->pmd_declined = s.pmd ? NULL : s.pmd_declined;
    return (int)hl;
}

/* ---------------------------------------------------------------- response */

struct resp_seen {
    bool upgrade, connection, accept_ok, extensions;
    const char *accept;
    bool offered;               /* the request offered permessage-deflate */
    bool pmd;                   /* the answer accepts it (pmd_why NULL) */
    struct ws_pmd agreed;
    const char *pmd_why;        /* why the answer is unacceptable */
};

static void resp_header(void *arg, const char *name, size_t nl, const char *val, size_t vl)
{
    struct resp_seen *s = arg;
#define IS(h) (nl == sizeof(h) - 1 && !strncasecmp(name, h, nl))
    if (IS("Upgrade"))
        s->upgrade = has_token(val, vl, "websocket");
    else if (IS("Connection"))
        s->connection = has_token(val, vl, "upgrade");
    else if (IS("Sec-WebSocket-Accept"))
        s->accept_ok = vl == WS_ACCEPT_LEN && !memcmp(val, s->accept, WS_ACCEPT_LEN);
    else if (IS("Sec-WebSocket-Extensions") && vl > 0) {
        if (!s->offered || s->extensions)   /* nothing offered; or a second line */
            s->pmd_why = s->offered ? "the server accepted more than one extension"
                                    : "server accepted an extension we did not offer";
        else if (ws_pmd_parse_answer(val, vl, &s->agreed, &s->pmd_why) == 0)
            s->pmd = true;
        s->extensions = true;
    }
#undef IS
}

int ws_parse_response(const char *buf, size_t len, const char *accept, const char **error)
{
    bool on;
    struct ws_pmd a;
    return ws_parse_response_ext(buf, len, accept, false, &on, &a, error);
}

int ws_parse_response_ext(const char *buf, size_t len, const char *accept, bool offered,
                          bool *pmd_on, struct ws_pmd *agreed, const char **error)
{
    *error = NULL;
    *pmd_on = false;
    size_t hl = head_end(buf, len < WS_HS_MAX_BYTES ? len : WS_HS_MAX_BYTES);
    if (!hl) {
        if (len >= WS_HS_MAX_BYTES) {
            *error = "response head too long";
            return -E2BIG;
        }
        return 0;
    }
    const char *eol = memchr(buf, '\r', hl);
    size_t ll = (size_t)(eol - buf);
    if (ll < 12 || strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 101", 4)) {
        *error = "status is not 101";
        return -EPROTO;
    }
    struct resp_seen s = {.accept = accept, .offered = offered};
    if (!each_header(buf, ll + 2, hl, resp_header, &s))
        *error = "malformed header line";
    else if (!s.upgrade || !s.connection)
        *error = "missing Upgrade/Connection";
    else if (!s.accept_ok)
        *error = "wrong Sec-WebSocket-Accept";
    else if (s.pmd_why)
        *error = s.pmd_why;
    if (*error)
        return -EPROTO;
    *pmd_on = s.pmd;
    if (s.pmd)
        *agreed = s.agreed;
    return (int)hl;
}

/* ---------------------------------------------------------------- builders */

static int fit(int n, size_t cap)
{
    return (n < 0 || (size_t)n >= cap) ? -ENOSPC : n;
}

int ws_build_request(char *buf, size_t cap, const char *host, const char *path,
                     const char key[WS_KEY_LEN + 1])
{
    return ws_build_request_ext(buf, cap, host, path, key, NULL);
}

int ws_build_request_ext(char *buf, size_t cap, const char *host, const char *path,
                         const char key[WS_KEY_LEN + 1], const char *ext)
{
    return fit(snprintf(buf, cap,
                        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                        path && *path ? path : "/", host && *host ? host : "localhost", key,
                        ext ? "Sec-WebSocket-Extensions: " : "", ext ? ext : "",
                        ext ? "\r\n" : ""),
               cap);
}

int ws_build_response(char *buf, size_t cap, const char accept[WS_ACCEPT_LEN + 1])
{
    return ws_build_response_ext(buf, cap, accept, NULL);
}

int ws_build_response_ext(char *buf, size_t cap, const char accept[WS_ACCEPT_LEN + 1],
                          const char *ext)
{
    /* Date (RFC 9110 §6.6.1: an origin server with a clock sends it): a sharded run's
     * hosts bound their clocks' offsets by it (run_shard_clock.c) */
    char date[40];
    /* not time(): on Linux it reads the coarse clock, up to a tick behind at a second's
     * edge, and a Date one second early put a probe's bound below the true offset (a
     * shard test on one host saw hi_ms < 0) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t now = ts.tv_sec;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return fit(snprintf(buf, cap,
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nDate: %s\r\n"
                        "%s%s%s\r\n",
                        accept, date, ext ? "Sec-WebSocket-Extensions: " : "", ext ? ext : "",
                        ext ? "\r\n" : ""),
               cap);
}

int ws_build_bad_request(char *buf, size_t cap, const char *why)
{
    if (!why)
        why = "bad request";
    /* Sec-WebSocket-Version tells a client with another version what we speak (§4.4). */
    return fit(snprintf(buf, cap,
                        "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n"
                        "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s\n",
                        strlen(why) + 1, why),
               cap);
}
