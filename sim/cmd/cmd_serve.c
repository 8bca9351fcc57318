/* cmd_serve.c — `linkbench serve`: the server side alone (one variant, the app model) on a given address, for an external or remote load generator. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "run_child.h"
#include "run_plan.h"
#include "scn.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench serve --variant NAME [--listen A:N] [--out FILE] [scenario.json]\n"
        "\n"
        "Serve WebSocket links with one variant and the app model (the scenario's app,\n"
        "limits and variant_config sections; defaults without one) until Ctrl-C or\n"
        "SIGTERM, then print the server's measurements as one JSON document (on stdout,\n"
        "or into --out FILE). Prints ADDR:PORT on stdout once listening: drive it with\n"
        "`linkbench run SCENARIO --target ws://ADDR:PORT/`.\n"
        "\n"
        "options:\n"
        "  --variant NAME   the variant (a name or the path of a .so module)\n"
        "  --listen A:N     IPv4 address and port to listen on (default 127.0.0.1:0, any port)\n"
        "  --out FILE       write the measurements into FILE instead of stdout\n"
        "  --addr A         IPv4 address to listen on (default 127.0.0.1)\n"
        "  --port N         port (default 0: any free port)\n"
        "  -h, --help       this text\n"
        "\n"
        "exit codes: 0 ok, 1 the server failed or died, 2 usage or scenario error\n");
}

int cmd_serve(int argc, char **argv)
{
    const char *variant = NULL, *addr = "127.0.0.1", *out_file = NULL;
    static char listen_addr[64];
    long port = 0;
    static const struct option lo[] = {{"variant", required_argument, 0, 'v'},
                                       {"addr", required_argument, 0, 'a'},
                                       {"port", required_argument, 0, 'p'},
                                       {"listen", required_argument, 0, 'l'},
                                       {"out", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'v':
            variant = optarg;
            break;
        case 'a':
            addr = optarg;
            break;
        case 'o':
            out_file = optarg;
            break;
        case 'l': {
            /* ADDR:PORT, the form serve prints: one flag for both */
            const char *colon = strrchr(optarg, ':');
            if (!colon || colon == optarg || (size_t)(colon - optarg) >= sizeof listen_addr) {
                fprintf(stderr, "linkbench serve: --listen: must be ADDR:PORT (got \"%s\")\n", optarg);
                return LB_EXIT_USAGE;
            }
            memcpy(listen_addr, optarg, (size_t)(colon - optarg));
            listen_addr[colon - optarg] = 0;
            addr = listen_addr;
            optarg = (char *)colon + 1;
        }
            __attribute__((fallthrough));   /* then the port, as --port */
        case 'p':
            port = strtol(optarg, &end, 10);
            if (end == optarg || *end || port < 0 || port > 65535) {
                fprintf(stderr, "linkbench serve: port: must be in [0, 65535] (got \"%s\")\n", optarg);
                return LB_EXIT_USAGE;
            }
            break;
        default:
            fprintf(stderr, "linkbench serve: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (!variant || optind < argc - 1) {
        fprintf(stderr, "linkbench serve: %s\n", !variant ? "--variant is required" : "at most one scenario file");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    struct scn s;
    scn_defaults(&s);
    if (optind < argc) {
        struct scn_diag d;
        scn_diag_init(&d);
        if (scn_load_file(argv[optind], NULL, &s, &d) > 0) {
            fputs(d.text ? d.text : "", stderr);
            scn_diag_deinit(&d);
            return LB_EXIT_USAGE;
        }
        scn_diag_deinit(&d);
    }

    /* SIGINT/SIGTERM are taken with sigtimedwait: blocked before the child exists
     * (posix_spawn gives the child an empty mask) */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);

    json_t *cfg = run_plan_server_config(&s, variant, s.links);
    json_object_set_new(cfg, "addr", json_string(addr));
    json_object_set_new(cfg, "port", json_integer(port));
    run_child ch;
    char err[1024] = "", how[128];
    int rc = run_child_spawn(&ch, "linkbench", cfg, err, sizeof err);
    json_decref(cfg);
    if (rc < 0) {
        fprintf(stderr, "linkbench serve: %s\n", err);
        return LB_EXIT_FAIL;
    }
    json_t *ev = run_child_recv(&ch, rt_now() + 30 * RT_S, err, sizeof err);
    const char *evn = json_string_value(json_object_get(ev, "event"));
    if (!evn || strcmp(evn, "ready")) {
        const char *msg = json_string_value(json_object_get(ev, "message"));
        fprintf(stderr, "linkbench serve: %s\n", msg ? msg : err);
        json_decref(ev);
        run_child_finish(&ch, rt_now() + 5 * RT_S);
        return LB_EXIT_FAIL;
    }
    printf("%s:%lld\n", addr, (long long)json_integer_value(json_object_get(ev, "port")));
    fflush(stdout);
    fprintf(stderr, "linkbench serve: %s on %s:%lld (server pid %lld); Ctrl-C stops it and "
            "prints its measurements\n", variant, addr,
            (long long)json_integer_value(json_object_get(ev, "port")),
            (long long)json_integer_value(json_object_get(ev, "pid")));
    json_decref(ev);

    struct timespec tick = {0, 200 * 1000 * 1000};
    while (!run_child_exited(&ch)) {
        int sig = sigtimedwait(&ss, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    int code = LB_EXIT_OK;
    json_t *rep = NULL;
    if (!run_child_exited(&ch)) {
        run_child_send(&ch, "end");
        run_child_send(&ch, "acct");
        run_child_send(&ch, "stop");
        rep = run_child_recv(&ch, rt_now() + 120 * RT_S, err, sizeof err);
    }
    run_child_finish(&ch, rt_now() + 10 * RT_S);
    if (rep) {
        json_object_del(rep, "event");
        if (out_file && json_dump_file(rep, out_file, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
            fprintf(stderr, "linkbench serve: --out %s: cannot write: %s\n", out_file, strerror(errno));
            code = LB_EXIT_FAIL;
        } else if (!out_file) {
            json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        }
        json_decref(rep);
    }
    if (!rep || run_child_died(&ch)) {
        fprintf(stderr, "linkbench serve: server process %s%s%s\n",
                run_child_how(&ch, how, sizeof how), rep ? "" : ": ", rep ? "" : err);
        code = LB_EXIT_FAIL;
    }
    return code;
}
