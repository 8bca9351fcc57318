/* fuzz_scn.c — libFuzzer target: the scenario loader (sim/scn/scn.h): parse and validate any JSON text. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return lb_fuzz_scn(data, size);
}
