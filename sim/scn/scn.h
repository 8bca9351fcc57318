/* scn.h — scenarios and suites: the JSON workload format, its loader, validator and effective-config dump. */
#ifndef LINKBENCH_SCN_H
#define LINKBENCH_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "link.h"

/* Fixed capacities keep struct scn a plain value (copyable, no ownership rules).
 * A file asking for more gets an error, never a silent truncation. */
#define SCN_NAME_BYTES 64
#define SCN_TEXT_BYTES 2048      /* description */
#define SCN_VARIANTS_MAX 16
#define SCN_GROUPS_MAX 7         /* + the implicit "default" group = the driver's 8 */
#define SCN_VPARAMS_MAX 128      /* variant_config entries and instance configs, all together */
#define SCN_FAULTS_MAX 64
#define SCN_STEPS_MAX 32
#define SCN_CPUS_MAX 64
#define SCN_EXPECT_MAX 64
#define SCN_EXPECT_BYTES 256
#define SCN_METRIC_BYTES 96
#define SCN_VARIANT_BYTES 4096   /* a variant's name, or its module's path (PATH_MAX) */

/* One server process holds at most this many links: the machines allow 20 000 open
 * files per process (hard, root cannot raise it), and the server also needs
 * descriptors for listeners, pipes, logs and /proc reads. */
#define SCN_LINKS_PER_PROCESS_MAX 19000
#define SCN_WIRE_HDR_BYTES 48    /* = WIRE_HDR_BYTES: every payload carries the header */

/* ---------------------------------------------------------------- the scenario */

enum scn_pattern { SCN_PATTERN_CONSTANT, SCN_PATTERN_POISSON };
/* client.compression: the permessage-deflate offer (the server's variant decides, by its
 * compression param); the order is vsock's VSOCK_DEFLATE_* */
enum scn_compression { SCN_COMPRESSION_NONE, SCN_COMPRESSION_OFFER, SCN_COMPRESSION_NO_TAKEOVER };
/* client.payload_fill: a repeating a-z pattern (compresses well) or random bytes (do not) */
enum scn_fill { SCN_FILL_TEXT, SCN_FILL_RANDOM };
enum scn_dist { SCN_DIST_FIXED, SCN_DIST_UNIFORM, SCN_DIST_EXPONENTIAL };
enum scn_app_mode { SCN_APP_ECHO, SCN_APP_SINK };
enum scn_fault_kind {
    SCN_FAULT_STOP_READING,    /* the chosen clients stop reading (for duration_s, or until resumed) */
    SCN_FAULT_RESUME_READING,  /* the chosen clients read again */
    SCN_FAULT_CLOSE_LINKS,     /* the chosen clients close normally (reconnect applies) */
    SCN_FAULT_RESET_LINKS,     /* the chosen clients abort with a TCP reset */
    SCN_FAULT_KILL_SERVER,     /* SIGKILL the server process(es) */
    SCN_FAULT_PAUSE_APP,       /* the app model takes nothing for duration_s */
    SCN_FAULT_COUNT
};

/* A payload size: fixed (min == max), or drawn per message. */
struct scn_payload {
    enum scn_dist dist;
    int64_t min_bytes;
    int64_t max_bytes;
    int64_t mean_bytes;        /* exponential only: min + Exp, truncated at max */
};

/* What one client (one link) does. All rates are per link. */
struct scn_client {
    double rate_per_s;         /* messages the client sends per second; 0 = a quiet link */
    enum scn_pattern pattern;  /* spacing of the scheduled send times */
    struct scn_payload payload;
    int64_t in_flight_max;     /* echo replies outstanding per link; 0 = unlimited (open loop) */
    double stop_reading_at_s;  /* the client stops reading at this time; < 0 = never */
    double close_rate_per_s;   /* closes per second per link (the driver closes its group's
                                * links round robin at links x rate per second); 0 = never */
    bool reconnect;            /* a link the client closed is opened again at once */
    int64_t messages_per_link; /* messages each link sends, then it goes quiet; 0 = no limit
                                * (until the window ends): a fixed count makes totals
                                * comparable between runs (k6's iterations) */
    /* the default client only (one driver, one payload pattern, one offer for all links) */
    enum scn_compression compression;   /* what the upgrade request offers */
    enum scn_fill payload_fill;         /* what follows the wire header in a payload */
};

