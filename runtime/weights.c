/* weights.c — the packed weights file: layout, checksum, atomic write, mmap
 * with checks.
 *
 * Byte layout, version 1 (all integers little-endian; docs/runtime.md has
 * the same table):
 *
 *   header, 64 bytes
 *     0  char[4] magic "HYCW"
 *     4  u32     version (1)
 *     8  u64     model hash
 *    16  u32     n_tensors
 *    20  u32     flags (0)
 *    24  u64     table_bytes: size of the table that follows the header
 *    32  u64     data_offset: where the data section starts (multiple of 64)
 *    40  u64     data_bytes
 *    48  u64     table checksum: XXH64 of header bytes [0, 48) then the table
 *    56  u64     data checksum: XXH64 of the data section
 *   table, at 64
 *     u32 len, model name, NUL, zeros up to a multiple of 8
 *     n_tensors entries of 64 bytes + name:
 *        0 u32 name_len   4 u32 dtype   8 u32 ndim   12 u32 0
 *       16 i64 shape[4]  48 u64 offset (in the data section)  56 u64 size
 *       64 name, NUL, zeros up to a multiple of 8
 *   zeros up to data_offset
 *   data section: tensor i at data_offset + offset_i (a multiple of 64, so
 *     every tensor is 64-byte aligned in the mapping); zeros in the gaps
 *   end of file at data_offset + data_bytes exactly.
 *
 * The checksum is XXH64 (seed 0), which runs at memory speed, unlike a
 * byte-at-a-time FNV; it matches the reference xxHash library bit for bit
 * (tests pin its published values).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC "HYCW"
#define FORMAT_VERSION 1u
#define HEADER_BYTES 64u
#define ENTRY_BYTES 64u
#define MAX_NAME 4096u

struct hycrt_weights {
    const uint8_t *map; /* the whole file */
    size_t map_bytes;
    const uint8_t *data; /* map + data_offset */
    uint64_t data_bytes;
    uint64_t hash;
    const char *model_name; /* in the map */
    int n_tensors;
    hycrt_tensor_desc *tensors; /* [n_tensors], names in the map */
};

/* ---- dtypes --------------------------------------------------------------- */

const char *hycrt_dtype_name(int dtype)
{
    switch (dtype) {
    case HYCRT_F32: return "f32";
    case HYCRT_F16: return "f16";
    case HYCRT_BF16: return "bf16";
    case HYCRT_Q8_0: return "q8_0";
    default: return "?";
    }
}

uint64_t hycrt_dtype_bytes(int dtype, uint64_t n)
{
    switch (dtype) {
    case HYCRT_F32: return n <= UINT64_MAX / 4 ? 4 * n : 0;
    case HYCRT_F16:
    case HYCRT_BF16: return n <= UINT64_MAX / 2 ? 2 * n : 0;
    case HYCRT_Q8_0: return n % 32 == 0 ? n / 32 * 34 : 0;
    default: return 0;
    }
}

/* ---- XXH64 ---------------------------------------------------------------- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

typedef struct Xxh64 {
    uint64_t v[4];
    uint64_t total;
    uint8_t buf[32];
    size_t buf_n;
} Xxh64;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t xxh_merge(uint64_t h, uint64_t v)
{
    h ^= xxh_round(0, v);
    return h * P1 + P4;
}

static void xxh_init(Xxh64 *x)
{
    x->v[0] = P1 + P2;
    x->v[1] = P2;
    x->v[2] = 0;
    x->v[3] = (uint64_t)0 - P1;
    x->total = 0;
    x->buf_n = 0;
}

/* Four independent lanes over 32-byte stripes: the loop the speed is in. */
static const uint8_t *xxh_stripes(uint64_t v[4], const uint8_t *p, const uint8_t *end)
{
    uint64_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
    while (end - p >= 32) {
        v0 = xxh_round(v0, rd64(p));
        v1 = xxh_round(v1, rd64(p + 8));
        v2 = xxh_round(v2, rd64(p + 16));
        v3 = xxh_round(v3, rd64(p + 24));
        p += 32;
    }
    v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
    return p;
}

