/* safetensors.c — reading (mmap, validate everything once at open), dtype
 * conversion, writing F32/I32 files, and sharded checkpoints (StSet).
 *
 * Layout of a file: u64 little-endian N, N bytes of JSON header, data area.
 * Offsets in the header are relative to the data area.  After st_open
 * succeeds, every tensor's [begin, end) lies inside the data area, holds
 * exactly numel * dtype-size bytes, and overlaps no other tensor, so readers
 * never need to check again.
 */
#include "formats.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dtypes ---------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I8] = {"I8", 1}, [ST_U8] = {"U8", 1}, [ST_BOOL] = {"BOOL", 1},
};

const char *st_dtype_name(StDtype t)
{
    return (unsigned)t < ST_DTYPE_COUNT ? dtype_info[t].name : "?";
}

size_t st_dtype_size(StDtype t) { return (unsigned)t < ST_DTYPE_COUNT ? dtype_info[t].size : 0; }

bool st_dtype_from_name(const char *name, StDtype *out)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (StDtype)i;
            return true;
        }
    }
    return false;
}

/* ---- little-endian loads and stores ------------------------------------------ */

static uint16_t ld16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ld64(const unsigned char *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static void st32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void st64(unsigned char *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

/* ---- a name -> tensor hash index --------------------------------------------- */

typedef struct NameIndex {
    const StTensor **slots;
    size_t mask;
} NameIndex;

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static void index_init(NameIndex *ix, Arena *a, int n)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    ix->slots = ARENA_NEW_N(a, const StTensor *, cap);
    ix->mask = cap - 1;
}

/* Insert T; returns the tensor already there under its name, or NULL. */
static const StTensor *index_insert(NameIndex *ix, const StTensor *t)
{
    size_t h = hash_name(t->name) & ix->mask;
    for (; ix->slots[h]; h = (h + 1) & ix->mask)
        if (strcmp(ix->slots[h]->name, t->name) == 0) return ix->slots[h];
    ix->slots[h] = t;
    return NULL;
}

static const StTensor *index_find(const NameIndex *ix, const char *name)
{
    if (!ix->slots) return NULL;
    size_t h = hash_name(name) & ix->mask;
    for (; ix->slots[h]; h = (h + 1) & ix->mask)
        if (strcmp(ix->slots[h]->name, name) == 0) return ix->slots[h];
    return NULL;
}

/* ---- the file ------------------------------------------------------------------ */

struct SafeTensors {
    Arena arena;
    SrcFile header;              /* name: the path; text: the JSON header */
    const unsigned char *base;   /* the whole file */
    size_t size;
    bool mapped;
    const unsigned char *data;   /* the data area, data_len bytes */
    uint64_t data_len;
    StTensor *tensors;
    int n;
    NameIndex index;
    const JsonValue *metadata;
};

static SafeTensors *st_new(const char *name)
{
    SafeTensors *st = xcalloc(1, sizeof *st);
    arena_init(&st->arena);
    st->header.name = arena_strdup(&st->arena, name);
    st->header.text = "";
    return st;
}

void st_close(SafeTensors *st)
{
    if (!st) return;
    if (st->mapped) munmap((void *)st->base, st->size);
    arena_free(&st->arena);
    free(st);
}

/* How a tensor name appears in messages: escaped, never raw control bytes. */
static const char *disp(SafeTensors *st, const char *s)
{
    return json_escape(&st->arena, s, strlen(s));
}

/* "[2, 3]" */
static const char *shape_text(Arena *a, const int64_t *shape, int ndim)
{
    StrBuf sb = {0};
    sb_putc(&sb, '[');
    for (int i = 0; i < ndim; i++) sb_printf(&sb, "%s%" PRId64, i ? ", " : "", shape[i]);
    sb_putc(&sb, ']');
    const char *s = arena_strdup(a, sb.data);
    sb_free(&sb);
    return s;
}

/* What a JSON value was, for "got ..." in messages. */
static const char *got(SafeTensors *st, const JsonValue *v)
{
    if (v->kind == JSON_NUMBER) return v->text;
    if (v->kind == JSON_STRING)
        return arena_printf(&st->arena, "\"%s\"", json_escape(&st->arena, v->str, v->str_len));
    return json_kind_name(v->kind);
}

/* A non-negative integer that fits in int64_t. */
static bool as_count(const JsonValue *v, int64_t *out)
{
    if (v->kind != JSON_NUMBER || !v->is_int || !v->int_fits || v->ival < 0) return false;
    *out = v->ival;
    return true;
}

__attribute__((format(printf, 4, 5)))
static bool tensor_error(SafeTensors *st, Diag *d, const char *name, const char *fmt, ...)
{
    StrBuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    diag_error(d, loc_file(&st->header), "tensor '%s': %s", disp(st, name), sb.data);
    sb_free(&sb);
    return false;
}

static bool parse_dtype(SafeTensors *st, const JsonValue *e, StTensor *t, Diag *d)
{
    const JsonValue *v = json_get(e, "dtype");
    if (!v) return tensor_error(st, d, t->name, "missing \"dtype\"");
    if (v->kind != JSON_STRING)
        return tensor_error(st, d, t->name, "dtype must be a string, got %s", got(st, v));
    if (strlen(v->str) != v->str_len || !st_dtype_from_name(v->str, &t->dtype))
        return tensor_error(st, d, t->name,
                            "unsupported dtype %s (hyc reads F64, F32, F16, BF16, I64, I32, I8, U8, BOOL)",
                            got(st, v));
    return true;
}

static bool parse_shape(SafeTensors *st, const JsonValue *e, StTensor *t, Diag *d)
{
    const JsonValue *v = json_get(e, "shape");
    if (!v) return tensor_error(st, d, t->name, "missing \"shape\"");
    if (v->kind != JSON_ARRAY)
        return tensor_error(st, d, t->name, "shape must be an array of non-negative integers, got %s",
                            got(st, v));
    int64_t *shape = ARENA_NEW_N(&st->arena, int64_t, v->len);
    bool has_zero = false;
    for (int i = 0; i < v->len; i++) {
        if (!as_count(v->items[i], &shape[i]))
            return tensor_error(st, d, t->name, "shape[%d] must be a non-negative integer, got %s", i,
                                got(st, v->items[i]));
        has_zero |= shape[i] == 0;
    }
    /* With a zero dimension the product is 0 however large the others. */
    int64_t numel = 1;
    for (int i = 0; i < v->len && !has_zero; i++) {
        if (numel > INT64_MAX / shape[i] ||
            (uint64_t)(numel * shape[i]) > UINT64_MAX / st_dtype_size(t->dtype))
            return tensor_error(st, d, t->name, "shape %s has too many elements",
                                shape_text(&st->arena, shape, v->len));
        numel *= shape[i];
    }
    t->shape = shape;
    t->ndim = v->len;
    t->numel = has_zero ? 0 : numel;
    return true;
}

static bool parse_offsets(SafeTensors *st, const JsonValue *e, StTensor *t, Diag *d)
{
    const JsonValue *v = json_get(e, "data_offsets");
    if (!v) return tensor_error(st, d, t->name, "missing \"data_offsets\"");
    int64_t b, en;
    if (v->kind != JSON_ARRAY || v->len != 2 || !as_count(v->items[0], &b) || !as_count(v->items[1], &en)) {
        StrBuf sb = {0};
        json_write_value(&sb, v);
        const char *text = sb.len > 60 ? json_kind_name(v->kind) : arena_strdup(&st->arena, sb.data);
        sb_free(&sb);
        return tensor_error(st, d, t->name,
                            "data_offsets must be [begin, end] with non-negative integers, got %s", text);
    }
    t->begin = (uint64_t)b;
    t->end = (uint64_t)en;
    if (t->begin > t->end)
        return tensor_error(st, d, t->name, "data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                            t->begin, t->end);
    if (t->end > st->data_len)
        return tensor_error(st, d, t->name,
                            "data_offsets [%" PRIu64 ", %" PRIu64 "] extend past the end of the file "
                            "(the data area holds %" PRIu64 " bytes)",
                            t->begin, t->end, st->data_len);
    uint64_t want = (uint64_t)t->numel * st_dtype_size(t->dtype);
    if (t->end - t->begin != want)
        return tensor_error(st, d, t->name,
                            "shape %s of %s takes %" PRIu64 " bytes, but data_offsets [%" PRIu64
                            ", %" PRIu64 "] hold %" PRIu64,
                            shape_text(&st->arena, t->shape, t->ndim), st_dtype_name(t->dtype), want,
                            t->begin, t->end, t->end - t->begin);
    t->data = st->data + t->begin;
    return true;
}

/* One header entry: "name": {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
 * Other keys inside an entry are ignored, as the reference reader does. */
static bool parse_entry(SafeTensors *st, const JsonMember *m, StTensor *t, Diag *d)
{
    t->name = m->key;
    t->loc = loc_file(&st->header);
    t->file = st;
    if (strlen(m->key) != m->key_len) return tensor_error(st, d, t->name, "name contains a NUL character");
    const JsonValue *e = m->value;
    if (e->kind != JSON_OBJECT)
        return tensor_error(st, d, t->name, "expected an object with dtype, shape and data_offsets, got %s",
                            got(st, e));
    return parse_dtype(st, e, t, d) && parse_shape(st, e, t, d) && parse_offsets(st, e, t, d);
}

static bool check_metadata(SafeTensors *st, const JsonValue *v, Diag *d)
{
    SrcLoc floc = loc_file(&st->header);
    if (v->kind != JSON_OBJECT) {
        diag_error(d, floc, "\"__metadata__\" must be an object of strings, got %s", got(st, v));
        return false;
    }
    for (int i = 0; i < v->len; i++) {
        const JsonMember *m = &v->members[i];
        if (m->value->kind != JSON_STRING) {
            diag_error(d, floc, "\"__metadata__\" entry \"%s\" must be a string, got %s",
                       json_escape(&st->arena, m->key, m->key_len), got(st, m->value));
            return false;
        }
        /* st_metadata hands out C strings: a NUL would silently cut them */
        if (strlen(m->key) != m->key_len || strlen(m->value->str) != m->value->str_len) {
            diag_error(d, floc, "\"__metadata__\" entry \"%s\" contains a NUL character",
                       json_escape(&st->arena, m->key, m->key_len));
            return false;
        }
    }
    st->metadata = v;
    return true;
}

static int cmp_begin(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* No two tensors may share a byte: sort by begin and compare each with the
 * furthest-reaching one before it.  Empty tensors occupy nothing. */
static bool check_overlaps(SafeTensors *st, Diag *d)
{
    const StTensor **by = xmalloc(sizeof *by * (size_t)(st->n + 1));
    int m = 0;
    for (int i = 0; i < st->n; i++)
        if (st->tensors[i].end > st->tensors[i].begin) by[m++] = &st->tensors[i];
    qsort(by, (size_t)m, sizeof *by, cmp_begin);
    bool ok = true;
    const StTensor *reach = NULL;
    for (int i = 0; i < m; i++) {
        const StTensor *t = by[i];
        if (reach && t->begin < reach->end) {
            diag_error(d, loc_file(&st->header),
                       "tensors '%s' (data_offsets [%" PRIu64 ", %" PRIu64 "]) and '%s' (data_offsets [%" PRIu64
                       ", %" PRIu64 "]) overlap",
                       disp(st, reach->name), reach->begin, reach->end, disp(st, t->name), t->begin, t->end);
            ok = false;
        }
        if (!reach || t->end > reach->end) reach = t;
    }
    free(by);
    return ok;
}

/* Parse and check the header and every entry against the file's size. */
static bool st_validate(SafeTensors *st, Diag *d)
{
    SrcLoc floc = loc_file(&st->header);
    if (st->size < 8) {
        diag_error(d, floc, "file is too short to be safetensors (%zu bytes; the header length alone takes 8)",
                   st->size);
        return false;
    }
    uint64_t n = ld64(st->base);
    if (n > ST_MAX_HEADER) {
        diag_error(d, floc, "header length %" PRIu64 " is over the limit of %d bytes (not a safetensors file?)",
                   n, ST_MAX_HEADER);
        return false;
    }
    if (n > st->size - 8) {
        diag_error(d, floc, "header length %" PRIu64 " extends past the end of the file (size %zu)", n,
                   st->size);
        return false;
    }
    st->header.text = arena_strndup(&st->arena, (const char *)st->base + 8, (size_t)n);
    st->header.len = (size_t)n;
    st->data = st->base + 8 + n;
    st->data_len = st->size - 8 - n;
    const JsonValue *root = json_parse(&st->arena, &st->header, d);
    if (!root) {
        diag_note(d, floc, "in the JSON header (%" PRIu64 " bytes from byte 8 of the file)", n);
        return false;
    }
    if (root->kind != JSON_OBJECT) {
        diag_error(d, floc, "the JSON header must be an object, got %s", json_kind_name(root->kind));
        return false;
    }
    st->tensors = ARENA_NEW_N(&st->arena, StTensor, root->len);
    bool ok = true;
    for (int i = 0; i < root->len; i++) {
        const JsonMember *m = &root->members[i];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12)
            ok &= check_metadata(st, m->value, d);
        else
            ok &= parse_entry(st, m, &st->tensors[st->n++], d);
    }
    if (!ok || !check_overlaps(st, d)) return false;
    index_init(&st->index, &st->arena, st->n);
    for (int i = 0; i < st->n; i++) index_insert(&st->index, &st->tensors[i]); /* keys are unique */
    return true;
}

SafeTensors *st_open_memory(const char *name, const void *buf, size_t len, Diag *d)
{
    SafeTensors *st = st_new(name);
    st->base = buf;
    st->size = len;
    if (!st_validate(st, d)) {
        st_close(st);
        return NULL;
    }
    return st;
}

SafeTensors *st_open(const char *path, Diag *d)
{
    SafeTensors *st = st_new(path);
    SrcLoc floc = loc_file(&st->header);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        diag_error(d, floc, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        diag_error(d, floc, "cannot open: not a regular file");
        goto fail;
    }
    st->size = (size_t)sb.st_size;
    if (st->size >= 8) { /* mmap of an empty file fails; st_validate reports it */
        void *map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            diag_error(d, floc, "cannot map into memory: %s", strerror(errno));
            goto fail;
        }
        st->base = map;
        st->mapped = true;
    }
    close(fd);
    fd = -1;
    if (!st_validate(st, d)) goto fail;
    return st;
fail:
    if (fd >= 0) close(fd);
    st_close(st);
    return NULL;
}

const char *st_path(const SafeTensors *st) { return st->header.name; }
int st_count(const SafeTensors *st) { return st->n; }

const StTensor *st_tensor(const SafeTensors *st, int i)
{
    return i >= 0 && i < st->n ? &st->tensors[i] : NULL;
}

const StTensor *st_find(const SafeTensors *st, const char *name) { return index_find(&st->index, name); }

const char *st_metadata(const SafeTensors *st, const char *key)
{
    const JsonValue *v = json_get(st->metadata, key);
    return v ? v->str : NULL;
}

const JsonValue *st_metadata_object(const SafeTensors *st) { return st->metadata; }

/* ---- conversion ---------------------------------------------------------------- */

float st_bf16_to_f32(uint16_t h)
{
    /* bfloat16 is the top half of a float32: exact, NaN payloads kept. */
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float32 */
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7F800000u | man << 13; /* inf, or NaN with its payload */
    else
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* double -> float, round to nearest; a finite value past the float range
 * becomes ±inf explicitly rather than by an out-of-range conversion. */
static float f64_to_f32(double x)
{
    if (fabs(x) >= 0x1.ffffffp127) return x < 0 ? -INFINITY : INFINITY;
    return (float)x;
}

bool st_read_f32(const SafeTensors *st, const StTensor *t, float *out)
{
    HYC_ASSERT(!st || t->file == st);
    const unsigned char *p = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case ST_F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = ld32(p + 4 * i);
            memcpy(&out[i], &bits, sizeof bits);
        }
        return true;
    case ST_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = st_bf16_to_f32(ld16(p + 2 * i));
        return true;
    case ST_F16:
        for (int64_t i = 0; i < n; i++) out[i] = st_f16_to_f32(ld16(p + 2 * i));
        return true;
    case ST_F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = ld64(p + 8 * i);
            double x;
            memcpy(&x, &bits, sizeof x);
            out[i] = f64_to_f32(x);
        }
        return true;
    default:
        return false;
    }
}

