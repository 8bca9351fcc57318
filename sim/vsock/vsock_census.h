/* vsock_census.h — what one socket holds at a moment (its own buffers and the kernel's queues), for the harness's accounting at the end of a run; not for variants. */
#ifndef LINKBENCH_VSOCK_CENSUS_H
#define LINKBENCH_VSOCK_CENSUS_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock.h"

/* Counts are messages (whole WebSocket data messages) or bytes, as named. A message is
 * in the socket path from the moment its frame is put in the sender's output buffer
 * (msgs_out) until the receiver has decoded its last byte (msgs_in): so the messages
 * between two connected sockets are a.msgs_out - b.msgs_in, and a partly received
 * frame counts there, once. The kernel's queues say where those bytes are:
 * a.bytes_out - b.bytes_in == a.kernel_out_bytes + b.kernel_in_bytes once nothing
 * moves (a check the accounting makes, never an assumption). */
typedef struct vsock_census {
    bool tcp;                    /* an AF_INET stream (else the mem backend's socketpair) */
    bool fd_open;                /* false once the fd is closed: the kernel figures are 0 */
    uint32_t local_ip, peer_ip;  /* host order (tcp only) */
    uint16_t local_port, peer_port;
    int64_t msgs_in;             /* data messages decoded since the socket was made */
    int64_t msgs_out;            /* data messages framed into its output since made */
    int64_t inbox_msgs;          /* decoded, not yet taken by its owner (vsock_read/poll_msg) */
    int64_t rx_partial_bytes;    /* payload of a message being decoded, not yet whole (read
                                  * in place: also the bytes of frames kept, not yet handed
                                  * over) */
    int64_t out_bytes;           /* framed, not yet written to the kernel */
    int64_t bytes_in, bytes_out; /* read from / written to the kernel since made */
    int64_t kernel_in_bytes;     /* SIOCINQ: arrived, not yet read */
    int64_t kernel_out_bytes;    /* SIOCOUTQNSD: written, not yet sent to the peer (tcp;
                                  * a unix socket hands bytes to its peer at once: 0) */
} vsock_census;

/* The census of s (its lock taken for the buffers; two ioctls). 0, or -EBADF when its
 * fd is already closed (buffers still filled in, kernel figures 0). */
int vsock_census_get(vsock *s, vsock_census *out);

/* fn(arg, s, census) for every live socket of the process. The socket registry is
 * locked meanwhile, so none is destroyed: fn may compare s with pointers it keeps but
 * must not call into the registry (vsock_destroy, vsock_get_totals). */
void vsock_census_each(void (*fn)(void *arg, vsock *s, const vsock_census *c), void *arg);

#endif
