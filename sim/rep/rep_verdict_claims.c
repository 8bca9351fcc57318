/* rep_verdict_claims.c — every claim of the seed's 性能对比总结 table and 推荐使用, in its words with a translation, and the rules (on report.json data) that test it. */
#include "rep_verdict.h"

/* A table: a test's absent show list, a claim's absent tests, are empty (zero). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* How to read the rules: sim/rep/rep_verdict.h. Scenarios: the shipped ones in workloads/ (the
 * default suite), workloads/seed/ (the seed's proposed variants, sweeps and scale) and
 * workloads/go/ (the Go originals beside their C ports); workloads/suites/verdicts.json
 * runs what this page reads. Variant names: the five seed designs and evloop; instances
 * (poll+keep: read_keeps_partial 1, the repair of the torn frames; batch+nb: the seed's
 * proposed non-blocking delivery; poll@50ms ...) as those scenarios define them; go:<design>
 * the seed's own Go code.
 *
 * A level of the seed's table (低 < 中-偏低 < 中 < 中-偏高 < 极高) is tested as a rank: the
 * design must sit where the seed's order puts it among the five (ties within 10 %). */

#define SEED5 "dual,batch,poll,hybrid,pair"
#define SEED5K "dual,batch,poll+keep,hybrid,pair+keep"
#define GO5 "go:dual,go:batch,go:poll,go:hybrid,go:pair"

/* the CPU level as a rank, under load (frames kept, every link served; and as the seed's
 * reads go), idle at 10 000 links, and for the Go originals */
#define CPU_TESTS(d, dk, k)                                                                       \
    {"under a light load, every link served (seed_reliability: 100 links x 50 msg/s echo; "       \
     "poll and pair keep torn frames)", "seed_reliability",                                       \
     {"rank " dk " " k " cpu_ms_per_1k_msgs " SEED5K}},                                           \
    {"idle links (scale: 10 000 links, CPU per link-second)", "scale@10000",                      \
     {"rank " d " " k " cpu_per_link_s " SEED5}},                                                 \
    {"the Go originals under load (go_echo: 100 links x 50 msg/s)", "go_echo",                    \
     {"rank go:" d " " k " cpu_ms_per_1k_msgs " GO5}}

#define LOC_NOTE "not measurable: complexity is a reader's judgement, not a figure. Shown as a " \
    "proxy only: the lines of the design's code (the seed's Go as run by go:<design>, and the " \
    "C port), which count size, not difficulty"

