/* test_ws_pmd.c — permessage-deflate negotiation: which offers a server accepts or declines, what it answers, what a client accepts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ws_handshake.h"
#include "ws_pmd.h"

static int pick(const char *v, struct ws_pmd *o, const char **why)
{
    return ws_pmd_pick_offer(v, strlen(v), o, why);
}

Test(ws_pmd, the_plain_offer_is_accepted_with_full_windows)
{
    struct ws_pmd o;
    cr_assert_eq(pick("permessage-deflate", &o, NULL), 1);
    cr_assert_not(o.server_no_context_takeover);
    cr_assert_not(o.client_no_context_takeover);
    cr_assert_eq(o.server_max_window_bits, 15);
    cr_assert_eq(o.client_max_window_bits, 15);
    cr_assert_not(o.client_max_window_bits_ok);
}

Test(ws_pmd, every_parameter_is_read_quoted_or_not)
{
    struct ws_pmd o;
    cr_assert_eq(pick("permessage-deflate; server_no_context_takeover ;client_no_context_takeover;"
                      " server_max_window_bits=\"10\"; client_max_window_bits = 9", &o, NULL), 1);
    cr_assert(o.server_no_context_takeover);
    cr_assert(o.client_no_context_takeover);
    cr_assert_eq(o.server_max_window_bits, 10);
    cr_assert_eq(o.client_max_window_bits, 9);
    cr_assert(o.client_max_window_bits_ok);
    cr_assert_eq(pick("PerMessage-Deflate; client_max_window_bits", &o, NULL), 1);
    cr_assert(o.client_max_window_bits_ok);
    cr_assert_eq(o.client_max_window_bits, 15);
}

Test(ws_pmd, a_bad_offer_is_declined_with_why)
{
    static const struct { const char *v, *why; } bad[] = {
        {"permessage-deflate; foo", "unknown parameter"},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
         "parameter given twice"},
        {"permessage-deflate; client_no_context_takeover=1", "no_context_takeover takes no value"},
        {"permessage-deflate; server_max_window_bits", "server_max_window_bits needs a value in 8..15"},
        {"permessage-deflate; server_max_window_bits=16", "server_max_window_bits needs a value in 8..15"},
        {"permessage-deflate; server_max_window_bits=7", "server_max_window_bits needs a value in 8..15"},
        {"permessage-deflate; server_max_window_bits=010", "server_max_window_bits needs a value in 8..15"},
        {"permessage-deflate; server_max_window_bits=8", "server_max_window_bits=8 is not supported (zlib)"},
        {"permessage-deflate; client_max_window_bits=x", "client_max_window_bits needs a value in 8..15"},
        {"permessage-deflate;", "empty parameter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ws_pmd o;
        const char *why = NULL;
        cr_assert_eq(pick(bad[i].v, &o, &why), 0, "%s", bad[i].v);
        cr_assert_str_eq(why, bad[i].why, "%s", bad[i].v);
    }
}

Test(ws_pmd, the_first_acceptable_offer_wins_and_others_are_skipped)
{
    struct ws_pmd o;
    const char *why = NULL;
    /* the first is declined, another extension is skipped, the third is taken */
    cr_assert_eq(pick("permessage-deflate; server_max_window_bits=8, x-webkit-deflate-frame, "
                      "permessage-deflate; server_max_window_bits=11, permessage-deflate", &o, &why), 1);
    cr_assert_eq(o.server_max_window_bits, 11);
    /* nothing about permessage-deflate: none accepted, and no reason */
    cr_assert_eq(pick("x-foo; a=1, , x-bar", &o, &why), 0);
    cr_assert_null(why);
}

