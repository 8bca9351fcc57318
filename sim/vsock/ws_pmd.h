/* ws_pmd.h — permessage-deflate (RFC 7692) negotiation: parse and build Sec-WebSocket-Extensions values (pure functions). */
#ifndef LINKBENCH_WS_PMD_H
#define LINKBENCH_WS_PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parameters of one permessage-deflate offer or agreement (RFC 7692 §7.1). Window bits
 * are 9..15: zlib's raw deflate cannot keep a window of 2^8 (deflateInit2 refuses -8),
 * so an offer that needs the server to compress with 8 is declined, and a client told
 * to compress with 8 fails the connection (§7.1.2.2: it cannot comply). */
struct ws_pmd {
    bool server_no_context_takeover;   /* the server resets its compressor per message */
    bool client_no_context_takeover;   /* the client resets its compressor per message */
    uint8_t server_max_window_bits;    /* the server's LZ77 window, 15 when not said */
    uint8_t client_max_window_bits;    /* the client's, 15 when not said */
    bool client_max_window_bits_ok;    /* offer only: the client accepts a limit on its window */
};

/* Server modes: what the server answers to an acceptable offer. */
enum ws_pmd_mode {
    WS_PMD_OFF = 0,          /* no extension: offers are ignored (RFC 6455 §9.1) */
    WS_PMD_TAKEOVER = 1,     /* accept, with context takeover unless the client asks otherwise */
    WS_PMD_NO_TAKEOVER = 2   /* accept, both sides reset per message (server_ and
                              * client_no_context_takeover in the answer, §7.1.1) */
};

/* Server: the first acceptable permessage-deflate offer in one Sec-WebSocket-Extensions
 * value (a comma-separated list; other extensions are skipped). An offer is declined
 * (§7: "decline an offer that it does not support") when a parameter is unknown, given
 * twice, has a value where none is allowed, lacks one where one is required, or has a
 * value outside 8..15 (8 only for client_max_window_bits). Returns 1 with *out, 0 when no
 * offer was acceptable (*why, if not NULL, says why the first permessage-deflate offer
 * was declined, or NULL when there was none). */
int ws_pmd_pick_offer(const char *val, size_t n, struct ws_pmd *out, const char **why);

/* Server: the agreement for an accepted offer under a mode (!= WS_PMD_OFF): the offer's
 * requests honoured, the mode's added. */
void ws_pmd_agree(const struct ws_pmd *offer, enum ws_pmd_mode mode, struct ws_pmd *agreed);

/* The response's extension value for an agreement ("permessage-deflate; ..."), NUL-
 * terminated: its length, or -ENOSPC. */
int ws_pmd_format_answer(char *buf, size_t cap, const struct ws_pmd *agreed);

/* Client: the offer for a mode (!= WS_PMD_OFF): "permessage-deflate;
 * client_max_window_bits" and, for WS_PMD_NO_TAKEOVER, both no_context_takeover
 * parameters. Its length, or -ENOSPC. */
int ws_pmd_format_offer(char *buf, size_t cap, enum ws_pmd_mode mode);

/* Client: check the server's answer (one Sec-WebSocket-Extensions value) to an offer made
 * with ws_pmd_format_offer: exactly one permessage-deflate element, parameters known, once
 * each, values valid and a window this side can keep. 0 with *out, -EPROTO with *why
 * (the client then fails the connection, §7.1). */
int ws_pmd_parse_answer(const char *val, size_t n, struct ws_pmd *out, const char **why);

#endif
