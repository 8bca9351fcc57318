/* fuzz_vsock_frames.c — libFuzzer target: client bytes into a server-side vsock over the mem backend. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return lb_fuzz_vsock_frames(data, size);
}