Test(ws_pmd, the_server_answers_what_was_asked_and_its_mode)
{
    struct ws_pmd o, a;
    char buf[160];
    cr_assert_eq(pick("permessage-deflate; client_max_window_bits", &o, NULL), 1);
    ws_pmd_agree(&o, WS_PMD_TAKEOVER, &a);
    cr_assert_gt(ws_pmd_format_answer(buf, sizeof buf, &a), 0);
    cr_assert_str_eq(buf, "permessage-deflate");
    ws_pmd_agree(&o, WS_PMD_NO_TAKEOVER, &a);
    ws_pmd_format_answer(buf, sizeof buf, &a);
    cr_assert_str_eq(buf, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    cr_assert_eq(pick("permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
                      &o, NULL), 1);
    ws_pmd_agree(&o, WS_PMD_TAKEOVER, &a);
    ws_pmd_format_answer(buf, sizeof buf, &a);
    cr_assert_str_eq(buf, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    cr_assert_eq(ws_pmd_format_answer(buf, 10, &a), -ENOSPC);
}

Test(ws_pmd, a_client_checks_the_answer)
{
    struct ws_pmd a;
    const char *why;
    const char *ok = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";
    cr_assert_eq(ws_pmd_parse_answer(ok, strlen(ok), &a, &why), 0);
    cr_assert_eq(a.server_max_window_bits, 12);
    cr_assert_eq(a.client_max_window_bits, 12);
    static const struct { const char *v, *why; } bad[] = {
        {"permessage-deflate; client_max_window_bits", "client_max_window_bits in an answer needs a value"},
        {"permessage-deflate; client_max_window_bits=8", "client_max_window_bits=8 is not supported (zlib)"},
        {"permessage-deflate, permessage-deflate", "the server accepted more than one extension"},
        {"x-foo", "the server accepted an extension we did not offer"},
        {"permessage-deflate; bar=1", "unknown parameter"},
        {" , ", "empty Sec-WebSocket-Extensions"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(ws_pmd_parse_answer(bad[i].v, strlen(bad[i].v), &a, &why), -EPROTO, "%s", bad[i].v);
        cr_assert_str_eq(why, bad[i].why, "%s", bad[i].v);
    }
    /* a server may compress with a window of 8: a full-window inflater reads it */
    const char *w8 = "permessage-deflate; server_max_window_bits=8";
    cr_assert_eq(ws_pmd_parse_answer(w8, strlen(w8), &a, &why), 0);
}

Test(ws_pmd, the_request_carries_the_offer_and_the_response_its_answer)
{
    char key[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1], req[1024], resp[512], offer[160];
    uint8_t nonce[16] = {1, 2, 3};
    ws_make_key(nonce, key);
    ws_accept_key(key, WS_KEY_LEN, acc);
    cr_assert_gt(ws_pmd_format_offer(offer, sizeof offer, WS_PMD_NO_TAKEOVER), 0);
    int n = ws_build_request_ext(req, sizeof req, "h", "/", key, offer);
    cr_assert_gt(n, 0);
    struct ws_request r;
    cr_assert_eq(ws_parse_request(req, (size_t)n, &r), n);
    cr_assert(r.pmd);
    cr_assert(r.pmd_offer.server_no_context_takeover && r.pmd_offer.client_no_context_takeover);
    /* a request without the header, and one whose only offer is declined */
    n = ws_build_request(req, sizeof req, "h", "/", key);
    cr_assert_eq(ws_parse_request(req, (size_t)n, &r), n);
    cr_assert_not(r.pmd);
    cr_assert_null(r.pmd_declined);
    n = ws_build_request_ext(req, sizeof req, "h", "/", key, "permessage-deflate; zzz");
    cr_assert_eq(ws_parse_request(req, (size_t)n, &r), n, "a declined offer is no error");
    cr_assert_not(r.pmd);
    cr_assert_str_eq(r.pmd_declined, "unknown parameter");

    struct ws_pmd a;
    bool on;
    const char *why;
    ws_pmd_agree(&r.pmd_offer, WS_PMD_TAKEOVER, &a);
    n = ws_build_response_ext(resp, sizeof resp, acc, "permessage-deflate; client_no_context_takeover");
    cr_assert_eq(ws_parse_response_ext(resp, (size_t)n, acc, true, &on, &a, &why), n);
    cr_assert(on);
    cr_assert(a.client_no_context_takeover);
    cr_assert_not(a.server_no_context_takeover);
    /* not offered: any extension in the answer fails the handshake */
    cr_assert_eq(ws_parse_response(resp, (size_t)n, acc, &why), -EPROTO);
    /* offered, not accepted: no compression */
    n = ws_build_response(resp, sizeof resp, acc);
    cr_assert_eq(ws_parse_response_ext(resp, (size_t)n, acc, true, &on, &a, &why), n);
    cr_assert_not(on);
}
