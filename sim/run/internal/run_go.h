/* run_go.h — variants spelled go:<design>: the seed's own Go designs (reference/go), run as the server child in place of the C server. */
#ifndef LINKBENCH_RUN_GO_H
#define LINKBENCH_RUN_GO_H

#include <stdbool.h>
#include <stddef.h>

/* "go:" + one of the five seed designs. The Go server speaks the C server's pipe
 * protocol (srv_main.h), so a go: variant is started, commanded, measured and merged
 * by run_srvs like any other; its params are its C port's (same names and ranges). */
#define RUN_GO_PREFIX "go:"

/* True when variant is spelled go:<something>. */
bool run_go_is(const char *variant);

/* The C design a go: variant mirrors ("hybrid" for "go:hybrid"), or NULL when variant is
 * not a go: name or names no seed design. */
const char *run_go_design(const char *variant);

/* The Go server's path: $LINKBENCH_GO, else linkbench-go beside this executable (a build
 * tree) or in <prefix>/lib/linkbench/ (installed). 0, or
 * -ENOENT with a message saying how to build it in err. */
int run_go_server_path(char *buf, size_t len, char *err, size_t errlen);

/* Expand "go:all" in a --variant list into the five designs (go:dual,go:batch,...), in
 * place into out. 0, or -1 when out is too small. */
int run_go_expand(const char *list, char *out, size_t len);

#endif
