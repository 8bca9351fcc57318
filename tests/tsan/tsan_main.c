/* tsan_main.c — entry of the ThreadSanitizer runner: tsan_runner rt | vsock | driver | variants [name]. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tsan.h"

atomic_int ts_failures;

static int usage(void)
{
    fprintf(stderr, "usage: tsan_runner rt | vsock | driver | variants [name-or-path] | all\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* a peer that goes away mid-write must give EPIPE, not kill the runner */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        return usage();
    const char *s = argv[1];
    if (!strcmp(s, "rt")) {
        ts_section_rt();
    } else if (!strcmp(s, "vsock")) {
        ts_section_vsock();
    } else if (!strcmp(s, "driver")) {
        ts_section_driver();
    } else if (!strcmp(s, "variants")) {
        ts_section_variants(argc > 2 ? argv[2] : NULL);
    } else if (!strcmp(s, "all")) {
        ts_section_rt();
        ts_section_vsock();
        ts_section_driver();
        ts_section_variants(NULL);
    } else {
        return usage();
    }
    int f = atomic_load(&ts_failures);
    printf("tsan_runner %s: %s (%d failed checks)\n", s, f ? "FAIL" : "ok", f);
    return f ? 1 : 0;
}
