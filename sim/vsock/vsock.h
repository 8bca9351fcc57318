/* vsock.h — the virtual socket: a message-oriented WebSocket endpoint over a real fd. */
#ifndef LINKBENCH_VSOCK_H
#define LINKBENCH_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* ---------------------------------------------------------------- messages */

/* One WebSocket message. Owned by whoever holds the pointer; vsock_msg_free gives it
 * back. `next` is free for the owner's intrusive lists. */
typedef struct vsock_msg {
    struct vsock_msg *next;
    uint32_t link_id;    /* the link it came from (set by the variant/app), or goes to */
    uint32_t len;        /* bytes in data */
    uint8_t opcode;      /* VSOCK_TEXT or VSOCK_BINARY */
    rt_ns t_decoded;     /* when the server-side vsock finished decoding it */
    uint8_t data[];
} vsock_msg;

enum { VSOCK_TEXT = 1, VSOCK_BINARY = 2 };

vsock_msg *vsock_msg_new(size_t len);   /* data uninitialised; NULL on ENOMEM */
void vsock_msg_free(vsock_msg *m);      /* NULL is a no-op */

/* ---------------------------------------------------------------- sockets */

/* Threads: one reading and one writing thread may use a vsock at once (the dual design
 * does); the tcp backend serialises its protocol state with a short internal lock that
 * is never held across a wait. Event-loop use is single-threaded. */
typedef struct vsock vsock;

enum vsock_role { VSOCK_SERVER, VSOCK_CLIENT };

/* Close status codes (RFC 6455 §7.4). */
enum {
    VSOCK_CLOSE_NORMAL = 1000, VSOCK_CLOSE_GOING_AWAY = 1001, VSOCK_CLOSE_PROTOCOL = 1002,
    VSOCK_CLOSE_NO_STATUS = 1005, VSOCK_CLOSE_ABNORMAL = 1006,
    VSOCK_CLOSE_TOO_BIG = 1009, VSOCK_CLOSE_INTERNAL = 1011
};

/* permessage-deflate (RFC 7692), vsock_opts.deflate: what a server answers to a client's
 * offer, and what a client offers. Off by default. */
enum {
    VSOCK_DEFLATE_OFF = 0,
    VSOCK_DEFLATE_TAKEOVER = 1,     /* accept/offer, context takeover unless the peer asks */
    VSOCK_DEFLATE_NO_TAKEOVER = 2   /* accept/offer, both compressors reset per message */
};

typedef struct vsock_opts {
    size_t max_msg_bytes;     /* larger incoming message: close 1009 (default 16 MiB); a
                               * compressed message is checked inflated, as well as on
                               * the wire */
    int deflate;              /* VSOCK_DEFLATE_* (default off) */
    rt_ns close_timeout;      /* close handshake wait before the fd is closed (default 2 s) */
    rt_ns handshake_timeout;  /* default 10 s */
} vsock_opts;
void vsock_opts_default(vsock_opts *o);

/* Wrap a connected, non-blocking TCP fd (tcp backend). The vsock owns the fd.
 * The WebSocket handshake is still to be done: vsock_handshake or vsock_handshake_step. */
vsock *vsock_tcp_wrap(int fd, enum vsock_role role, const vsock_opts *o);

/* An in-process pair for tests (mem backend: a socketpair plus scripted I/O).
 * Both ends are already past the handshake. */
int vsock_mem_pair(vsock **server, vsock **client, const vsock_opts *o);
/* mem backend test hooks (no effect on tcp): bytes per recv/send call (0 = unlimited),
 * stop reading (the peer's writes then fill the buffer), inject a reset. */
void vsock_mem_set_chunk(vsock *s, size_t read_chunk, size_t write_chunk);
void vsock_mem_stop_reading(vsock *s, bool stop);
void vsock_mem_reset(vsock *s);

/* Blocking handshake (server: read request, answer 101 or 400; client: send request
 * with `host`/`path`, check Sec-WebSocket-Accept). 0, -ETIMEDOUT, -EPROTO, -ECONNRESET. */
int vsock_handshake(vsock *s, const char *host, const char *path, rt_ns deadline);
/* Non-blocking step for event loops: 0 done, -EAGAIN needs the fd readable (or writable
 * when vsock_want_write), other negative: failed (a 400 was sent when possible). */
int vsock_handshake_step(vsock *s, const char *host, const char *path);

/* Whether permessage-deflate was agreed in the handshake (the mem pair: by its opts):
 * data messages are then compressed per message with zlib, and each received message
 * with RSV1 is inflated. */
bool vsock_deflate_on(const vsock *s);

/* Attach a cancellation context: every blocking call on s then returns -ECANCELED
 * promptly after rt_ctx_cancel(ctx). */
void vsock_set_ctx(vsock *s, rt_ctx *ctx);