bool st_read_i32(const SafeTensors *st, const StTensor *t, int32_t *out)
{
    HYC_ASSERT(!st || t->file == st);
    const unsigned char *p = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case ST_I32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = ld32(p + 4 * i);
            memcpy(&out[i], &bits, sizeof bits);
        }
        return true;
    case ST_I64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = ld64(p + 8 * i);
            int64_t v;
            memcpy(&v, &bits, sizeof v);
            if (v < INT32_MIN || v > INT32_MAX) return false;
            out[i] = (int32_t)v;
        }
        return true;
    case ST_I8:
        for (int64_t i = 0; i < n; i++) out[i] = (int8_t)p[i];
        return true;
    case ST_U8:
        for (int64_t i = 0; i < n; i++) out[i] = p[i];
        return true;
    case ST_BOOL:
        for (int64_t i = 0; i < n; i++) out[i] = p[i] != 0;
        return true;
    default:
        return false;
    }
}

/* ---- writing ------------------------------------------------------------------ */

/* Check one tensor to write and return its element count, or -1 after
 * reporting. */
static int64_t write_numel(const StWriteTensor *t, const StWriteTensor *all, int i, SrcLoc floc,
                           Diag *d)
{
    if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0) {
        diag_error(d, floc, "tensor %d: invalid name '%s'", i, t->name ? t->name : "(null)");
        return -1;
    }
    for (int j = 0; j < i; j++) {
        if (strcmp(all[j].name, t->name) == 0) {
            diag_error(d, floc, "tensor '%s' is written twice", t->name);
            return -1;
        }
    }
    if (t->dtype != ST_F32 && t->dtype != ST_I32) {
        diag_error(d, floc, "tensor '%s': cannot write dtype %s (only F32 and I32)", t->name,
                   st_dtype_name(t->dtype));
        return -1;
    }
    if (t->ndim < 0) {
        diag_error(d, floc, "tensor '%s': invalid rank %d", t->name, t->ndim);
        return -1;
    }
    int64_t numel = 1;
    for (int k = 0; k < t->ndim; k++) {
        int64_t dim = t->shape[k];
        if (dim < 0 || (dim && numel > INT64_MAX / 4 / dim)) {
            diag_error(d, floc, "tensor '%s': invalid shape (dimension %d is %" PRId64 ")", t->name, k, dim);
            return -1;
        }
        numel *= dim;
    }
    if (numel && !t->data) {
        diag_error(d, floc, "tensor '%s': no data", t->name);
        return -1;
    }
    return numel;
}

