/* rep_md.h — report.md: the machine record, the seed's comparison table rebuilt from measurements, and a paragraph generated from the numbers. */
#ifndef LINKBENCH_REP_MD_H
#define LINKBENCH_REP_MD_H

#include <stddef.h>

#include <jansson.h>

/* The markdown for one report (report.json's object):
 *   # <scenario> — <links> links           the description, runs and repetitions
 *   machine record                          cpus, model, kernel, placement, steal
 *   ## Measured comparison (性能对比总结)     one row per variant, medians:
 *       threads/link, CPU per 1k msgs, CPU per link-second, latency p50/p99 each way,
 *       drops, lost, RSS per link, loss policy declared -> observed
 *   ## What the numbers show                one paragraph, every sentence computed
 *       from the summary: who dropped and how many, who polled (wake-ups per
 *       link-second against messages per link-second), who delayed server->client
 *       messages and by how much, ratios to evloop (or to the cheapest variant)
 *   ## Expectations                         the expect lines, held or not
 *   ## Files                                data and charts beside the report
 * Returns a new string (free it), NULL on ENOMEM or a report without a summary. */
char *rep_md_string(const json_t *report);

/* rep_md_string into path, atomically. 0 or a negative errno with "path: reason". */
int rep_md_write(const json_t *report, const char *path, char *err, size_t errlen);

/* A latency in µs as people read it: "850 µs", "21.3 ms", "1.20 s"; "-" for NaN. */
void rep_md_lat(char *out, size_t len, double us);

#endif
