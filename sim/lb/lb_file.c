/* lb_file.c — the atomic file replace: a temporary in the same directory, write, fsync, rename, fsync of the directory. */
#include "lb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
    close(fd);
    return rc;
}

int lb_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return say(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG)), -ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        return say(err, errlen, "%s: %s", path, strerror(e)), -e;
    }
    int rc = 0;
    const char *p = data;
    size_t left = len;
    while (left > 0 && rc == 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    /* mkstemp creates 0600; a report is for everyone to read */
    if (rc == 0 && fchmod(fd, 0644) < 0)
        rc = -errno;
    /* ENOSPC and EIO on delayed allocation surface only here or at close */
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return say(err, errlen, "%s: %s", path, strerror(-rc)), rc;
    }
    if ((rc = fsync_dir_of(path)) < 0)
        return say(err, errlen, "%s: %s", path, strerror(-rc)), rc;
    return 0;
}