const struct rv_claim RV_CLAIMS[] = {
    /* ---------------------------------------------------------------- CPU开销 */
    {"性能对比总结: CPU开销 (CPU cost)", "当前双协程 — 中", "the current two-goroutine Link — medium", NULL, NULL,
     {CPU_TESTS("dual", "dual", "3")}},
    {"性能对比总结: CPU开销 (CPU cost)", "版本1（批量发送）— 中-偏低", "version 1 (batch send) — medium to low", NULL, NULL,
     {CPU_TESTS("batch", "batch", "2")}},
    {"性能对比总结: CPU开销 (CPU cost)", "版本2（非阻塞读）— 极高", "version 2 (non-blocking read) — extremely high", NULL, NULL,
     {{"under a light load, every link served (seed_reliability; frames kept)", "seed_reliability",
       {"rank poll+keep 5 cpu_ms_per_1k_msgs " SEED5K,
        "poll+keep.cpu_ms_per_1k_msgs >= 3 * hybrid.cpu_ms_per_1k_msgs"}},
      {"idle links (scale: 10 000 links)", "scale@10000",
       {"rank poll 5 cpu_per_link_s " SEED5, "poll.cpu_per_link_s >= 3 * hybrid.cpu_per_link_s"}},
      {"the Go originals idle (go_idle: 1 000 links)", "go_idle@1000",
       {"rank go:poll 5 cpu_per_link_s " GO5, "go:poll.cpu_per_link_s >= 3 * go:hybrid.cpu_per_link_s"},
       {"poll.cpu_per_link_s"}}}},
    {"性能对比总结: CPU开销 (CPU cost)", "版本4（综合优化）— 低", "version 4 (combined optimisation) — low", NULL, NULL,
     {CPU_TESTS("hybrid", "hybrid", "1")}},
    {"性能对比总结: CPU开销 (CPU cost)", "版本5（协程聚合）— 中-偏高", "version 5 (goroutine aggregation) — medium to high", NULL, NULL,
     {CPU_TESTS("pair", "pair+keep", "4")}},

    /* ---------------------------------------------------------------- 内存稳定性 */
    {"性能对比总结: 内存稳定性 (memory stability)", "当前双协程 — 好", "the current Link — good", NULL, NULL,
     {{"an overload the app cannot follow (memory_overload: 20 links x 100 msg/s x 32 KiB, the app "
       "takes half): peak RSS within 10x evloop's, which pauses reading", "memory_overload",
       {"dual.rss_peak_bytes <= 10 * evloop.rss_peak_bytes"}}}},
    {"性能对比总结: 内存稳定性 (memory stability)", "版本1（批量发送）— 差（可能 OOM）",
     "version 1 — poor (may run out of memory)", NULL, NULL,
     {{"the same overload (memory_overload): worse than the others, beyond 10x evloop's peak RSS",
       "memory_overload",
       {"batch.rss_peak_bytes > 10 * evloop.rss_peak_bytes", "batch.rss_peak_bytes > 1.5 * hybrid.rss_peak_bytes"}},
      {"the seed's proposed non-blocking delivery beside it (batch_nonblocking: slow_consumer's load)",
       "batch_nonblocking", {"batch.rss_peak_bytes > 1.5 * batch+nb.rss_peak_bytes"}}}},
    {"性能对比总结: 内存稳定性 (memory stability)", "版本2（非阻塞读）— 好", "version 2 — good", NULL, NULL,
     {{"the same overload (memory_overload)", "memory_overload",
       {"poll.rss_peak_bytes <= 10 * evloop.rss_peak_bytes"}}}},
    {"性能对比总结: 内存稳定性 (memory stability)", "版本4（综合优化）— 好", "version 4 — good", NULL, NULL,
     {{"the same overload (memory_overload)", "memory_overload",
       {"hybrid.rss_peak_bytes <= 10 * evloop.rss_peak_bytes"}}}},
    {"性能对比总结: 内存稳定性 (memory stability)", "版本5（协程聚合）— 好", "version 5 — good", NULL, NULL,
     {{"the same overload (memory_overload)", "memory_overload",
       {"pair.rss_peak_bytes <= 10 * evloop.rss_peak_bytes"}}}},

    /* ---------------------------------------------------------------- 消息可靠性 */
    {"性能对比总结: 消息可靠性 (message reliability)", "当前双协程 — 高", "the current Link — high", NULL, NULL,
     {{"an app slower than the load (slow_consumer): nothing dropped", "slow_consumer", {"dual.msgs_dropped == 0"}},
      {"a light echo load with the seed's reads (echo): no frame torn, no link lost", "echo",
       {"dual.frames_broken_by_deadline == 0", "dual.links_closed_error == 0"}},
      {"a client that stalls past the write deadline (write_retry): no corrupted message", "write_retry",
       {"dual.msgs_corrupted == 0"}}}},
    {"性能对比总结: 消息可靠性 (message reliability)", "版本1（批量发送）— 高", "version 1 — high", NULL, NULL,
     {{"an app slower than the load (slow_consumer): nothing dropped", "slow_consumer", {"batch.msgs_dropped == 0"}},
      {"a light echo load with the seed's reads (echo)", "echo",
       {"batch.frames_broken_by_deadline == 0", "batch.links_closed_error == 0"}},
      {"messages of 64 KiB - 1 MiB (large_messages)", "large_messages", {"batch.frames_broken_by_deadline == 0"}},
      {"a client that stalls past the write deadline (write_retry)", "write_retry", {"batch.msgs_corrupted == 0"}}}},
    {"性能对比总结: 消息可靠性 (message reliability)", "版本2（非阻塞读）— 中（主动丢弃）",
     "version 2 — medium (drops actively)", NULL, NULL,
     {{"an app slower than the load (slow_consumer): it drops, with a reason", "slow_consumer",
       {"poll.drops_by_reason.recv_queue_full > 0", "poll.msgs_lost == 0"}},
      {"a light echo load with the seed's 1 ms reads (echo): nothing lost beyond its drops, no frame torn",
       "echo", {"poll.frames_broken_by_deadline == 0", "poll.links_closed_error == 0"}, {"poll.links"}},
      {"the same load with torn frames repaired (seed_reliability, poll+keep: read_keeps_partial 1)",
       "seed_reliability", {"poll+keep.frames_broken_by_deadline == 0", "poll+keep.links_closed_error == 0"}},
      {"the Go original under the same echo load (go_echo)", "go_echo", {"go:poll.links_closed_error == 0"},
       {"go:poll.links"}}}},
    {"性能对比总结: 消息可靠性 (message reliability)", "版本4（综合优化）— 中（保护性丢弃）",
     "version 4 — medium (protective drops)", NULL, NULL,
     {{"an app slower than the load (slow_consumer): it drops, with a reason", "slow_consumer",
       {"hybrid.drops_by_reason.recv_queue_full > 0", "hybrid.msgs_lost == 0"}},
      {"a light echo load (echo): no frame torn, no link lost", "echo",
       {"hybrid.frames_broken_by_deadline == 0", "hybrid.links_closed_error == 0"}},
      {"a client that stalls past the write deadline (write_retry): no corrupted message", "write_retry",
       {"hybrid.msgs_corrupted == 0"}}}},
    {"性能对比总结: 消息可靠性 (message reliability)", "版本5（协程聚合）— 中（保护性丢弃）",
     "version 5 — medium (protective drops)", NULL, NULL,
     {{"an app slower than the load (slow_consumer): it drops, with a reason", "slow_consumer",
       {"pair.drops_by_reason.recv_queue_full > 0", "pair.msgs_lost == 0"}},
      {"a light echo load with the seed's 1 ms reads (echo): no frame torn, no link lost", "echo",
       {"pair.frames_broken_by_deadline == 0", "pair.links_closed_error == 0"}, {"pair.links"}},
      {"the same load with torn frames repaired (seed_reliability, pair+keep)", "seed_reliability",
       {"pair+keep.frames_broken_by_deadline == 0", "pair+keep.links_closed_error == 0"}},
      {"a client that stalls past the write deadline (write_retry)", "write_retry", {"pair.msgs_corrupted == 0"}}}},

    /* ---------------------------------------------------------------- 代码复杂度 */
    {"性能对比总结: 代码复杂度 (code complexity)", "当前双协程 — 低", "the current Link — low", LOC_NOTE, "dual", {{0}}},
    {"性能对比总结: 代码复杂度 (code complexity)", "版本1（批量发送）— 中", "version 1 — medium", LOC_NOTE, "batch", {{0}}},
    {"性能对比总结: 代码复杂度 (code complexity)", "版本2（非阻塞读）— 高", "version 2 — high", LOC_NOTE, "poll", {{0}}},
    {"性能对比总结: 代码复杂度 (code complexity)", "版本4（综合优化）— 中", "version 4 — medium", LOC_NOTE, "hybrid", {{0}}},
    {"性能对比总结: 代码复杂度 (code complexity)", "版本5（协程聚合）— 高", "version 5 — high", LOC_NOTE, "pair", {{0}}},

    /* ---------------------------------------------------------------- 协程数量 */
    {"性能对比总结: 协程数量 (goroutines per link)", "当前双协程 — 2 goroutines/连接", "the current Link — 2 per link", NULL, NULL,
     {{"C port: threads per link at 10 000 idle links (scale)", "scale@10000", {"dual.threads_per_link == 2"}},
      {"Go original: goroutines per link (go_idle, 1 000 links)", "go_idle@1000", {"go:dual.threads_per_link == 2"},
       {"go:dual.threads_peak"}}}},
    {"性能对比总结: 协程数量 (goroutines per link)", "版本1（批量发送）— 1 goroutine/连接", "version 1 — 1 per link", NULL, NULL,
     {{"C port (scale, 10 000 links)", "scale@10000", {"batch.threads_per_link == 1"}},
      {"Go original (go_idle, 1 000 links)", "go_idle@1000", {"go:batch.threads_per_link == 1"}, {"go:batch.threads_peak"}}}},
    {"性能对比总结: 协程数量 (goroutines per link)", "版本2（非阻塞读）— 1 goroutine/连接", "version 2 — 1 per link", NULL, NULL,
     {{"C port (scale, 1 000 links: at 10 000 its pollers cannot be held)", "scale@1000", {"poll.threads_per_link == 1"}},
      {"Go original (go_idle, 1 000 links)", "go_idle@1000", {"go:poll.threads_per_link == 1"}, {"go:poll.threads_peak"}}}},
    {"性能对比总结: 协程数量 (goroutines per link)", "版本4（综合优化）— 1 goroutine/连接", "version 4 — 1 per link", NULL, NULL,
     {{"C port (scale, 10 000 links)", "scale@10000", {"hybrid.threads_per_link == 1"}},
      {"Go original (go_idle, 1 000 links)", "go_idle@1000", {"go:hybrid.threads_per_link == 1"}, {"go:hybrid.threads_peak"}}}},
    {"性能对比总结: 协程数量 (goroutines per link)", "版本5（协程聚合）— 0.5 goroutine/连接", "version 5 — 0.5 per link", NULL, NULL,
     {{"C port (scale, 1 000 links), solo threads of odd or widowed links allowed for", "scale@1000",
       {"pair.threads_per_link <= 0.55"}, {"pair.solo_threads"}},
      {"Go original (go_idle, 1 000 links)", "go_idle@1000", {"go:pair.threads_per_link <= 0.55"}, {"go:pair.threads_peak"}}}},

    /* ---------------------------------------------------------------- 适用场景 */
    {"性能对比总结: 适用场景 (fit)", "当前双协程 — 简单可靠场景", "the current Link — simple, reliable use", NULL, NULL,
     {{"reliable under an app slower than the load (slow_consumer)", "slow_consumer", {"dual.msgs_dropped == 0", "dual.msgs_lost == 0"}},
      {"reliable under a client stall past the write deadline (write_retry)", "write_retry", {"dual.msgs_corrupted == 0"}},
      {"keeps up with a light echo load (echo)", "echo", {"dual.kept_up == 1", "dual.links_closed_error == 0"}}}},
    {"性能对比总结: 适用场景 (fit)", "版本1（批量发送）— 消息零丢失要求", "version 1 — where no message may be lost", NULL, NULL,
     {{"an app slower than the load (slow_consumer)", "slow_consumer", {"batch.msgs_dropped == 0"}},
      {"a rate limit below the offered rate (rate_limit)", "rate_limit", {"batch.msgs_dropped == 0"}},
      {"a client that stalls past the write deadline (write_retry)", "write_retry", {"batch.msgs_corrupted == 0"}},
      {"server pushes to quiet clients (server_push): delivered, not held", "server_push", {"batch.kept_up == 1"},
       {"batch.lat_out_censored_us.p99"}}}},
    {"性能对比总结: 适用场景 (fit)", "版本2（非阻塞读）— 写延迟敏感", "version 2 — where write latency matters", NULL, NULL,
     {{"server pushes to quiet clients (server_push): lowest app-to-client p99 of the five", "server_push",
       {"rank poll 1 lat_out_censored_us.p99 " SEED5}, {"evloop.lat_out_censored_us.p99"}},
      {"the Go originals (go_server_push)", "go_server_push", {"rank go:poll 1 lat_out_censored_us.p99 " GO5}}}},
    {"性能对比总结: 适用场景 (fit)", "版本4（综合优化）— 通用生产环境", "version 4 — general production use", NULL, NULL,
     {{"a light echo load (echo)", "echo", {"hybrid.kept_up == 1", "hybrid.links_closed_error == 0"}},
      {"server pushes to quiet clients (server_push)", "server_push", {"hybrid.kept_up == 1"},
       {"hybrid.lat_out_censored_us.p99"}},
      {"links closing and reconnecting (churn)", "churn", {"hybrid.msgs_lost == 0", "hybrid.links_closed_error == 0"}},
      {"10 000 idle links (scale)", "scale@10000", {"hybrid.links >= 9900"}}}},
    {"性能对比总结: 适用场景 (fit)", "版本5（协程聚合）— 超高并发场景", "version 5 — very high concurrency", NULL, NULL,
     {{"10 000 links, each echoing a message every 20 s (seed_scale_10k): all held", "seed_scale_10k", {"pair.links >= 9900"},
       {"pair.cpu_per_link_s", "evloop.links"}},
      {"100 000 links (seed_scale_100k), the Go original (the C port needs 50 000 threads: beyond "
       "the machine's 32 000)", "seed_scale_100k", {"go:pair.links >= 99000"}, {"evloop.links"}}}},

    /* ---------------------------------------------------------------- 推荐使用: >100K */
    {"推荐使用: 超高并发场景 (>100K links: version 5)", "当连接数量极大（>100K）且系统资源成为严重瓶颈时，可以考虑使用版本5协程聚合版本",
     "with a very large number of links (>100K) and system resources the bottleneck, version 5 may be considered",
     NULL, NULL,
     {{"100 000 links (seed_scale_100k), the Go original", "seed_scale_100k", {"go:pair.links >= 99000"},
       {"go:pair.cpu_per_link_s", "evloop.cpu_per_link_s"}},
      {"100 000 links against an event loop (evloop: no thread per link, no polling)", "seed_scale_100k",
       {"go:pair.cpu_per_link_s <= evloop.cpu_per_link_s"}, {"go:pair.links", "evloop.links"}},
      {"the C port at a tenth of that (seed_scale_10k: 10 000 links; at 50 000 and 100 000 it would "
       "need 25 000 and 50 000 polling threads)", "seed_scale_10k", {"pair.links >= 9900"}}}},
    {"推荐使用: 超高并发场景 (>100K links: version 5)", "1. 协程数量最少：每连接仅需0.5个协程，是所有版本中最优的",
     "1. fewest goroutines: only 0.5 per link, the best of all versions", NULL, NULL,
     {{"among the seed's five (scale, 1 000 links)", "scale@1000", {"rank pair 1 threads_per_link " SEED5}},
      {"against an event loop (not a seed design: one thread for all links)", "scale@1000",
       {"pair.threads_per_link <= evloop.threads_per_link"}}}},
    {"推荐使用: 超高并发场景 (>100K links: version 5)", "2. 适合资源极度受限环境：内存和协程调度开销达到最小",
     "2. suited to extremely constrained resources: memory and scheduling overhead at their minimum", NULL, NULL,
     {{"memory per idle link, among the five (scale, 1 000 links)", "scale@1000",
       {"rank pair 1 rss_per_link_bytes " SEED5}},
      {"scheduling: wake-ups per idle link-second, among the five (scale, 1 000 links)", "scale@1000",
       {"rank pair 1 wakeups_per_link_s " SEED5}},
      {"the Go original's scheduling: goroutine stops per idle link-second (go_idle, 1 000 links)", "go_idle@1000",
       {"rank go:pair 1 wakeups_per_link_s " GO5}}}},
    {"推荐使用: 超高并发场景 (>100K links: version 5)", "3. 需要架构配套支持：需要合理的连接配对和负载均衡策略",
     "3. needs architectural support: a sound pairing and load-balancing strategy", NULL, NULL,
     {{"links closing and reconnecting (churn): threads left serving one link alone show what pairing by "
       "arrival costs", "churn", {"pair.solo_threads > 0"}, {"pair.threads_per_link"}}}},
    {"推荐使用: 超高并发场景 (>100K links: version 5)", "4. 监控要求较高：需要完善的监控体系支撑",
     "4. high monitoring needs: a complete monitoring system", "not measurable: what a team must build "
     "around the design, not a property of a run", NULL, {{0}}},
    {"推荐使用: 超高并发场景 — 使用条件 (conditions)", "连接数量 >100K", "more than 100K links", NULL, NULL,
     {{"which designs hold 100 000 links on this machine (seed_scale_100k; the section below lists "
       "every design and what stopped it)", "seed_scale_100k", {"evloop.links >= 99000"},
       {"go:pair.links", "go:hybrid.links", "go:dual.links"}}}},
    {"推荐使用: 超高并发场景 — 使用条件 (conditions)", "业务层能够处理消息路由逻辑",
     "the business layer can route messages (one receive channel for two links)", "not measurable: a "
     "capability of the application. The harness's app routes by link id for every design "
     "(pair's unified queue included), so the cost is in the CPU figures above", NULL, {{0}}},
    {"推荐使用: 超高并发场景 — 使用条件 (conditions)", "有完善的监控和运维体系", "complete monitoring and operations",
     "not measurable: an organisational condition", NULL, {{0}}},
    {"推荐使用: 超高并发场景 — 使用条件 (conditions)", "团队有足够的技术能力维护复杂架构",
     "a team able to maintain a complex architecture", "not measurable: an organisational condition", NULL, {{0}}},

    /* ---------------------------------------------------------------- 推荐使用: 10K-100K */
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "当连接数量较大（10K-100K）时，强烈推荐使用版本4综合优化版本",
     "with many links (10K-100K), version 4 is strongly recommended", NULL, NULL,
     {{"10 000 links (seed_scale_10k)", "seed_scale_10k", {"hybrid.links >= 9900"}, {"hybrid.threads_peak"}},
      {"50 000 links (seed_scale_50k), the C port: a thread per link", "seed_scale_50k", {"hybrid.links >= 49500"}},
      {"50 000 links (seed_scale_50k), the Go original", "seed_scale_50k", {"go:hybrid.links >= 49500"}}}},
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "1. 资源效率高：每连接只需1个协程，大幅减少内存和调度开销",
     "1. resource-efficient: one goroutine per link, far less memory and scheduling than two", NULL, NULL,
     {{"against the current Link at 10 000 idle links (scale)", "scale@10000",
       {"hybrid.threads_per_link == 1", "hybrid.rss_per_link_bytes < dual.rss_per_link_bytes"},
       {"dual.threads_per_link", "hybrid.wakeups_per_link_s", "dual.wakeups_per_link_s"}},
      {"under a light echo load (echo)", "echo", {"hybrid.cpu_ms_per_1k_msgs < dual.cpu_ms_per_1k_msgs"}}}},
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "2. 生产级稳定性：经过充分的错误处理和边界情况考虑",
     "2. production-grade stability: errors and edge cases handled", NULL, NULL,
     {{"clients that stop reading (slow_reader): no other link harmed, nothing lost", "slow_reader",
       {"hybrid.msgs_lost == 0", "hybrid.links_closed_error == 0"}},
      {"links closing, reconnecting and reset (churn)", "churn", {"hybrid.msgs_lost == 0"}},
      {"a client stalled past the write deadline (write_retry): no corrupted message", "write_retry",
       {"hybrid.msgs_corrupted == 0"}}}},
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "3. 性能表现优秀：在吞吐量和延迟之间取得最佳平衡",
     "3. excellent performance: the best balance of throughput and latency", NULL, NULL,
     {{"a light echo load (echo): the lowest CPU per message and round-trip p99 of the five", "echo",
       {"rank hybrid 1 cpu_ms_per_1k_msgs " SEED5, "rank hybrid 1 lat_rtt_censored_us.p99 " SEED5}},
      {"server pushes to quiet clients (server_push): delivered", "server_push", {"hybrid.kept_up == 1"},
       {"hybrid.lat_out_censored_us.p99", "dual.lat_out_censored_us.p99"}}}},
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "4. 可维护性好：代码结构清晰，便于后续修改和扩展",
     "4. maintainable: clear structure, easy to change and extend", LOC_NOTE, "hybrid", {{0}}},
    {"推荐使用: 高并发场景 (10K-100K links: version 4)", "5. 成熟可靠：复杂度适中，便于问题排查和性能调优",
     "5. mature and reliable: moderate complexity, easy to troubleshoot and tune", "not measurable: maturity "
     "is a history, not a figure (reliability is tested in row 2 and in the table)", NULL, {{0}}},

    /* ---------------------------------------------------------------- 推荐使用: <10K */
    {"推荐使用: 中低并发场景 (<10K links: the current Link)", "当连接数量较少（<10K）且对开发效率要求高时，当前的双协程架构仍然是不错的选择",
     "with fewer links (<10K) and development speed important, the two-goroutine Link is still a good choice", NULL, NULL,
     {{"10 000 idle links (scale): all held, with 2 threads each", "scale@10000", {"dual.links >= 9900"},
       {"dual.threads_peak", "dual.rss_per_link_bytes"}}}},
    {"推荐使用: 中低并发场景 (<10K links: the current Link)", "逻辑简单，易于理解和维护", "simple logic, easy to understand and maintain",
     LOC_NOTE, "dual", {{0}}},
    {"推荐使用: 中低并发场景 (<10K links: the current Link)", "读写完全独立，不会相互影响", "reads and writes fully independent, never affecting each other",
     NULL, NULL,
     {{"server pushes while the app is slower than the clients' load (rw_independence): push latency "
       "within 5x evloop's, while batch's blocked read loop holds its pushes", "rw_independence",
       {"dual.lat_out_censored_us.p99 <= 5 * evloop.lat_out_censored_us.p99"}, {"batch.lat_out_censored_us.p99"}}}},
    {"推荐使用: 中低并发场景 (<10K links: the current Link)", "调试和排错相对容易", "comparatively easy to debug",
     "not measurable: a developer's experience, not a property of a run", NULL, {{0}}},
    {"推荐使用: 中低并发场景 (<10K links: the current Link)", "开发和维护成本最低", "lowest development and maintenance cost",
     LOC_NOTE, "dual", {{0}}},

    /* ---------------------------------------------------------------- 推荐使用: 特殊需求 */
    {"推荐使用: 特殊需求场景 (special needs)", "零消息丢失要求：可以基于版本1进行改进，增加非阻塞投递",
     "zero message loss: improve version 1 by adding non-blocking delivery", NULL, NULL,
     {{"an app slower than the load (batch_nonblocking: slow_consumer's load; batch+nb is batch with "
       "nonblocking_delivery 1)", "batch_nonblocking", {"batch+nb.msgs_dropped == 0"},
       {"batch.msgs_dropped", "evloop.msgs_dropped"}},
      {"a light echo load the app keeps up with (seed_reliability)", "seed_reliability", {"batch+nb.msgs_dropped == 0"}}}},
    {"推荐使用: 特殊需求场景 (special needs)", "极低写延迟要求：可以基于版本2进行优化，减少轮询频率",
     "very low write latency: optimise version 2 by polling less often", NULL, NULL,
     {{"server pushes to quiet clients, poll_read_ms swept 1 -> 50 ms (poll_sweep): app-to-client p99 "
       "lower at 50 ms than at 1 ms", "poll_sweep",
       {"poll@50ms.lat_out_censored_us.p99 < poll.lat_out_censored_us.p99"},
       {"poll@50ms.cpu_per_link_s", "poll.cpu_per_link_s", "evloop.lat_out_censored_us.p99"}},
      {"the same sweep: slower polling costs less CPU (what it does buy)", "poll_sweep",
       {"poll@50ms.cpu_per_link_s < poll.cpu_per_link_s"}}}},
    {"推荐使用: 特殊需求场景 (special needs)", "渐进式升级：可以从双协程→单协程优化版本→协程聚合版本逐步演进",
     "gradual upgrade: from two goroutines to one to aggregation, step by step", "not measurable: a "
     "migration path. Each step's figures are in the rows above: every design runs behind the same "
     "app model here", NULL, {{0}}},

    /* ---------------------------------------------------------------- 推荐使用: 总结 */
    {"推荐使用: 总结 (summary)", "<10K连接：双协程版本（开发简单）", "<10K links: the two-goroutine version (simple to build)", NULL, NULL,
     {{"10 000 idle links (scale)", "scale@10000", {"dual.links >= 9900"}, {"dual.threads_peak", "evloop.cpu_per_link_s", "dual.cpu_per_link_s"}},
      {"10 000 links, each echoing a message every 20 s (seed_scale_10k)", "seed_scale_10k", {"dual.links >= 9900", "dual.kept_up == 1"}}}},
    {"推荐使用: 总结 (summary)", "10K-100K连接：综合优化版本（平衡性能与复杂度）",
     "10K-100K links: the combined version (balancing performance and complexity)", NULL, NULL,
     {{"10 000 links, each echoing a message every 20 s (seed_scale_10k): held, echoes delivered", "seed_scale_10k",
       {"hybrid.links >= 9900", "hybrid.kept_up == 1"}, {"hybrid.lat_out_censored_us.p99"}},
      {"50 000 links (seed_scale_50k), the C port", "seed_scale_50k", {"hybrid.links >= 49500"}},
      {"50 000 links (seed_scale_50k), the Go original", "seed_scale_50k", {"go:hybrid.links >= 49500"}}}},
    {"推荐使用: 总结 (summary)", ">100K连接：协程聚合版本（极致资源优化）", ">100K links: the aggregation version (ultimate resource optimisation)", NULL, NULL,
     {{"100 000 links (seed_scale_100k), the Go original", "seed_scale_100k", {"go:pair.links >= 99000"}},
      {"100 000 links against an event loop's CPU", "seed_scale_100k", {"go:pair.cpu_per_link_s <= evloop.cpu_per_link_s"}}}},
    {"推荐使用: 总结 (summary)", "版本4综合优化版本代表了在单 goroutine 约束下的最佳实践",
     "version 4 is best practice under the one-goroutine constraint", NULL, NULL,
     {{"among the one-goroutine designs under a light load (seed_reliability, frames kept)", "seed_reliability",
       {"rank hybrid 1 cpu_ms_per_1k_msgs batch,poll+keep,hybrid"}},
      {"server pushes to quiet clients (server_push): kept up", "server_push", {"hybrid.kept_up == 1"}},
      {"an app slower than the load (slow_consumer): nothing lost", "slow_consumer", {"hybrid.msgs_lost == 0"}}}},
    {"推荐使用: 总结 (summary)", "版本5协程聚合版本则是极端高并发场景下的终极优化方案",
     "version 5 is the ultimate optimisation for extreme concurrency", NULL, NULL,
     {{"100 000 links (seed_scale_100k): the Go original's CPU per link-second against an event loop's",
       "seed_scale_100k", {"go:pair.cpu_per_link_s <= evloop.cpu_per_link_s"}},
      {"idle wake-ups per link-second against an event loop (scale, 1 000 links)", "scale@1000",
       {"pair.wakeups_per_link_s <= evloop.wakeups_per_link_s"}},
      {"one loop over more links (pair_group_sweep: group_size 16, the seed's 扩展性限制 lifted): "
       "threads per link below 0.1", "pair_group_sweep", {"pair@g16.threads_per_link < 0.1"},
       {"pair@g16.cpu_per_link_s", "pair@g2.cpu_per_link_s", "pair@g16.lat_rtt_us.p99", "pair@g2.lat_rtt_us.p99"}}}},

    /* ---------------------------------------------------------------- the seed's flaws it calls minor */
    {"缺点 the seed calls minor (its own 缺点分析)", "版本4 缺点 2. 批量发送延迟：在低QPS场景下，消息可能需要等待批量发送，存在轻微延迟",
     "version 4, flaw 2: at low QPS a message may wait for the batch: a slight delay", NULL, NULL,
     {{"server pushes to quiet clients (server_push): \"slight\" taken as a p99 under 100 ms", "server_push",
       {"hybrid.lat_out_censored_us.p99 < 100000"}, {"evloop.lat_out_censored_us.p99"}},
      {"the read deadline swept 1 ms -> 30 s (hybrid_read_sweep): the delay is the deadline", "hybrid_read_sweep",
       {"hybrid@1s.lat_out_censored_us.p99 > 10 * hybrid@10ms.lat_out_censored_us.p99"},
       {"hybrid@10ms.cpu_per_link_s", "hybrid@1s.cpu_per_link_s"}}}},
    {"缺点 the seed calls minor (its own 缺点分析)", "版本4 缺点 4. 极端写洪峰下的读延迟：若持续高写入压力，固定 sendBatch=8 仍可能拖慢读取",
     "version 4, flaw 4: under a sustained write flood the fixed sendBatch = 8 may still slow reads", NULL, NULL,
     {{"server pushes flooding while clients send (hybrid_batch_sweep: send_batch 1 -> 128): client-to-app "
       "p99 higher at 128 than at 1", "hybrid_batch_sweep",
       {"hybrid@b128.lat_in_censored_us.p99 > hybrid@b1.lat_in_censored_us.p99"},
       {"hybrid.lat_in_censored_us.p99", "hybrid@b128.lat_out_censored_us.p99", "hybrid@b1.lat_out_censored_us.p99"}}}},
    {"缺点 the seed calls minor (its own 缺点分析)", "版本5 缺点 5. 扩展性限制：当前模型固定聚合两个连接，无法根据系统负载动态调整聚合数量",
     "version 5, flaw 5: the model aggregates a fixed two links and cannot adjust to load", NULL, NULL,
     {{"the same loop over N links (pair_group_sweep, group_size 1 -> 32): threads fall as 1/N", "pair_group_sweep",
       {"pair@g16.threads_per_link < 0.1"}, {"pair@g16.wakeups_per_link_s", "pair@g2.wakeups_per_link_s"}},
      {"... and what a bigger group costs: round-trip p99 at 16 links within 2x that at 2", "pair_group_sweep",
       {"pair@g16.lat_rtt_us.p99 <= 2 * pair@g2.lat_rtt_us.p99"}}}},

    {NULL, NULL, NULL, NULL, NULL, {{0}}},
};
