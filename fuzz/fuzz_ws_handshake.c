/* fuzz_ws_handshake.c — libFuzzer target: the HTTP upgrade parser (sim/vsock/ws_handshake.h). */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return lb_fuzz_ws_handshake(data, size);
}
