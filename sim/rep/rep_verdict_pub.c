/* rep_verdict_pub.c — publish what the verdict page reads: per report its report.md, its charts and its report.json without the runs (the summary the rules read), under one directory the page links into. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_file.h"
#include "rep_report.h"
#include "rep_verdict.h"

static int mkdirs(const char *path)
{
    char p[3 * PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) < 0 && errno != EEXIST)
                return -errno;
            *s = '/';
        }
    return mkdir(p, 0777) < 0 && errno != EEXIST ? -errno : 0;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    FILE *f = fopen(from, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", from, strerror(errno));
        return -errno;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    fclose(m);
    int rc = lb_write_atomic(to, buf, len, err, errlen);
    free(buf);
    return rc;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* <pub>/<scenario> for a report, <pub>/<scenario>/links_<N> for a step (its directory is
 * named links_<N> by the run). */
static void dest_of(const char *pub, const json_t *rep, const char *path, char *out, size_t len)
{
    const char *name = json_string_value(json_object_get(json_object_get(rep, "scenario"), "name"));
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *s = strrchr(d, '/');
    if (s)
        *s = 0;
    const char *base = strrchr(d, '/');
    base = base ? base + 1 : d;
    if (!strncmp(base, "links_", 6))
        snprintf(out, len, "%s/%s/%s", pub, name ? name : "unnamed", base);
    else
        snprintf(out, len, "%s/%s", pub, name ? name : "unnamed");
}

/* One report into dst: report.md, every PNG chart, report.json without its runs. */
static int publish_one(const json_t *rep, const char *path, const char *dst, char *err, size_t errlen)
{
    int rc = mkdirs(dst);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", dst, strerror(-rc));
        return rc;
    }
    char src[PATH_MAX], from[PATH_MAX + 300], to[3 * PATH_MAX];
    snprintf(src, sizeof src, "%s", path);
    char *s = strrchr(src, '/');
    if (s)
        *s = 0;
    DIR *dir = opendir(src);
    struct dirent *e;
    while (rc == 0 && dir && (e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        if (strcmp(e->d_name, "report.md") && !(l > 4 && !strcmp(e->d_name + l - 4, ".png")))
            continue;
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        rc = copy_file(from, to, err, errlen);
    }
    if (dir)
        closedir(dir);
    if (rc < 0)
        return rc;
    /* the summary the rules read; the runs (histograms, per-run detail) stay in the run's
     * directory */
    json_t *copy = json_deep_copy(rep);
    json_object_del(copy, "runs");
    json_object_set_new(copy, "published", json_string(
        "runs left out: each run's detail and histograms are in the results directory this was "
        "published from"));
    char *text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(copy);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(to, sizeof to, "%s/report.json", dst);
    rc = lb_write_atomic(to, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

int rv_publish(json_t *const *reps, char **paths, int n, const bool *used, const char *pub,
               char *err, size_t errlen)
{
    /* a fresh directory, then swapped in: nothing of an earlier publication stays */
    char fresh[PATH_MAX], old[PATH_MAX];
    snprintf(fresh, sizeof fresh, "%s.new", pub);
    snprintf(old, sizeof old, "%s.old", pub);
    nftw(fresh, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < n; i++) {
        if (!used[i])
            continue;
        char dst[2 * PATH_MAX + 512];
        dest_of(fresh, reps[i], paths[i], dst, sizeof dst);
        int rc = publish_one(reps[i], paths[i], dst, err, errlen);
        if (rc < 0)
            return rc;
        /* the page links to the published copy */
        char *np = malloc(strlen(dst) - strlen(fresh) + strlen(pub) + 16);
        if (!np) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        sprintf(np, "%s%s/report.json", pub, dst + strlen(fresh));
        free(paths[i]);
        paths[i] = np;
    }
    nftw(old, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (access(pub, F_OK) == 0 && rename(pub, old) < 0) {
        snprintf(err, errlen, "%s: %s", pub, strerror(errno));
        return -errno;
    }
    if (rename(fresh, pub) < 0) {
        snprintf(err, errlen, "%s: %s", pub, strerror(errno));
        return -errno;
    }
    nftw(old, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