/* Which client keys a group set itself (the others come from the default client). */
enum {
    SCN_CK_RATE = 1u << 0, SCN_CK_PATTERN = 1u << 1, SCN_CK_PAYLOAD = 1u << 2,
    SCN_CK_IN_FLIGHT = 1u << 3, SCN_CK_STOP_READING = 1u << 4, SCN_CK_CLOSE_RATE = 1u << 5,
    SCN_CK_RECONNECT = 1u << 6, SCN_CK_MESSAGES = 1u << 7
};

/* Links with their own client behaviour. Links not in any group use the default
 * client and form the implicit group "default". */
struct scn_group {
    char name[SCN_NAME_BYTES];
    int64_t links;             /* < 0: use fraction */
    double fraction;           /* of the scenario's links, rounded to the nearest link */
    struct scn_client client;  /* the default client with this group's keys applied */
    unsigned set_mask;         /* SCN_CK_* */
};

struct scn_app {
    enum scn_app_mode mode;
    int64_t workers;           /* consumer threads of the app model */
    int64_t service_time_us;   /* busy time per message taken */
    double push_rate_per_s;    /* server push per link; 0 = off */
    enum scn_pattern push_pattern; /* spacing of each link's pushes (own phase / arrivals) */
    struct scn_payload push_payload;
    int64_t idle_timeout_ms;   /* reaper closes links idle this long; 0 = no reaper */
    int64_t idle_period_ms;    /* how often the reaper scans */
    bool auto_close;           /* link_common.auto_close */
    bool inline_handlers;      /* app.inline: handlers on the variant's threads where supported */
};

struct scn_limits {
    int64_t rate_limit_per_s;  /* inbound per link; 0 = off */
    int64_t max_msg_bytes;     /* incoming message limit */
};

struct scn_fault {
    double at_s;               /* from the start of measurement (after warm-up) */
    enum scn_fault_kind kind;
    int64_t links;             /* < 0: use fraction */
    double fraction;           /* of the target's links (lowest link ids first) */
    char group[SCN_NAME_BYTES];/* "" = all links */
    double duration_s;         /* 0 = until the end (stop_reading) / n.a. */
};

struct scn_vparam {            /* one variant_config entry, or one param of an instance's config */
    char variant[SCN_NAME_BYTES];  /* a variant, or an instance's name (scn_instance) */
    char param[SCN_NAME_BYTES];
    int64_t value;
    bool of_instance;              /* from an instance's "config", not from variant_config */
};

/* A variant instance: a variant module run under its own name with its own params
 * ("variants": [{"name": "poll@50ms", "variant": "poll", "config": {"poll_read_ms": 50}}]).
 * The run, the report, expect lines and charts know it by name; the server loads
 * `variant`. Its params: variant_config of `variant` (and of the C port, for go:), then
 * its own config (scn_vparam entries under its name), which win. */
struct scn_instance {
    char name[SCN_NAME_BYTES];
    char variant[SCN_VARIANT_BYTES]; /* the module: a variant name, go:<design> or a path */
    int at;                        /* its index in the file's "variants" (error paths) */
};

enum scn_cmp { SCN_CMP_EQ, SCN_CMP_NE, SCN_CMP_LT, SCN_CMP_LE, SCN_CMP_GT, SCN_CMP_GE };
enum scn_stat { SCN_STAT_MEDIAN, SCN_STAT_MIN, SCN_STAT_MAX };

/* variant.metric[.stat] in an expect line. */
struct scn_ref {
    char variant[SCN_NAME_BYTES];  /* a variant, or "*" (left: every variant; right: the same one) */
    char metric[SCN_METRIC_BYTES]; /* report name, dotted: "msgs_lost", "lat_rtt_us.p99" */
    enum scn_stat stat;            /* which aggregate over repetitions; median unless named */
};