/* The JSON header for TENSORS with their element counts, padded with spaces
 * so that the data area starts 8-aligned, as the reference writer does. */
static void write_header(StrBuf *h, const StWriteTensor *ts, const int64_t *numel, int n)
{
    uint64_t off = 0;
    sb_putc(h, '{');
    for (int i = 0; i < n; i++) {
        const StWriteTensor *t = &ts[i];
        uint64_t bytes = (uint64_t)numel[i] * 4;
        if (i) sb_putc(h, ',');
        json_write_string(h, t->name);
        sb_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (int k = 0; k < t->ndim; k++) sb_printf(h, "%s%" PRId64, k ? "," : "", t->shape[k]);
        sb_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + bytes);
        off += bytes;
    }
    sb_putc(h, '}');
    while (h->len % 8) sb_putc(h, ' ');
}

bool st_write(const char *path, const StWriteTensor *ts, int n, Diag *d)
{
    SrcFile f = {0};
    f.name = path;
    SrcLoc floc = loc_file(&f);
    int64_t *numel = xmalloc(sizeof *numel * (size_t)(n + 1));
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        numel[i] = write_numel(&ts[i], ts, i, floc, d);
        if (numel[i] < 0 || (uint64_t)numel[i] * 4 > SIZE_MAX / 2 - total) {
            if (numel[i] >= 0) diag_error(d, floc, "tensors too large to write");
            free(numel);
            return false;
        }
        total += (uint64_t)numel[i] * 4;
    }
    StrBuf h = {0};
    write_header(&h, ts, numel, n);
    size_t size = 8 + h.len + (size_t)total;
    unsigned char *buf = xmalloc(size);
    st64(buf, h.len);
    memcpy(buf + 8, h.data, h.len);
    unsigned char *p = buf + 8 + h.len;
    for (int i = 0; i < n; i++) {
        const unsigned char *src = ts[i].data;
        for (int64_t k = 0; k < numel[i]; k++, p += 4) {
            uint32_t bits;
            memcpy(&bits, src + 4 * k, 4); /* float and int32 alike: the bits */
            st32(p, bits);
        }
    }
    bool ok = write_file_atomic(path, buf, size);
    if (!ok) diag_error(d, floc, "cannot write: %s", strerror(errno));
    free(buf);
    sb_free(&h);
    free(numel);
    return ok;
}

