/* test_ws_handshake.c — the HTTP/1.1 upgrade parser and builders against RFC 6455 and hostile input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ws_handshake.h"

static const char GOOD[] = "GET /chat HTTP/1.1\r\n"
                           "Host: server.example.com\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Origin: http://example.com\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n";

static int parse(const char *s, struct ws_request *r)
{
    return ws_parse_request(s, strlen(s), r);
}

Test(ws_handshake, rfc6455_accept_vector)
{
    char out[WS_ACCEPT_LEN + 1];
    cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws_handshake, valid_request_gives_head_length_and_key)
{
    struct ws_request r;
    cr_assert_eq(parse(GOOD, &r), (int)strlen(GOOD));
    cr_assert_str_eq(r.key, "dGhlIHNhbXBsZSBub25jZQ==");
    cr_assert_null(r.error);
}

Test(ws_handshake, bytes_after_the_head_are_not_consumed)
{
    char buf[1024];
    size_t n = strlen(GOOD);
    memcpy(buf, GOOD, n);
    memcpy(buf + n, "\x81\x85", 2);   /* a frame right behind the request */
    struct ws_request r;
    cr_assert_eq(ws_parse_request(buf, n + 2, &r), (int)n);
}

Test(ws_handshake, headers_split_across_reads_need_more_until_complete)
{
    struct ws_request r;
    size_t n = strlen(GOOD);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ws_parse_request(GOOD, i, &r), 0, "prefix of %zu bytes", i);
    cr_assert_eq(ws_parse_request(GOOD, n, &r), (int)n);
}

Test(ws_handshake, header_names_and_tokens_are_case_insensitive)
{
    const char *req = "GET / HTTP/1.1\r\nhost: a\r\nUPGRADE: WebSocket\r\nconnection: UPGRADE\r\n"
                      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION:13\r\n\r\n";
    struct ws_request r;
    cr_assert_gt(parse(req, &r), 0, "%s", r.error ? r.error : "");
}

Test(ws_handshake, connection_keep_alive_upgrade_list_is_accepted)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      "Connection: keep-alive, Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_gt(parse(req, &r), 0);
}

Test(ws_handshake, connection_keep_alive_alone_is_refused)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
    cr_assert(strstr(r.error, "Connection"));
}

Test(ws_handshake, missing_upgrade_is_refused)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
    cr_assert(strstr(r.error, "Upgrade"));
}

Test(ws_handshake, missing_key_is_refused)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
    cr_assert(strstr(r.error, "Key"));
}

Test(ws_handshake, malformed_key_is_refused)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
}

Test(ws_handshake, wrong_version_is_refused)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
    cr_assert(strstr(r.error, "Version"));
}

Test(ws_handshake, not_get_is_refused)
{
    const char *req = "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct ws_request r;
    cr_assert_eq(parse(req, &r), -EPROTO);
    cr_assert(strstr(r.error, "GET"));
}

Test(ws_handshake, http_1_0_and_missing_host_are_refused)
{
    struct ws_request r;
    cr_assert_eq(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &r), -EPROTO);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -EPROTO);
    cr_assert(strstr(r.error, "Host"));
}

Test(ws_handshake, garbage_is_refused_before_a_blank_line)
{
    struct ws_request r;
    cr_assert_eq(ws_parse_request("\x16\x03\x01\x02", 4, &r), -EPROTO);   /* a TLS hello */
    cr_assert_eq(ws_parse_request("HEL", 3, &r), -EPROTO);
    cr_assert_eq(ws_parse_request("GE", 2, &r), 0);   /* could still become GET */
}

Test(ws_handshake, header_line_without_colon_is_refused)
{
    struct ws_request r;
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost a\r\n\r\n", &r), -EPROTO);
}

Test(ws_handshake, endless_head_is_refused)
{
    static char big[WS_HS_MAX_BYTES + 10];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    struct ws_request r;
    cr_assert_eq(ws_parse_request(big, sizeof big, &r), -E2BIG);
}

Test(ws_handshake, request_and_response_round_trip)
{
    uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char key[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1], req[512], resp[512];
    ws_make_key(nonce, key);
    cr_assert_eq(strlen(key), WS_KEY_LEN);
    int n = ws_build_request(req, sizeof req, "h", "/p", key);
    cr_assert_gt(n, 0);
    struct ws_request r;
    cr_assert_eq(ws_parse_request(req, (size_t)n, &r), n);
    cr_assert_str_eq(r.key, key);
    ws_accept_key(r.key, WS_KEY_LEN, acc);
    int m = ws_build_response(resp, sizeof resp, acc);
    const char *why;
    cr_assert_eq(ws_parse_response(resp, (size_t)m, acc, &why), m);
    cr_assert_eq(ws_parse_response(resp, (size_t)m - 1, acc, &why), 0);
}

Test(ws_handshake, response_with_wrong_accept_or_status_is_refused)
{
    char resp[512];
    const char *why;
    int m = ws_build_response(resp, sizeof resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_assert_eq(ws_parse_response(resp, (size_t)m, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &why), -EPROTO);
    cr_assert(strstr(why, "Accept"));
    m = ws_build_bad_request(resp, sizeof resp, "nope");
    cr_assert_eq(ws_parse_response(resp, (size_t)m, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &why), -EPROTO);
}

Test(ws_handshake, bad_request_says_400_and_why)
{
    char buf[256];
    int n = ws_build_bad_request(buf, sizeof buf, "missing Host");
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
    cr_assert(strstr(buf, "\r\n\r\nmissing Host\n"));
    cr_assert_eq(ws_build_bad_request(buf, 16, "x"), -ENOSPC);
}