/* One parsed expectation: lhs OP constant, or lhs OP factor * rhs. */
struct scn_expect {
    char text[SCN_EXPECT_BYTES];
    struct scn_ref lhs;
    enum scn_cmp op;
    bool rhs_is_ref;
    double value;              /* the constant, or the factor of rhs */
    struct scn_ref rhs;
    char why[SCN_EXPECT_BYTES];/* the bug it would catch ("" when the file gives none) */
};

struct scn {
    char name[SCN_NAME_BYTES];
    char description[SCN_TEXT_BYTES];
    int64_t links;
    double duration_s;         /* measured time per run */
    double warmup_s;           /* run before measuring; statistics reset after it */
    int64_t repetitions;       /* runs per variant, interleaved across variants */
    double connect_rate_per_s; /* links opened per second during ramp-up; 0 = at once */
    int64_t processes;         /* server processes (SO_REUSEPORT) */
    int n_variants;
    char variants[SCN_VARIANTS_MAX][SCN_VARIANT_BYTES];
    int variants_at[SCN_VARIANTS_MAX]; /* each one's index in the file's list (error paths) */
    int n_instances;           /* definitions of the names in variants[] that are instances */
    struct scn_instance instances[SCN_VARIANTS_MAX];
    int n_vparams;
    struct scn_vparam vparams[SCN_VPARAMS_MAX];
    struct scn_client client;
    int n_groups;
    struct scn_group groups[SCN_GROUPS_MAX];
    struct scn_app app;
    struct scn_limits limits;
    int n_faults;
    struct scn_fault faults[SCN_FAULTS_MAX];
    int64_t driver_threads;    /* driver loops (threads) over all driver processes; 0: one per
                                * CPU pin.driver lists, else per CPU pin.server leaves, else 1 */
    double driver_tick_us;     /* the driver's pacing tick (drv.h) */
    int64_t driver_remeasure;  /* a repetition whose driver was saturated is measured again
                                * up to this many times (the discarded runs are reported) */
    double driver_saturated_cpu;      /* drv_params.saturated_cpu_frac */
    double driver_saturated_lag_us;   /* drv_params.saturated_lag_ns, in us */
    double driver_stall_ms;    /* the parent's 10 ms probe woke this late: the machine
                                * stalled, and the run is flagged as a saturated one */
    int64_t driver_nice;       /* the driver threads' nice value (drv_params.nice) */
    int n_pin_server, n_pin_driver;
    int pin_server[SCN_CPUS_MAX], pin_driver[SCN_CPUS_MAX];
    int n_steps;               /* 0: one run with `links` */
    int64_t steps[SCN_STEPS_MAX];
    int n_expect;
    struct scn_expect expect[SCN_EXPECT_MAX];
};

/* ---------------------------------------------------------------- diagnostics */

