/* lb_file.h — files replaced whole or not at all: the one atomic write every report, CSV and chart file of a run goes through. */
#ifndef LINKBENCH_LB_FILE_H
#define LINKBENCH_LB_FILE_H

#include <stddef.h>

/* Replace path with data atomically: a temporary file in the same directory, write,
 * fsync, rename, fsync of the directory. On failure the temporary is removed, the old
 * file (if any) is untouched, and err holds "<path>: <strerror>". 0 or -errno. */
int lb_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
