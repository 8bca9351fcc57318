/* tsan.h — the plain-C ThreadSanitizer runner's checks and sections (Criterion cannot run under TSan). */
#ifndef LINKBENCH_TSAN_H
#define LINKBENCH_TSAN_H

#include <stdatomic.h>
#include <stdio.h>

/* Failed behaviour checks (TSan reports end the process themselves: halt_on_error). */
extern atomic_int ts_failures;

/* A behaviour check: counted and printed, the run goes on so one report shows them all. */
#define TS_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            atomic_fetch_add(&ts_failures, 1);                                 \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,   \
                    #cond);                                                    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* Sections, each run by `tsan_runner <section> [args]`. */
void ts_section_rt(void);
void ts_section_vsock(void);
void ts_section_driver(void);   /* the driver's threads (drv.h) */
/* One variant by name or module path; NULL: every registered variant. */
void ts_section_variants(const char *variant);

#endif
