/* ws_handshake.h — the HTTP/1.1 upgrade of RFC 6455 §4: parse and build requests and responses (pure functions). */
#ifndef LINKBENCH_WS_HANDSHAKE_H
#define LINKBENCH_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_pmd.h"

#define WS_KEY_LEN 24              /* base64 of a 16-byte nonce */
#define WS_ACCEPT_LEN 28           /* base64 of a SHA-1 digest */
#define WS_HS_MAX_BYTES 8192       /* a request or response head longer than this is refused */

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). out gets a NUL.
 * Returns 0, -EINVAL (key longer than 64 bytes). */
int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* Sec-WebSocket-Key from 16 random bytes. out gets a NUL. */
void ws_make_key(const uint8_t nonce[16], char out[WS_KEY_LEN + 1]);

/* What the server needs from a request. */
struct ws_request {
    char key[WS_KEY_LEN + 1];
    const char *error;          /* static text: why the request was refused */
    bool pmd;                   /* an acceptable permessage-deflate offer was made ... */
    struct ws_pmd pmd_offer;    /* ... the first one (ws_pmd_pick_offer) */
    const char *pmd_declined;   /* why the first permessage-deflate offer was declined,
                                 * when none was acceptable (NULL: none was made) */
};

/* Parse a client's upgrade request head (buf need not be NUL-terminated).
 * Returns the head's length (through the blank line) when complete and valid: bytes
 * after it are already WebSocket frames; 0 when more bytes are needed; -EPROTO when
 * invalid (r->error says why); -E2BIG when no blank line within WS_HS_MAX_BYTES. */
int ws_parse_request(const char *buf, size_t len, struct ws_request *r);

/* Parse a server's answer to a request sent with a key whose accept value is
 * `accept`. Returns the head's length, 0 more bytes needed, -EPROTO (*error says why),
 * -E2BIG as above. */
int ws_parse_response(const char *buf, size_t len, const char *accept, const char **error);
/* The same for a request that offered permessage-deflate (offered): an answer that accepts
 * it is checked (ws_pmd_parse_answer) and gives *pmd_on = true and *agreed; one that
 * does not gives *pmd_on = false. Without an offer any extension is refused. */
int ws_parse_response_ext(const char *buf, size_t len, const char *accept, bool offered,
                          bool *pmd_on, struct ws_pmd *agreed, const char **error);

/* Builders: write a head into buf (cap bytes, NUL-terminated) and return its length
 * without the NUL, or -ENOSPC. */
int ws_build_request(char *buf, size_t cap, const char *host, const char *path,
                     const char key[WS_KEY_LEN + 1]);
int ws_build_response(char *buf, size_t cap, const char accept[WS_ACCEPT_LEN + 1]);
/* With a Sec-WebSocket-Extensions header carrying ext (the request's: an offer; the
 * response's: an answer), none when ext is NULL. */
int ws_build_request_ext(char *buf, size_t cap, const char *host, const char *path,
                         const char key[WS_KEY_LEN + 1], const char *ext);
int ws_build_response_ext(char *buf, size_t cap, const char accept[WS_ACCEPT_LEN + 1],
                          const char *ext);
int ws_build_bad_request(char *buf, size_t cap, const char *why);

#endif