/* Every error of a file, one line each: "FILE: key.path: rule (got VALUE)". */
struct scn_diag {
    char *text;                /* NUL-terminated lines, or NULL */
    size_t len, cap;
    int n;                     /* number of errors */
};
void scn_diag_init(struct scn_diag *d);
void scn_diag_deinit(struct scn_diag *d);
void scn_diag_add(struct scn_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- variants known to the caller */

/* scn never loads a module: the caller says which variants exist, with each one's
 * table when it has loaded it (link_registry.h), so variant_config is checked by the
 * registry's own param setter. v == NULL: the variant exists but its params are
 * unknown, so variant_config for it is checked only for types. The six built-in
 * names are always known to expect lines and variant_config (a run with --variant
 * evloop still accepts "dual.threads_per_link > 1.5"); an entry of "variants" must be
 * in the catalog. */
struct scn_variant_info {
    const char *name;
    const struct link_variant *v;
};
struct scn_catalog {
    const struct scn_variant_info *variants;
    int n;
};
/* The six built-in names with unknown params: for callers without a registry. */
const struct scn_catalog *scn_catalog_builtin(void);

/* ---------------------------------------------------------------- scenario API */

/* Fill s with every default (see docs/scenarios.md). */
void scn_defaults(struct scn *s);

/* Defaults, then the file's values. Key and type errors go to d as
 * "file: key: rule (got VALUE)"; ranges are left to scn_validate.
 * Returns the number of errors added (0 = parsed). */
int scn_parse_file(const char *file, struct scn *s, struct scn_diag *d);
int scn_parse_json(const char *file, const json_t *root, struct scn *s, struct scn_diag *d);

/* Pure check of a whole scenario (ranges, cross-field rules, variants and their
 * params against cat; cat == NULL means scn_catalog_builtin()). Errors are named
 * after file. Returns the number of errors added. */
int scn_validate(const struct scn *s, const struct scn_catalog *cat, const char *file,
                 struct scn_diag *d);

/* scn_parse_file then scn_validate. Returns the number of errors. */
int scn_load_file(const char *file, const struct scn_catalog *cat, struct scn *s,
                  struct scn_diag *d);

/* Command-line overrides, applied after the file and before scn_validate. */
void scn_override_links(struct scn *s, int64_t links);       /* also drops steps: one run */
void scn_override_duration(struct scn *s, double duration_s);
void scn_override_repetitions(struct scn *s, int64_t repetitions);
/* names: comma-separated ("dual,evloop"). 0, or -1 with an error in d (empty name,
 * too many or too long names). */
int scn_override_variants(struct scn *s, const char *names, struct scn_diag *d);

/* The module variant `name` runs: an instance's variant, else name itself. */
const char *scn_variant_module(const struct scn *s, const char *name);
/* The instance called name, or NULL. */
const struct scn_instance *scn_instance_find(const struct scn *s, const char *name);

/* Links of group i (i == n_groups: the implicit "default" group) for a run with
 * `links` links in total. */
int64_t scn_group_links(const struct scn *s, int i, int64_t links);

/* The effective configuration as JSON, in the file format (re-parses to the same
 * scenario). New reference. */
json_t *scn_to_json(const struct scn *s);

/* ---------------------------------------------------------------- expectations */

/* Parse one expect line. 0, or -1 with a message "rule at column N" in err. */
int scn_expect_parse(const char *text, struct scn_expect *out, char *err, size_t err_bytes);
/* The metric names an expect line may use (the report contract). */
bool scn_metric_known(const char *metric, char *why, size_t why_bytes);
const char *scn_cmp_str(enum scn_cmp op);
const char *scn_stat_name(enum scn_stat st);

/* ---------------------------------------------------------------- suites */

/* How a suite shrinks or stretches its scenarios (quick suite: fewer links, short runs). */
struct scn_scaling {
    double links_factor;       /* links, group links and steps multiplied (rounded, >= 1) */
    int64_t links_max;         /* then capped; 0 = no cap */
    double time_factor;        /* warmup_s, duration_s and every fault/stop time multiplied */
    int64_t repetitions;       /* replaces the scenario's; 0 = keep */
};
void scn_scaling_defaults(struct scn_scaling *sc);   /* identity */
void scn_apply_scaling(struct scn *s, const struct scn_scaling *sc);

struct scn_suite_entry {
    char *path;                /* resolved against the suite file's directory */
    struct scn_scaling scaling;/* the suite's, with the entry's own keys applied */
};
struct scn_suite {
    char name[SCN_NAME_BYTES];
    char description[SCN_TEXT_BYTES];
    int n;
    struct scn_suite_entry *entries;
};
/* Parse a suite file (not the scenarios it names). Returns the number of errors. */
int scn_suite_load(const char *file, struct scn_suite *suite, struct scn_diag *d);
void scn_suite_deinit(struct scn_suite *suite);

/* The closest of n candidate names to s (edit distance), or NULL when none is close. */
const char *scn_closest(const char *s, const char *const *cands, int n);

#endif
