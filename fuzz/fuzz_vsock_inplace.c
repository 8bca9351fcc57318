/* fuzz_vsock_inplace.c — libFuzzer target: the same client bytes read in place and through wslay must give the same messages. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return lb_fuzz_vsock_inplace(data, size);
}
