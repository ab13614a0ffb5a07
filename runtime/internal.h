/* internal.h — what the runtime's files share and nobody else sees.  Not
 * installed: generated code and users include only hycrt.h.  Sections per
 * file, as elsewhere in hyc. */
#ifndef HYCRT_INTERNAL_H
#define HYCRT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "hycrt.h"

#if defined(__GNUC__)
#define RT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RT_PRINTF(f, a)
#endif

/* The weights format and the hot paths read little-endian data in place. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libhycrt needs a little-endian host"
#endif

/* ---- util.c -------------------------------------------------------------- */

/* Writes a message into err[errlen] (if err is not NULL). */
void rt_errf(char *err, size_t errlen, const char *fmt, ...) RT_PRINTF(3, 4);

/* Memory whose start is a multiple of HYCRT_ALIGN, and whose size is rounded
 * up to one; free with free(). NULL on failure. */
void *rt_alloc_aligned(size_t size);
static inline uint64_t rt_round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) / a * a;
}

/* Atomic file replacement: open a temporary file beside `path`, write it,
 * then rt_atomic_commit (flush + fsync + rename) or rt_atomic_abort
 * (close + unlink).  tmp must hold strlen(path) + 16 bytes. */
FILE *rt_atomic_open(const char *path, char *tmp, size_t tmplen, char *err,
                     size_t errlen);
int rt_atomic_commit(FILE *f, const char *tmp, const char *path, char *err,
                     size_t errlen);
void rt_atomic_abort(FILE *f, const char *tmp);

/* ---- weights.c ----------------------------------------------------------- */

/* Checks a descriptor's tensor table on its own (dtypes, shapes, sizes,
 * alignment, overlap, bounds against data_bytes); 0 or HYCRT_E_INVALID. */
int rt_check_table(const hycrt_tensor_desc *t, int n, uint64_t data_bytes,
                   const char *what, char *err, size_t errlen);

/* ---- session.c ----------------------------------------------------------- */

/* Checks a descriptor from generated code: ABI version, sizes, tensor table.
 * false with a message in err. */
bool rt_check_desc(const hycrt_model_desc *d, char *err, size_t errlen);

#endif /* HYCRT_INTERNAL_H */
