/* ws_pmd.c — permessage-deflate negotiation (RFC 7692 §5, §7): offers declined on any doubt, answers checked strictly. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws_pmd.h"

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* The next piece of v[*i..n) up to `sep` (outside a quoted string), trimmed. False at
 * the end. A quoted string may hold the separator (RFC 9110 §5.6.4). */
static bool next_piece(const char *v, size_t n, size_t *i, char sep, const char **p, size_t *pn)
{
    if (*i > n)
        return false;
    size_t s = *i, e = s;
    bool q = false;
    while (e < n && (q || v[e] != sep)) {
        if (v[e] == '"')
            q = !q;
        e++;
    }
    *i = e + 1;   /* past the separator (or past the end) */
    while (s < e && is_ws(v[s]))
        s++;
    while (e > s && is_ws(v[e - 1]))
        e--;
    *p = v + s;
    *pn = e - s;
    return true;
}

static bool eq(const char *p, size_t n, const char *lit)
{
    return n == strlen(lit) && !strncasecmp(p, lit, n);
}

/* A window-bits value: one or two digits, optionally quoted (§7.1.2.1: the value may be
 * a quoted-string holding the same token), 8..15. -1 when invalid. */
static int window_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n < 1 || n > 2 || (n == 2 && v[0] == '0'))
        return -1;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x >= 8 && x <= 15 ? x : -1;
}

enum { SEEN_SNCT = 1, SEEN_CNCT = 2, SEEN_SMWB = 4, SEEN_CMWB = 8 };

/* The parameters of one permessage-deflate element (after its name, from *i). answer:
 * the server's answer as a client reads it (values required where §7.1 requires them in a
 * response, and a window of 8 this side must use is refused); otherwise an offer as a
 * server reads it. NULL, or why the element is unacceptable. */
static const char *parse_params(const char *e, size_t n, size_t i, bool answer, struct ws_pmd *out)
{
    memset(out, 0, sizeof *out);
    out->server_max_window_bits = out->client_max_window_bits = 15;
    unsigned seen = 0;
    const char *p;
    size_t pn;
    while (next_piece(e, n, &i, ';', &p, &pn)) {
        if (!pn)
            return "empty parameter";
        const char *eqs = memchr(p, '=', pn);
        size_t kn = eqs ? (size_t)(eqs - p) : pn;
        while (kn && is_ws(p[kn - 1]))
            kn--;
        const char *v = NULL;
        size_t vn = 0;
        if (eqs) {
            v = eqs + 1;
            vn = pn - (size_t)(v - p);
            while (vn && is_ws(*v)) {
                v++;
                vn--;
            }
        }
        unsigned bit;
        if (eq(p, kn, "server_no_context_takeover"))
            bit = SEEN_SNCT;
        else if (eq(p, kn, "client_no_context_takeover"))
            bit = SEEN_CNCT;
        else if (eq(p, kn, "server_max_window_bits"))
            bit = SEEN_SMWB;
        else if (eq(p, kn, "client_max_window_bits"))
            bit = SEEN_CMWB;
        else
            return "unknown parameter";
        if (seen & bit)
            return "parameter given twice";
        seen |= bit;
        if (bit == SEEN_SNCT || bit == SEEN_CNCT) {
            if (eqs)
                return "no_context_takeover takes no value";
            if (bit == SEEN_SNCT)
                out->server_no_context_takeover = true;
            else
                out->client_no_context_takeover = true;
            continue;
        }
        int w = eqs ? window_bits(v, vn) : -1;
        if (bit == SEEN_SMWB) {
            if (w < 0)
                return "server_max_window_bits needs a value in 8..15";
            /* the server compresses with it: zlib's raw deflate keeps no window of 256 */
            if (w == 8 && !answer)
                return "server_max_window_bits=8 is not supported (zlib)";
            out->server_max_window_bits = (uint8_t)w;
            continue;
        }
        /* client_max_window_bits: in an offer the value is optional (a hint), in an
         * answer required (§7.1.2.2) */
        if (eqs && w < 0)
            return "client_max_window_bits needs a value in 8..15";
        if (!eqs && answer)
            return "client_max_window_bits in an answer needs a value";
        if (answer && w == 8)
            return "client_max_window_bits=8 is not supported (zlib)";
        out->client_max_window_bits_ok = true;
        if (eqs)
            out->client_max_window_bits = (uint8_t)w;
    }
    return NULL;
}

