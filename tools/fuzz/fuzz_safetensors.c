/* fuzz_safetensors.c — libFuzzer target for formats/safetensors.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. \
 *       tools/fuzz/fuzz_safetensors.c formats/safetensors.c formats/json.c \
 *       util/util.c util/diag.c -lm
 *
 * Every input is tried as a whole file.  An input that starts with '{' is
 * also tried as a bare JSON header: the target prepends its true length and
 * appends a 256-byte data area, so that the fuzzer spends its time on header
 * semantics rather than on getting the 8-byte length right.
 * For every file that opens, each tensor's bytes must lie inside the buffer
 * with the size its shape and dtype say, be found by name, and convert.
 */
#include "formats/formats.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                         \
    do {                                                                 \
        if (!(c)) {                                                      \
            fprintf(stderr, "fuzz_safetensors: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                     \
        }                                                                \
    } while (0)

static Diag *quiet_diag(void)
{
    static Diag d;
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    diag_init(&d, null);
    d.max_errors = 0;
    return &d;
}

static void check_tensor(const SafeTensors *st, const StTensor *t, const uint8_t *buf, size_t len)
{
    const uint8_t *p = t->data;
    size_t bytes = (size_t)(t->end - t->begin);
    CHECK(t->file == st && st_find(st, t->name) == t);
    CHECK(t->numel >= 0 && bytes == (size_t)t->numel * st_dtype_size(t->dtype));
    CHECK(p >= buf && p <= buf + len && bytes <= (size_t)(buf + len - p));
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) numel *= t->shape[i]; /* validated: no overflow */
    CHECK(numel == t->numel);
    /* numel <= len here, so these buffers stay small. */
    void *out = malloc(sizeof(float) * (size_t)(t->numel + 1));
    bool f = st_read_f32(st, t, out);
    CHECK(f == (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64));
    bool i = st_read_i32(st, t, out);
    if (t->dtype == ST_I32 || t->dtype == ST_I8 || t->dtype == ST_U8 || t->dtype == ST_BOOL) CHECK(i);
    free(out);
}

static void check_file(const uint8_t *buf, size_t len)
{
    Diag *d = quiet_diag();
    SafeTensors *st = st_open_memory("fuzz.safetensors", buf, len, d);
    CHECK((st != NULL) == (d->n_errors == 0));
    if (!st) return;
    for (int i = 0; i < st_count(st); i++) check_tensor(st, st_tensor(st, i), buf, len);
    CHECK(st_tensor(st, st_count(st)) == NULL);
    const JsonValue *meta = st_metadata_object(st);
    for (int i = 0; i < json_len(meta); i++) CHECK(st_metadata(st, json_member(meta, i)->key) != NULL);
    st_close(st);
}

enum { DATA_AREA = 256 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that reads past the end are caught exactly. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    check_file(copy, size);
    free(copy);
    if (size == 0 || data[0] != '{') return 0;

    size_t len = 8 + size + DATA_AREA;
    uint8_t *file = malloc(len);
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)size >> (8 * i));
    memcpy(file + 8, data, size);
    for (size_t i = 0; i < DATA_AREA; i++) file[8 + size + i] = (uint8_t)(i * 37);
    check_file(file, len);
    free(file);
    return 0;
}
