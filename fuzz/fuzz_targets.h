/* fuzz_targets.h — the fuzz entry points, shared by the libFuzzer targets and tests/fuzz/test_fuzz_regress.c. */
#ifndef LINKBENCH_FUZZ_TARGETS_H
#define LINKBENCH_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Each takes any bytes and returns 0; a bug shows as a crash, a sanitizer report or
 * abort() on a broken invariant. Inputs are not NUL-terminated. */

/* ws_parse_request and ws_parse_response on the bytes, whole and cut at every length
 * the first byte picks; a head they accept must be a prefix they accept alone. */
int lb_fuzz_ws_handshake(const uint8_t *data, size_t size);

/* Bytes from a client into a server-side vsock (mem backend: a socketpair), drained
 * through the blocking or the event-loop read path in chunks the first two bytes pick. */
int lb_fuzz_vsock_frames(const uint8_t *data, size_t size);

/* The same bytes read in place (vsock_read_inplace: a small shared buffer, recv chunks
 * and the handler's stop answers picked by the first three bytes) and through wslay
 * (vsock_read): both must hand over the same messages, in the same order. */
int lb_fuzz_vsock_inplace(const uint8_t *data, size_t size);

/* The bytes as a scenario file: JSON, scn_parse_json, scn_validate; a scenario that
 * validates must survive scn_to_json and re-parse to the same JSON. */
int lb_fuzz_scn(const uint8_t *data, size_t size);

/* Target name -> entry point, NULL if unknown (names are fuzz/<name>.c without fuzz_). */
typedef int (*lb_fuzz_fn)(const uint8_t *data, size_t size);
lb_fuzz_fn lb_fuzz_lookup(const char *name);

#endif