int ws_pmd_pick_offer(const char *val, size_t n, struct ws_pmd *out, const char **why)
{
    if (why)
        *why = NULL;
    size_t i = 0;
    const char *el;
    size_t en;
    while (next_piece(val, n, &i, ',', &el, &en)) {
        size_t j = 0;
        const char *name;
        size_t nn;
        if (!en || !next_piece(el, en, &j, ';', &name, &nn) || !eq(name, nn, "permessage-deflate"))
            continue;   /* another extension, or an empty list element (RFC 9110 §5.6.1) */
        struct ws_pmd o;
        const char *w = parse_params(el, en, j, false, &o);
        if (!w) {
            *out = o;
            return 1;
        }
        if (why && !*why)
            *why = w;
    }
    return 0;
}

void ws_pmd_agree(const struct ws_pmd *offer, enum ws_pmd_mode mode, struct ws_pmd *agreed)
{
    memset(agreed, 0, sizeof *agreed);
    bool none = mode == WS_PMD_NO_TAKEOVER;
    agreed->server_no_context_takeover = offer->server_no_context_takeover || none;
    agreed->client_no_context_takeover = offer->client_no_context_takeover || none;
    agreed->server_max_window_bits = offer->server_max_window_bits;
    /* the server inflates with a full window whatever the client uses, so it never
     * limits the client's (client_max_window_bits stays unsaid in the answer) */
    agreed->client_max_window_bits = 15;
}

static int fit(int n, size_t cap)
{
    return (n < 0 || (size_t)n >= cap) ? -ENOSPC : n;
}

int ws_pmd_format_answer(char *buf, size_t cap, const struct ws_pmd *a)
{
    char smwb[32] = "";
    if (a->server_max_window_bits != 15)
        snprintf(smwb, sizeof smwb, "; server_max_window_bits=%u", a->server_max_window_bits);
    char cmwb[32] = "";
    if (a->client_max_window_bits != 15)
        snprintf(cmwb, sizeof cmwb, "; client_max_window_bits=%u", a->client_max_window_bits);
    return fit(snprintf(buf, cap, "permessage-deflate%s%s%s%s",
                        a->server_no_context_takeover ? "; server_no_context_takeover" : "",
                        a->client_no_context_takeover ? "; client_no_context_takeover" : "",
                        smwb, cmwb),
               cap);
}

int ws_pmd_format_offer(char *buf, size_t cap, enum ws_pmd_mode mode)
{
    return fit(snprintf(buf, cap, "permessage-deflate%s; client_max_window_bits",
                        mode == WS_PMD_NO_TAKEOVER
                            ? "; server_no_context_takeover; client_no_context_takeover"
                            : ""),
               cap);
}

int ws_pmd_parse_answer(const char *val, size_t n, struct ws_pmd *out, const char **why)
{
    *why = NULL;
    size_t i = 0, j = 0;
    const char *el, *name;
    size_t en, nn;
    int count = 0;
    while (next_piece(val, n, &i, ',', &el, &en)) {
        if (!en)
            continue;
        if (++count > 1) {
            *why = "the server accepted more than one extension";
            return -EPROTO;
        }
        j = 0;
        if (!next_piece(el, en, &j, ';', &name, &nn) || !eq(name, nn, "permessage-deflate")) {
            *why = "the server accepted an extension we did not offer";
            return -EPROTO;
        }
        if ((*why = parse_params(el, en, j, true, out)))
            return -EPROTO;
    }
    if (!count) {
        *why = "empty Sec-WebSocket-Extensions";
        return -EPROTO;
    }
    return 0;
}