/* ---- sharded checkpoints ------------------------------------------------------ */

struct StSet {
    Arena arena;
    SafeTensors **files;
    int n_files;
    const StTensor **all; /* every tensor, files in order */
    int n_all;
    NameIndex index;
};

void st_set_close(StSet *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_files; i++) st_close(s->files[i]);
    free(s->files);
    arena_free(&s->arena);
    free(s);
}

static const char *join_path(Arena *a, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return arena_printf(a, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void add_file(StSet *s, SafeTensors *st)
{
    s->files = xrealloc(s->files, sizeof *s->files * (size_t)(s->n_files + 1));
    s->files[s->n_files++] = st;
}

/* One index over every file's tensors; a name in two files is an error. */
static bool build_index(StSet *s, Diag *d)
{
    int n = 0;
    for (int i = 0; i < s->n_files; i++) n += st_count(s->files[i]);
    s->all = ARENA_NEW_N(&s->arena, const StTensor *, n);
    index_init(&s->index, &s->arena, n);
    bool ok = true;
    for (int i = 0; i < s->n_files; i++) {
        SafeTensors *st = s->files[i];
        for (int k = 0; k < st->n; k++) {
            const StTensor *t = &st->tensors[k];
            const StTensor *old = index_insert(&s->index, t);
            if (old) {
                diag_error(d, loc_file(&st->header), "tensor '%s' is also in %s", disp(st, t->name),
                           st_path(old->file));
                ok = false;
            }
            s->all[s->n_all++] = t;
        }
    }
    return ok;
}

/* A shard named in weight_map: a plain file name in the index's directory. */
static bool check_shard_name(const JsonValue *v, const char **out, Diag *d)
{
    const char *name;
    if (!json_as_string(v, &name, d)) return false;
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        diag_error(d, v->loc, "shard \"%s\" must be a file name in the same directory", name);
        return false;
    }
    *out = name;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Find NAME among the N sorted shard names. */
static int shard_of(const char **names, int n, const char *name)
{
    const char **hit = bsearch(&name, names, (size_t)n, sizeof *names, cmp_str);
    return hit ? (int)(hit - names) : -1;
}

/* Open every shard that weight_map names (in name order) and check that
 * each mapped tensor is in its shard. */
static bool load_index(StSet *s, const char *dir, const char *index_path, Diag *d)
{
    const JsonValue *root = json_parse_file(&s->arena, index_path, d), *wm;
    if (!root || !json_get_object(root, "weight_map", &wm, d)) return false;
    const char **names = ARENA_NEW_N(&s->arena, const char *, wm->len);
    int n = 0;
    for (int i = 0; i < wm->len; i++) {
        const char *shard;
        if (!check_shard_name(wm->members[i].value, &shard, d)) return false;
        names[n++] = shard;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int uniq = 0;
    for (int i = 0; i < n; i++)
        if (!uniq || strcmp(names[uniq - 1], names[i]) != 0) names[uniq++] = names[i];
    for (int i = 0; i < uniq; i++) {
        SafeTensors *st = st_open(join_path(&s->arena, dir, names[i]), d);
        if (!st) return false;
        add_file(s, st);
    }
    bool ok = true;
    for (int i = 0; i < wm->len; i++) {
        const JsonMember *m = &wm->members[i];
        SafeTensors *st = s->files[shard_of(names, uniq, m->value->str)];
        if (strlen(m->key) != m->key_len || !st_find(st, m->key)) {
            diag_error(d, m->key_loc, "tensor '%s' is mapped to %s, which does not contain it",
                       json_escape(&s->arena, m->key, m->key_len), m->value->str);
            ok = false;
        }
    }
    return ok;
}

/* Fill S from PATH: a file, or a directory with model.safetensors or its
 * sharded index. */
static bool set_load(StSet *s, const char *path, Diag *d)
{
    SrcFile f = {0};
    f.name = path;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        diag_error(d, loc_file(&f), "cannot open: %s", strerror(errno));
        return false;
    }
    const char *single = path;
    if (S_ISDIR(sb.st_mode)) {
        single = join_path(&s->arena, path, "model.safetensors");
        if (!is_file(single)) {
            const char *index = join_path(&s->arena, path, "model.safetensors.index.json");
            if (is_file(index)) return load_index(s, path, index, d);
            diag_error(d, loc_file(&f),
                       "no model.safetensors or model.safetensors.index.json in this directory");
            return false;
        }
    }
    /* An index file names shards in its own directory. */
    size_t n = strlen(path), m = strlen(".index.json");
    if (n > m && strcmp(path + n - m, ".index.json") == 0) {
        const char *slash = strrchr(path, '/');
        const char *dir = slash ? arena_strndup(&s->arena, path, (size_t)(slash - path)) : ".";
        return load_index(s, dir, path, d);
    }
    SafeTensors *st = st_open(single, d);
    if (st) add_file(s, st);
    return st != NULL;
}

StSet *st_set_open(const char *path, Diag *d)
{
    StSet *s = xcalloc(1, sizeof *s);
    arena_init(&s->arena);
    if (!set_load(s, path, d) || !build_index(s, d)) {
        st_set_close(s);
        return NULL;
    }
    return s;
}

int st_set_count(const StSet *s) { return s->n_all; }

const StTensor *st_set_tensor(const StSet *s, int i)
{
    return i >= 0 && i < s->n_all ? s->all[i] : NULL;
}

const StTensor *st_set_find(const StSet *s, const char *name) { return index_find(&s->index, name); }
int st_set_file_count(const StSet *s) { return s->n_files; }

const SafeTensors *st_set_file(const StSet *s, int i)
{
    return i >= 0 && i < s->n_files ? s->files[i] : NULL;
}
