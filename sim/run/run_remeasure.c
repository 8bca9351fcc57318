/* run_remeasure.c — a repetition whose driver was saturated, measured again: the saturated run set aside in the report (with why and its series file), never dropped. */
#include "run_remeasure.h"

#include <stdio.h>
#include <string.h>

bool run_remeasure_take(json_t *runs, json_t *discarded, int attempt, int max, const char *dir)
{
    size_t n = json_array_size(runs);
    if (!n || attempt >= max || !discarded)
        return false;
    json_t *run = json_array_get(runs, n - 1);
    const json_t *fl = json_object_get(run, "flags");
    if (!json_is_true(json_object_get(fl, "driver_saturated")) ||
        json_is_true(json_object_get(fl, "partial")) ||
        json_array_size(json_object_get(fl, "invalid_reasons")) > 0)
        return false;
    json_incref(run);
    json_array_remove(runs, n - 1);
    /* the run measured again writes the same series name: this one keeps its own */
    const char *series = json_string_value(json_object_get(run, "series"));
    size_t sl = series ? strlen(series) : 0;
    if (sl > 4 && !strcmp(series + sl - 4, ".csv")) {
        char from[4200], to[4300], name[400];
        snprintf(name, sizeof name, "%.*s_discarded%d.csv", (int)(sl - 4), series, attempt + 1);
        snprintf(from, sizeof from, "%s/%s", dir, series);
        snprintf(to, sizeof to, "%s/%s", dir, name);
        json_object_set_new(run, "series", rename(from, to) == 0 ? json_string(name) : json_null());
    }
    /* its figures stay (metrics, flags, placement); the histograms are the kept run's */
    json_object_del(run, "histograms");
    const char *why = json_string_value(json_object_get(fl, "driver_saturated_why"));
    char text[256];
    snprintf(text, sizeof text, "the driver was saturated (%s): measured again", why ? why : "?");
    json_object_set_new(run, "discarded", json_pack("{s:i,s:s}", "attempt", attempt + 1, "why", text));
    json_array_append_new(discarded, run);
    return true;
}

void run_remeasure_attach(json_t *report, json_t *discarded)
{
    if (!report) {
        json_decref(discarded);
        return;
    }
    size_t n = json_array_size(discarded);
    json_object_set_new(report, "discarded_runs", discarded ? discarded : json_array());
    json_t *fl = json_object_get(report, "flags");
    if (fl)
        json_object_set_new(fl, "remeasured", json_integer((json_int_t)n));
}
