/* util.c — small pieces the other runtime files share: messages, aligned
 * memory, atomic file replacement, the clock, error strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void rt_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void *rt_alloc_aligned(size_t size)
{
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (size + HYCRT_ALIGN - 1) / HYCRT_ALIGN * HYCRT_ALIGN;
    if (rounded < size)
        return NULL;
    return aligned_alloc(HYCRT_ALIGN, rounded ? rounded : HYCRT_ALIGN);
}

FILE *rt_atomic_open(const char *path, char *tmp, size_t tmplen, char *err,
                     size_t errlen)
{
    /* Beside the target, so that rename() stays within one file system. */
    int n = snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= tmplen) {
        rt_errf(err, errlen, "path too long: '%s'", path);
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rt_errf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        rt_errf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return NULL;
    }
    return f;
}

int rt_atomic_commit(FILE *f, const char *tmp, const char *path, char *err,
                     size_t errlen)
{
    int e = 0;
    if (ferror(f) || fflush(f) != 0)
        e = errno ? errno : EIO;
    else if (fsync(fileno(f)) != 0 && errno != EINVAL) /* EINVAL: a pipe etc. */
        e = errno;
    if (fclose(f) != 0 && e == 0)
        e = errno ? errno : EIO;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        rt_errf(err, errlen, "cannot write '%s': %s", path, strerror(e));
        return HYCRT_E_IO;
    }
    return HYCRT_OK;
}

void rt_atomic_abort(FILE *f, const char *tmp)
{
    if (f)
        fclose(f);
    unlink(tmp);
}

uint64_t hycrt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *hycrt_strerror(int code)
{
    switch (code) {
    case HYCRT_OK: return "success";
    case HYCRT_E_INVALID: return "invalid argument";
    case HYCRT_E_FULL: return "context full";
    case HYCRT_E_NOMEM: return "out of memory";
    case HYCRT_E_IO: return "input/output error";
    case HYCRT_E_FORMAT: return "bad weights file";
    case HYCRT_E_FORWARD: return "forward pass failed";
    default: return "unknown error";
    }
}

const char *hycrt_version(void)
{
    return "0.1.0";
}
