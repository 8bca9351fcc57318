/* lb_install.h — where linkbench finds its data (scenarios, chart scripts, variants): relative to its own executable, so an installed copy works from any prefix and any directory. */
#ifndef LINKBENCH_LB_INSTALL_H
#define LINKBENCH_LB_INSTALL_H

#include <stddef.h>

/* The directory holding workloads/ and plots/: $LINKBENCH_DATA_DIR, then
 * <executable's dir>/../share/linkbench (installed), <executable's dir>/.. (a build
 * directory inside the source tree), then the source tree this binary was built from.
 * 0, or -ENOENT when none holds workloads/. */
int lb_install_data_dir(char *out, size_t len);

/* A scenario or suite argument as a file: arg itself when it exists; else, below the
 * data directory, workloads/<arg>, workloads/<arg>.json, workloads/suites/<arg>.json or
 * <arg> (so "echo", "first" and "workloads/echo.json" work from any directory).
 * 0 with the path in out, or -ENOENT (out = arg). */
int lb_install_scenario(const char *arg, char *out, size_t len);

/* The directory of the running executable (/proc/self/exe). 0 or -errno. */
int lb_install_exe_dir(char *out, size_t len);

#endif