static void xxh_update(Xxh64 *x, const void *data, size_t n)
{
    const uint8_t *p = data, *end = p + n;
    x->total += n;
    if (x->buf_n + n < 32) {
        if (n)
            memcpy(x->buf + x->buf_n, p, n);
        x->buf_n += n;
        return;
    }
    if (x->buf_n) {
        size_t fill = 32 - x->buf_n;
        memcpy(x->buf + x->buf_n, p, fill);
        xxh_stripes(x->v, x->buf, x->buf + 32);
        p += fill;
        x->buf_n = 0;
    }
    p = xxh_stripes(x->v, p, end);
    x->buf_n = (size_t)(end - p);
    if (x->buf_n)
        memcpy(x->buf, p, x->buf_n);
}

static uint64_t xxh_digest(const Xxh64 *x)
{
    uint64_t h;
    if (x->total >= 32) {
        h = rotl64(x->v[0], 1) + rotl64(x->v[1], 7) + rotl64(x->v[2], 12) +
            rotl64(x->v[3], 18);
        for (int i = 0; i < 4; i++)
            h = xxh_merge(h, x->v[i]);
    } else {
        h = x->v[2] + P5; /* v[2] holds the seed, 0 */
    }
    h += x->total;
    const uint8_t *p = x->buf, *end = x->buf + x->buf_n;
    for (; end - p >= 8; p += 8) {
        h ^= xxh_round(0, rd64(p));
        h = rotl64(h, 27) * P1 + P4;
    }
    if (end - p >= 4) {
        h ^= (uint64_t)rd32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) {
        h ^= *p * P5;
        h = rotl64(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t hycrt_hash64(const void *data, size_t n)
{
    Xxh64 x;
    xxh_init(&x);
    xxh_update(&x, data, n);
    return xxh_digest(&x);
}

/* ---- tables --------------------------------------------------------------- */

static void fmt_shape(char *buf, size_t len, const hycrt_tensor_desc *t)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < t->ndim && d < HYCRT_MAX_DIMS && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%" PRId64, d ? ", " : "",
                               t->shape[d]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* Elements of t, or 0 if its dtype/ndim/shape is invalid (message in err). */
static uint64_t check_shape(const hycrt_tensor_desc *t, int i, const char *what,
                            char *err, size_t errlen)
{
    if (t->dtype < 0 || t->dtype >= HYCRT_DTYPE_COUNT) {
        rt_errf(err, errlen, "%s: tensor %d '%s': unknown dtype %d", what, i,
                t->name, (int)t->dtype);
        return 0;
    }
    if (t->ndim < 1 || t->ndim > HYCRT_MAX_DIMS) {
        rt_errf(err, errlen, "%s: tensor %d '%s': ndim %d is not in [1, %d]",
                what, i, t->name, (int)t->ndim, HYCRT_MAX_DIMS);
        return 0;
    }
    uint64_t n = 1;
    for (int d = 0; d < HYCRT_MAX_DIMS; d++) {
        int64_t s = t->shape[d];
        bool bad = d < t->ndim ? (s <= 0 || (uint64_t)s > UINT64_MAX / n) : s != 0;
        if (bad) {
            rt_errf(err, errlen, "%s: tensor %d '%s': bad dimension %d (%" PRId64 ")",
                    what, i, t->name, d, s);
            return 0;
        }
        if (d < t->ndim)
            n *= (uint64_t)s;
    }
    if (t->dtype == HYCRT_Q8_0 && t->shape[t->ndim - 1] % 32 != 0) {
        rt_errf(err, errlen, "%s: tensor %d '%s': q8_0 needs a last dimension "
                "that is a multiple of 32", what, i, t->name);
        return 0;
    }
    if (hycrt_dtype_bytes(t->dtype, n) == 0) {
        rt_errf(err, errlen, "%s: tensor %d '%s': too large", what, i, t->name);
        return 0;
    }
    return n;
}

static bool check_name(const char *name, int i, const char *what, char *err,
                       size_t errlen)
{
    if (!name || !name[0] || strlen(name) >= MAX_NAME) {
        rt_errf(err, errlen, "%s: tensor %d has %s name", what, i,
                !name || !name[0] ? "an empty" : "a too long");
        return false;
    }
    return true;
}

int rt_check_table(const hycrt_tensor_desc *t, int n, uint64_t data_bytes,
                   const char *what, char *err, size_t errlen)
{
    if (n < 0 || (n > 0 && !t)) {
        rt_errf(err, errlen, "%s: bad tensor count %d", what, n);
        return HYCRT_E_INVALID;
    }
    uint64_t end = 0;
    for (int i = 0; i < n; i++) {
        if (!check_name(t[i].name, i, what, err, errlen))
            return HYCRT_E_INVALID;
        uint64_t elems = check_shape(&t[i], i, what, err, errlen);
        if (elems == 0)
            return HYCRT_E_INVALID;
        uint64_t want = hycrt_dtype_bytes(t[i].dtype, elems);
        if (t[i].size != want) {
            rt_errf(err, errlen, "%s: tensor %d '%s': size %" PRIu64 " bytes, "
                    "its dtype and shape need %" PRIu64, what, i, t[i].name,
                    t[i].size, want);
            return HYCRT_E_INVALID;
        }
        if (t[i].offset % HYCRT_ALIGN != 0 || t[i].offset < end) {
            rt_errf(err, errlen, "%s: tensor %d '%s': offset %" PRIu64 " is %s",
                    what, i, t[i].name, t[i].offset,
                    t[i].offset % HYCRT_ALIGN ? "not a multiple of 64"
                                              : "before the end of the previous tensor");
            return HYCRT_E_INVALID;
        }
        if (t[i].size > data_bytes || t[i].offset > data_bytes - t[i].size) {
            rt_errf(err, errlen, "%s: tensor %d '%s' ends past the data section "
                    "(%" PRIu64 " bytes)", what, i, t[i].name, data_bytes);
            return HYCRT_E_INVALID;
        }
        end = t[i].offset + t[i].size;
    }
    return HYCRT_OK;
}

int hycrt_weights_layout(hycrt_tensor_desc *t, int n, uint64_t *data_bytes,
                         char *err, size_t errlen)
{
    const char *what = "weights layout";
    if (n < 0 || (n > 0 && !t)) {
        rt_errf(err, errlen, "%s: bad tensor count %d", what, n);
        return HYCRT_E_INVALID;
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (!check_name(t[i].name, i, what, err, errlen))
            return HYCRT_E_INVALID;
        uint64_t elems = check_shape(&t[i], i, what, err, errlen);
        if (elems == 0)
            return HYCRT_E_INVALID;
        t[i].offset = rt_round_up(at, HYCRT_ALIGN);
        t[i].size = hycrt_dtype_bytes(t[i].dtype, elems);
        at = t[i].offset + t[i].size;
    }
    *data_bytes = rt_round_up(at, HYCRT_ALIGN);
    return HYCRT_OK;
}

/* ---- writing -------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint64_t name_field_bytes(size_t len) { return rt_round_up(len + 1, 8); }

/* The header and table, checksummed, in one malloc'ed buffer of
 * data_offset bytes (the zero padding before the data included). */
static uint8_t *build_head(const hycrt_model_desc *m, uint64_t data_checksum,
                           uint64_t *head_bytes)
{
    size_t name_len = strlen(m->name);
    uint64_t table = rt_round_up(4 + name_len + 1, 8);
    for (int i = 0; i < m->n_tensors; i++)
        table += ENTRY_BYTES + name_field_bytes(strlen(m->tensors[i].name));
    uint64_t data_offset = rt_round_up(HEADER_BYTES + table, HYCRT_ALIGN);
    uint8_t *h = calloc(1, data_offset);
    if (!h)
        return NULL;

    memcpy(h, MAGIC, 4);
    put32(h + 4, FORMAT_VERSION);
    put64(h + 8, m->hash);
    put32(h + 16, (uint32_t)m->n_tensors);
    put32(h + 20, 0);
    put64(h + 24, table);
    put64(h + 32, data_offset);
    put64(h + 40, m->weights_bytes);
    put64(h + 56, data_checksum);

    uint8_t *p = h + HEADER_BYTES;
    put32(p, (uint32_t)name_len);
    memcpy(p + 4, m->name, name_len);
    p += rt_round_up(4 + name_len + 1, 8);
    for (int i = 0; i < m->n_tensors; i++) {
        const hycrt_tensor_desc *t = &m->tensors[i];
        size_t len = strlen(t->name);
        put32(p, (uint32_t)len);
        put32(p + 4, (uint32_t)t->dtype);
        put32(p + 8, (uint32_t)t->ndim);
        for (int d = 0; d < HYCRT_MAX_DIMS; d++)
            put64(p + 16 + 8 * d, (uint64_t)t->shape[d]);
        put64(p + 48, t->offset);
        put64(p + 56, t->size);
        memcpy(p + ENTRY_BYTES, t->name, len);
        p += ENTRY_BYTES + name_field_bytes(len);
    }

    Xxh64 x;
    xxh_init(&x);
    xxh_update(&x, h, 48);
    xxh_update(&x, h + HEADER_BYTES, table);
    put64(h + 48, xxh_digest(&x));
    *head_bytes = data_offset;
    return h;
}

static const uint8_t zeros[HYCRT_ALIGN];

/* Walks the data section in file order: each tensor's bytes, and zeros in
 * the gaps; hashes them into x (if not NULL), writes them to f (if not
 * NULL). */
static int walk_data(const hycrt_model_desc *m, const void *const *data,
                     Xxh64 *x, FILE *f)
{
    uint64_t at = 0;
    for (int i = 0; i <= m->n_tensors; i++) {
        uint64_t next = i < m->n_tensors ? m->tensors[i].offset : m->weights_bytes;
        while (at < next) {
            size_t k = next - at < sizeof zeros ? (size_t)(next - at) : sizeof zeros;
            if (x)
                xxh_update(x, zeros, k);
            if (f && fwrite(zeros, 1, k, f) != k)
                return HYCRT_E_IO;
            at += k;
        }
        if (i == m->n_tensors)
            break;
        size_t size = (size_t)m->tensors[i].size;
        if (x)
            xxh_update(x, data[i], size);
        if (f && size && fwrite(data[i], 1, size, f) != size)
            return HYCRT_E_IO;
        at += size;
    }
    return HYCRT_OK;
}

int hycrt_weights_write(const char *path, const hycrt_model_desc *m,
                        const void *const *data, char *err, size_t errlen)
{
    if (!path || !m || !m->name || (m->n_tensors > 0 && !data)) {
        rt_errf(err, errlen, "hycrt_weights_write: NULL argument");
        return HYCRT_E_INVALID;
    }
    if (strlen(m->name) >= MAX_NAME) {
        rt_errf(err, errlen, "hycrt_weights_write: model name too long");
        return HYCRT_E_INVALID;
    }
    if (m->weights_bytes % HYCRT_ALIGN != 0 || m->weights_bytes > SIZE_MAX) {
        rt_errf(err, errlen, "hycrt_weights_write: weights_bytes %" PRIu64
                " is not a multiple of 64", m->weights_bytes);
        return HYCRT_E_INVALID;
    }
    int rc = rt_check_table(m->tensors, m->n_tensors, m->weights_bytes,
                            "hycrt_weights_write", err, errlen);
    if (rc)
        return rc;
    for (int i = 0; i < m->n_tensors; i++) {
        if (!data[i] && m->tensors[i].size) {
            rt_errf(err, errlen, "hycrt_weights_write: no data for tensor %d '%s'",
                    i, m->tensors[i].name);
            return HYCRT_E_INVALID;
        }
    }

    /* Hash first (memory speed), so the file is written in one pass. */
    Xxh64 x;
    xxh_init(&x);
    walk_data(m, data, &x, NULL);
    uint64_t head_bytes;
    uint8_t *head = build_head(m, xxh_digest(&x), &head_bytes);
    if (!head) {
        rt_errf(err, errlen, "hycrt_weights_write: out of memory");
        return HYCRT_E_NOMEM;
    }

    size_t tmplen = strlen(path) + 16;
    char *tmp = malloc(tmplen);
    FILE *f = tmp ? rt_atomic_open(path, tmp, tmplen, err, errlen) : NULL;
    if (!f) {
        if (!tmp)
            rt_errf(err, errlen, "hycrt_weights_write: out of memory");
        free(tmp);
        free(head);
        return tmp ? HYCRT_E_IO : HYCRT_E_NOMEM;
    }
    fchmod(fileno(f), 0644); /* mkstemp makes 0600: a weights file is data */
    if (fwrite(head, 1, head_bytes, f) != head_bytes || walk_data(m, data, NULL, f)) {
        rt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        rt_atomic_abort(f, tmp);
        rc = HYCRT_E_IO;
    } else {
        rc = rt_atomic_commit(f, tmp, path, err, errlen);
    }
    free(tmp);
    free(head);
    return rc;
}

/* ---- reading -------------------------------------------------------------- */

static void hash_text(char *buf, size_t len, uint64_t h)
{
    snprintf(buf, len, "0x%016" PRIx64, h);
}

/* Parses the table at map + 64 into w (names point into the map). */
static bool parse_table(hycrt_weights *w, const uint8_t *tab, uint64_t table_bytes,
                        uint32_t n, const char *path, char *err, size_t errlen)
{
    const uint8_t *p = tab, *end = tab + table_bytes;
#define NEED(k, what_)                                                          \
    do {                                                                        \
        if ((uint64_t)(end - p) < (uint64_t)(k)) {                              \
            rt_errf(err, errlen, "weights file '%s' is corrupted: its tensor "   \
                    "table ends inside %s", path, what_);                        \
            return false;                                                       \
        }                                                                       \
    } while (0)

    NEED(4, "the model name");
    uint32_t len = rd32(p);
    uint64_t field = rt_round_up(4 + (uint64_t)len + 1, 8);
    NEED(field, "the model name");
    if (len >= MAX_NAME || p[4 + len] != 0 || memchr(p + 4, 0, len)) {
        rt_errf(err, errlen, "weights file '%s' is corrupted: bad model name", path);
        return false;
    }
    w->model_name = (const char *)p + 4;
    p += field;

    w->tensors = calloc(n ? n : 1, sizeof *w->tensors);
    if (!w->tensors) {
        rt_errf(err, errlen, "out of memory reading '%s'", path);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        NEED(ENTRY_BYTES, "an entry");
        hycrt_tensor_desc *t = &w->tensors[i];
        uint32_t nl = rd32(p);
        uint64_t nf = name_field_bytes(nl);
        NEED(ENTRY_BYTES + nf, "a tensor name");
        const char *name = (const char *)p + ENTRY_BYTES;
        if (nl == 0 || nl >= MAX_NAME || name[nl] != 0 || memchr(name, 0, nl)) {
            rt_errf(err, errlen, "weights file '%s' is corrupted: bad name of "
                    "tensor %u", path, i);
            return false;
        }
        uint32_t dtype = rd32(p + 4), ndim = rd32(p + 8);
        t->name = name;
        t->dtype = dtype < HYCRT_DTYPE_COUNT ? (int32_t)dtype : -1;
        t->ndim = ndim <= HYCRT_MAX_DIMS ? (int32_t)ndim : -1;
        for (int d = 0; d < HYCRT_MAX_DIMS; d++)
            t->shape[d] = (int64_t)rd64(p + 16 + 8 * d);
        t->offset = rd64(p + 48);
        t->size = rd64(p + 56);
        p += ENTRY_BYTES + nf;
    }
    if (p != end) {
        rt_errf(err, errlen, "weights file '%s' is corrupted: %td unused bytes "
                "after its tensor table", path, end - p);
        return false;
    }
    char what[600];
    snprintf(what, sizeof what, "weights file '%s' is corrupted", path);
    return rt_check_table(w->tensors, (int)n, w->data_bytes, what, err, errlen) == 0;
#undef NEED
}

static bool same_tensor(const hycrt_tensor_desc *a, const hycrt_tensor_desc *b)
{
    if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->ndim != b->ndim ||
        a->offset != b->offset || a->size != b->size)
        return false;
    for (int d = 0; d < HYCRT_MAX_DIMS; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

static void describe(char *buf, size_t len, const hycrt_tensor_desc *t)
{
    char shape[128];
    fmt_shape(shape, sizeof shape, t);
    snprintf(buf, len, "'%s' %s %s at +%" PRIu64 " (%" PRIu64 " bytes)", t->name,
             hycrt_dtype_name(t->dtype), shape, t->offset, t->size);
}

/* The file's table against the descriptor's. */
static bool match_model(const hycrt_weights *w, const hycrt_model_desc *m,
                        const char *path, char *err, size_t errlen)
{
    char a[64], b[64];
    if (w->hash != m->hash) {
        hash_text(a, sizeof a, w->hash);
        hash_text(b, sizeof b, m->hash);
        rt_errf(err, errlen, "weights file '%s' was built for another model "
                "('%s', hash %s), this binary expects '%s' (hash %s)",
                path, w->model_name, a, m->name ? m->name : "?", b);
        return false;
    }
    if (w->n_tensors != m->n_tensors) {
        rt_errf(err, errlen, "weights file '%s' does not match model '%s': it "
                "has %d tensors, the model %d", path, m->name, w->n_tensors,
                (int)m->n_tensors);
        return false;
    }
    for (int i = 0; i < w->n_tensors; i++) {
        if (!same_tensor(&w->tensors[i], &m->tensors[i])) {
            char fa[256], fb[256];
            describe(fa, sizeof fa, &w->tensors[i]);
            describe(fb, sizeof fb, &m->tensors[i]);
            rt_errf(err, errlen, "weights file '%s' does not match model '%s': "
                    "tensor %d is %s in the file, %s in the model", path,
                    m->name, i, fa, fb);
            return false;
        }
    }
    if (w->data_bytes != m->weights_bytes) {
        rt_errf(err, errlen, "weights file '%s' does not match model '%s': "
                "%" PRIu64 " bytes of data, the model expects %" PRIu64, path,
                m->name, w->data_bytes, m->weights_bytes);
        return false;
    }
    return true;
}

static hycrt_weights *fail(hycrt_weights *w, int fd)
{
    if (fd >= 0)
        close(fd);
    hycrt_weights_close(w);
    return NULL;
}

hycrt_weights *hycrt_weights_open(const char *path, const hycrt_model_desc *model,
                                  unsigned flags, char *err, size_t errlen)
{
    if (!path) {
        rt_errf(err, errlen, "hycrt_weights_open: no path");
        return NULL;
    }
    hycrt_weights *w = calloc(1, sizeof *w);
    if (!w) {
        rt_errf(err, errlen, "out of memory opening '%s'", path);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rt_errf(err, errlen, "cannot open weights file '%s': %s", path, strerror(errno));
        return fail(w, fd);
    }
    if (!S_ISREG(st.st_mode)) {
        rt_errf(err, errlen, "weights file '%s' is not a regular file", path);
        return fail(w, fd);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0 || size > SIZE_MAX) {
        rt_errf(err, errlen, "weights file '%s' is %s", path, size ? "too large" : "empty");
        return fail(w, fd);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rt_errf(err, errlen, "cannot map weights file '%s': %s", path, strerror(errno));
        return fail(w, fd);
    }
    close(fd);
    fd = -1;
    w->map = map;
    w->map_bytes = (size_t)size;
    const uint8_t *h = w->map;

    if (size < 4 || memcmp(h, MAGIC, 4) != 0) {
        rt_errf(err, errlen, "'%s' is not a hyc weights file (bad magic)", path);
        return fail(w, fd);
    }
    if (size < HEADER_BYTES) {
        rt_errf(err, errlen, "weights file '%s' is truncated: %" PRIu64 " bytes, "
                "shorter than its %u-byte header", path, size, HEADER_BYTES);
        return fail(w, fd);
    }
    uint32_t version = rd32(h + 4);
    if (version != FORMAT_VERSION) {
        rt_errf(err, errlen, "weights file '%s' has format version %u; this "
                "runtime reads version %u (rebuild it with this hyc)", path,
                version, FORMAT_VERSION);
        return fail(w, fd);
    }
    w->hash = rd64(h + 8);
    uint32_t n = rd32(h + 16);
    uint64_t table_bytes = rd64(h + 24), data_offset = rd64(h + 32);
    w->data_bytes = rd64(h + 40);
    uint64_t table_sum = rd64(h + 48), data_sum = rd64(h + 56);
    /* Bounds before anything is read through them; each sum is checked
     * against overflow since the values are untrusted. */
    if (n > INT32_MAX / 2 || table_bytes > size || data_offset % HYCRT_ALIGN ||
        data_offset < HEADER_BYTES + table_bytes || data_offset > UINT64_MAX - w->data_bytes) {
        rt_errf(err, errlen, "weights file '%s' is corrupted: impossible sizes "
                "in its header", path);
        return fail(w, fd);
    }
    uint64_t want = data_offset + w->data_bytes;
    if (size < want) {
        rt_errf(err, errlen, "weights file '%s' is truncated: %" PRIu64 " bytes, "
                "its header says %" PRIu64, path, size, want);
        return fail(w, fd);
    }
    if (size > want) {
        rt_errf(err, errlen, "weights file '%s' has %" PRIu64 " bytes after the "
                "end of its data (corrupted?)", path, size - want);
        return fail(w, fd);
    }
    Xxh64 x;
    xxh_init(&x);
    xxh_update(&x, h, 48);
    xxh_update(&x, h + HEADER_BYTES, (size_t)table_bytes);
    uint64_t got = xxh_digest(&x);
    if (got != table_sum) {
        rt_errf(err, errlen, "weights file '%s' is corrupted: the checksum of "
                "its header and tensor table does not match", path);
        return fail(w, fd);
    }
    w->data = h + data_offset;
    w->n_tensors = (int)n;
    if (!parse_table(w, h + HEADER_BYTES, table_bytes, n, path, err, errlen))
        return fail(w, fd);
    if (model && !match_model(w, model, path, err, errlen))
        return fail(w, fd);

    if (!(flags & HYCRT_WEIGHTS_NO_VERIFY)) {
#ifdef MADV_SEQUENTIAL
        madvise((void *)w->map, w->map_bytes, MADV_SEQUENTIAL);
#endif
        got = hycrt_hash64(w->data, (size_t)w->data_bytes);
#ifdef MADV_NORMAL
        madvise((void *)w->map, w->map_bytes, MADV_NORMAL);
#endif
        if (got != data_sum) {
            char a[64], b[64];
            hash_text(a, sizeof a, got);
            hash_text(b, sizeof b, data_sum);
            rt_errf(err, errlen, "weights file '%s' is corrupted: data checksum "
                    "%s, its header records %s", path, a, b);
            return fail(w, fd);
        }
    }
    return w;
}

void hycrt_weights_close(hycrt_weights *w)
{
    if (!w)
        return;
    if (w->map)
        munmap((void *)w->map, w->map_bytes);
    free(w->tensors);
    free(w);
}

const uint8_t *hycrt_weights_data(const hycrt_weights *w) { return w->data; }
uint64_t hycrt_weights_data_bytes(const hycrt_weights *w) { return w->data_bytes; }
uint64_t hycrt_weights_model_hash(const hycrt_weights *w) { return w->hash; }
const char *hycrt_weights_model_name(const hycrt_weights *w) { return w->model_name; }
int hycrt_weights_n_tensors(const hycrt_weights *w) { return w->n_tensors; }

const hycrt_tensor_desc *hycrt_weights_tensor(const hycrt_weights *w, int i)
{
    return i >= 0 && i < w->n_tensors ? &w->tensors[i] : NULL;
}

const void *hycrt_weights_find(const hycrt_weights *w, const char *name)
{
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return w->data + w->tensors[i].offset;
    return NULL;
}