/* Go modes: what a deadline does to a frame in progress, as the seed's Go does it
 * (net.Conn deadlines under gobwas/ws: docs/seed-fidelity.md), instead of this layer's
 * repair. Set before the socket is used by more than one thread.
 * VSOCK_GO_READ: a vsock_read that times out inside a frame has consumed the frame's
 *   bytes so far and loses them (the partial message is kept for vsock_take_broken);
 *   the next read parses the following byte as a new frame header, as a fresh
 *   wsutil reader would: the rest of the broken frame then reads as garbage (mostly a
 *   protocol error, -EPROTO). Counted in frames_broken_by_deadline; the lost message
 *   counts in msgs_in (it was taken off the wire). A data message that the misread
 *   bytes happen to form is counted in garbage_msgs and discarded, not delivered.
 * VSOCK_GO_WRITE: a vsock_write that times out leaves on the wire what the kernel took,
 *   and the rest of its frame is gone; a retry writes the message again from its start,
 *   as a new frame, right after the cut one (the peer then reads a corrupted message,
 *   then garbage). Counted in frames_cut_by_deadline. */
enum { VSOCK_GO_READ = 1, VSOCK_GO_WRITE = 2 };
void vsock_set_go(vsock *s, unsigned go_flags);
/* The partial message the last timed-out vsock_read broke (VSOCK_GO_READ), owned by the
 * caller now; NULL when it broke none, or only a control frame. Its len is the payload
 * received before the deadline (possibly 0: the deadline hit inside the header). */
vsock_msg *vsock_take_broken(vsock *s);

/* Read one whole message, waiting until deadline. A frame split across several calls
 * (several deadlines) is kept and delivered intact (unless VSOCK_GO_READ).
 * Returns 0 (*out owned by caller), -ETIMEDOUT, -ECANCELED,
 * -EPIPE (the peer closed: vsock_close_code tells the code), -ECONNRESET, -EPROTO,
 * -EMSGSIZE (too big: a 1009 close was sent). Pings are answered inside. */
int vsock_read(vsock *s, vsock_msg **out, rt_ns deadline);

/* Write one message, waiting until deadline (like Go's Write with SetWriteDeadline).
 * 0 when the whole frame is in the kernel; -ETIMEDOUT leaves the unfinished frame
 * pending (VSOCK_GO_WRITE: cut, see vsock_set_go). The next vsock_write resumes it where it stopped and never re-sends it from
 * its start: if that call passes the same data pointer and length it is taken as the
 * caller's retry of that message and completes it (counted in partial_resumed);
 * otherwise the pending frame is finished first, then the new one is written.
 * A pending frame not yet started is simply replaced by the retry.
 * Other errors: -EPIPE, -ECONNRESET, -ECANCELED. */
int vsock_write(vsock *s, const void *data, size_t len, int opcode, rt_ns deadline);

/* Event-loop interface: non-blocking, never waits. */
int vsock_fd(const vsock *s);
/* Decode what the kernel has, up to max_bytes read from the fd; complete messages are
 * returned one at a time by vsock_poll_msg. 0 (possibly nothing new; -EAGAIN is not an
 * error here), -EPIPE (closed by peer; its earlier messages are still returned by
 * vsock_poll_msg), -ECONNRESET, -EPROTO, -EMSGSIZE. */
int vsock_read_nb(vsock *s, size_t max_bytes, size_t *bytes_read);
vsock_msg *vsock_poll_msg(vsock *s);          /* next decoded message or NULL */
/* Queue a message for sending (takes ownership of nothing: copies into the frame). */
int vsock_queue(vsock *s, const void *data, size_t len, int opcode);
/* Queue the messages of a list (linked by next) as one frame each, under one lock: the
 * corked replies of an event loop's read. Copies; owns none of them. Returns how many
 * were queued, in list order (fewer than all when the output limit is reached: the rest
 * are the caller's), or a negative error when none was (-EPIPE, -ECONNRESET, -ENOBUFS,
 * -ENOMEM). Each queued message's link_id is set to the bytes its frame took: that is
 * vsock_frame_bytes(len) unless permessage-deflate compressed it. */
int vsock_queue_list(vsock *s, vsock_msg *head);
/* The size of the frame vsock_queue makes of len bytes (header, mask when a client). */
size_t vsock_frame_bytes(const vsock *s, size_t len);
/* Write one message at once, from any thread, when nothing is queued before it (the
 * fast path of an event loop's send: uWS writes inline when its buffer is empty).
 * *frame_bytes gets the frame's size. 0: the whole frame is in the kernel; > 0: that
 * many bytes of it are left queued (flush on write readiness); -EAGAIN: output is
 * pending, nothing was done (queue the message behind it); -EPIPE, -ECONNRESET:
 * closed or failed; -ENOMEM. The caller serialises it with its own flushes. */
int64_t vsock_send_now(vsock *s, const void *data, size_t len, int opcode, size_t *frame_bytes);
/* Write what is pending, as one send where possible. 0 all written, -EAGAIN some left
 * (arm write readiness), other negative: error. */
int vsock_flush(vsock *s);
size_t vsock_pending_out(const vsock *s);     /* bytes queued, not yet in the kernel */

/* Reading in place, for event loops that read many sockets into one buffer: no
 * per-socket protocol context (wslay's is ~8.8 KiB), no copy out of the buffer, no lock
 * held while the handler runs. The handler gets each whole data message in order, its
 * payload in place (valid during the call only), and answers 0 (go on),
 * VSOCK_STOP_AFTER (stop after this one) or VSOCK_STOP_BEFORE (stop; this one is handed
 * over again, first, by the next call). */
enum { VSOCK_STOP_AFTER = 1, VSOCK_STOP_BEFORE = 2 };
typedef int (*vsock_msg_fn)(void *arg, uint8_t *data, size_t len, int opcode);
/* Hand over the messages of the bytes kept from the last call and, when do_read, of one
 * recv into buf (cap bytes, the caller's, shared by its sockets) after them. A frame cut
 * by the end of a read is kept by the socket (only its bytes; given back by vsock_trim
 * once nothing is half-read). Pings are answered and close frames replied to in the
 * output buffer (flush it). *bytes_read: what the recv took. 0 (maybe nothing new),
 * -EPIPE (the peer closed: its close frame, or EOF, after every message before it was
 * handed over), -ECONNRESET, -EPROTO (a 1002 or 1007 close was queued), -EMSGSIZE (1009),
 * -ENOMEM. A socket read this way is read only this way. */
int vsock_read_inplace(vsock *s, uint8_t *buf, size_t cap, bool do_read, vsock_msg_fn fn,
                       void *arg, size_t *bytes_read);
bool vsock_want_write(const vsock *s);
/* Give back buffers of an idle socket (memory per idle link). */
void vsock_trim(vsock *s);

/* Close handshake: send a close frame with `code` (waits at most close_timeout for the
 * peer's reply when blocking), then close the fd. Idempotent; safe from another thread
 * while one reader and one writer are blocked (they return -EPIPE/-ECANCELED).
 * vsock_destroy frees; the fd is closed if it was not already. */
int vsock_close(vsock *s, int code);
/* The same with the handshake's own deadline (absolute, rt_now() clock) instead of
 * close_timeout: a design whose Close sets its own write deadline (the seed's
 * DefaultCloseTimeout) passes it here. A deadline already passed still queues the
 * close frame and flushes what the kernel takes at once, then closes. Returns as
 * vsock_close. */
int vsock_close_within(vsock *s, int code, rt_ns deadline);
/* Go's close as the seed does it (WriteServerMessage(OpClose) under a write deadline, then
 * conn.Close()): write a close frame with `code` (0: no payload, the peer reads 1005)
 * after whatever output is pending, waiting for room until deadline or until wait_ctx
 * is cancelled (NULL: only the deadline), then close the fd at once, never reading the
 * peer's reply. Wakes a blocked reader and writer as vsock_close does. Idempotent.
 * 0, or -ETIMEDOUT / -ECANCELED when the frame could not be written whole. */
int vsock_close_after_frame(vsock *s, int code, rt_ns deadline, rt_ctx *wait_ctx);
void vsock_close_nb(vsock *s, int code);   /* queue a close frame; flush, then the owner destroys */
bool vsock_is_closed(const vsock *s);
int vsock_close_code(const vsock *s);      /* the peer's close code, 0 if none */
void vsock_destroy(vsock *s);              /* NULL is a no-op */

/* ---------------------------------------------------------------- counters */

typedef struct vsock_counters {
    int64_t sys_read, sys_write, sys_poll;   /* system calls by kind */
    int64_t bytes_in, bytes_out;
    int64_t frames_in, frames_out, msgs_in, msgs_out;
    int64_t read_timeouts, write_timeouts;
    int64_t partial_resumed;   /* timed-out partial frames finished by a later write */
    int64_t frames_broken_by_deadline;   /* VSOCK_GO_READ: frames a read deadline broke */
    int64_t frames_cut_by_deadline;      /* VSOCK_GO_WRITE: frames a write deadline cut short */
    int64_t garbage_msgs;      /* VSOCK_GO_READ: "messages" parsed from a torn stream's
                                * misread bytes, discarded (no client sent them) */
    int64_t pings_answered;
    /* payload of data messages, uncompressed (as given to write/queue, as delivered):
     * beside bytes_in/bytes_out it says what framing and compression did to it */
    int64_t payload_in, payload_out;
    /* permessage-deflate: messages compressed, and their payload on the wire (without
     * the 0x00 0x00 0xff 0xff tail RFC 7692 §7.2.1 strips) */
    int64_t zmsgs_in, zmsgs_out, zbytes_in, zbytes_out;
} vsock_counters;

/* Buffers live sockets of one role hold right now (gauges: they fall when a buffer is
 * given back, by a flush, vsock_trim or vsock_destroy). What an idle socket should hold:
 * none. */
typedef struct vsock_buffers {
    int64_t out_bufs, out_bytes;       /* output buffers (allocated capacity) */
    int64_t carry_bufs, carry_bytes;   /* kept bytes of cut frames (in-place reading) */
    int64_t ws_contexts;               /* wslay contexts (~8.8 KiB each) */
} vsock_buffers;
void vsock_get_buffers(enum vsock_role role, vsock_buffers *out);

/* Counters of one socket, and process-wide totals (all sockets, live and destroyed). */
void vsock_get_counters(const vsock *s, vsock_counters *out);
void vsock_get_totals(vsock_counters *out);

#endif
