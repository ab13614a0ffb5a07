/* formats.h — the internal header of formats/: readers (and small writers)
 * for the outside file formats hyc consumes: JSON (Hugging Face config.json,
 * safetensors headers, shard indexes) and safetensors checkpoints.
 *
 * Every reader takes untrusted bytes: any input ends in a result or in
 * diagnostics through Diag, never in a crash, an abort or unbounded recursion.
 */
#ifndef HYC_FORMATS_H
#define HYC_FORMATS_H

#include "../util/util.h"

/* ==== json.c =============================================================== */

/* Strict RFC 8259 JSON, plus the three number spellings Python's json module
 * writes for non-finite floats: Infinity, -Infinity, NaN.  Duplicate keys,
 * invalid escapes, unpaired surrogates, raw control characters and invalid
 * UTF-8 are errors.  A UTF-8 byte order mark at the start is skipped (RFC 8259
 * §8.1 allows that).  Nesting deeper than JSON_MAX_DEPTH is an error.
 *
 * The tree lives in the arena passed to the parser; every node keeps its
 * location in the SrcFile, which must outlive the tree. */

enum { JSON_MAX_DEPTH = 256 };

typedef enum JsonKind {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} JsonKind;

typedef struct JsonValue JsonValue;

typedef struct JsonMember {
    const char *key; /* unescaped, NUL-terminated (may hold NULs: key_len) */
    size_t key_len;
    SrcLoc key_loc;
    JsonValue *value;
} JsonMember;

/* Nodes are many (a safetensors header of 100k tensors has a million), so
 * the per-kind fields share storage: read only those of v->kind. */
struct JsonValue {
    JsonKind kind;
    int len;               /* JSON_ARRAY: items; JSON_OBJECT: members */
    SrcLoc loc;            /* the whole value; containers end at their bracket */
    union {
        bool boolean;      /* JSON_BOOL */
        struct {           /* JSON_NUMBER */
            const char *text; /* as written: "1e-05", "-Infinity" */
            double num;       /* its value (±inf, nan for the extensions) */
            int64_t ival;     /* when int_fits */
            bool is_int;      /* written as an integer: no '.', no exponent */
            bool int_fits;    /* is_int and the value fits in int64_t */
        };
        struct {           /* JSON_STRING: unescaped UTF-8, NUL-terminated;
                            * str_len > strlen(str) when the text had \u0000 */
            const char *str;
            size_t str_len;
        };
        JsonValue **items;    /* JSON_ARRAY, in source order */
        JsonMember *members;  /* JSON_OBJECT, in source order */
    };
};

/* Parse the whole of file->text[0..len).  Returns NULL after reporting the
 * first error (with its location) through d. */
JsonValue *json_parse(Arena *a, const SrcFile *file, Diag *d);
/* Read PATH into the arena (as the tree's SrcFile) and parse it.  NULL after
 * reporting "PATH: error: cannot read: ..." or a syntax error. */
JsonValue *json_parse_file(Arena *a, const char *path, Diag *d);

/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *json_kind_name(JsonKind k);

/* ---- navigation (never report anything) ---- */

/* The member KEY of object OBJ, or NULL when absent or OBJ is no object. */
JsonValue *json_get(const JsonValue *obj, const char *key);
/* Items of an array or members of an object; 0 for anything else. */
int json_len(const JsonValue *v);
/* Item I of an array, or NULL when out of range / not an array. */
JsonValue *json_at(const JsonValue *arr, int i);
/* Member I of an object, or NULL when out of range / not an object:
 *     for (int i = 0; i < json_len(obj); i++) {
 *         const JsonMember *m = json_member(obj, i);  ... m->key, m->value
 *     } */
const JsonMember *json_member(const JsonValue *obj, int i);

/* ---- typed access with diagnostics ----
 * json_as_*:  convert one value; on a type mismatch report
 *             "expected an integer, got a string" at the value and fail.
 * json_get_*: a required member of OBJ; a missing key is reported at OBJ
 *             ("missing key 'hidden_size'", with a did-you-mean), a wrong type
 *             at the value ("'hidden_size' must be an integer, got 64.5").
 * json_opt_*: an optional member: absent or null leaves *out untouched (set
 *             the default first) and succeeds; a wrong type is reported.
 * Integers must be written as integers (64, not 64.0) and fit in int64_t.
 * Doubles accept any number.  Strings must not contain NUL (\u0000). */
bool json_as_int(const JsonValue *v, int64_t *out, Diag *d);
bool json_as_double(const JsonValue *v, double *out, Diag *d);
bool json_as_bool(const JsonValue *v, bool *out, Diag *d);
bool json_as_string(const JsonValue *v, const char **out, Diag *d);

bool json_get_int(const JsonValue *obj, const char *key, int64_t *out, Diag *d);
bool json_get_double(const JsonValue *obj, const char *key, double *out, Diag *d);
bool json_get_bool(const JsonValue *obj, const char *key, bool *out, Diag *d);
bool json_get_string(const JsonValue *obj, const char *key, const char **out, Diag *d);
bool json_get_array(const JsonValue *obj, const char *key, const JsonValue **out, Diag *d);
bool json_get_object(const JsonValue *obj, const char *key, const JsonValue **out, Diag *d);

bool json_opt_int(const JsonValue *obj, const char *key, int64_t *out, Diag *d);
bool json_opt_double(const JsonValue *obj, const char *key, double *out, Diag *d);
bool json_opt_bool(const JsonValue *obj, const char *key, bool *out, Diag *d);
bool json_opt_string(const JsonValue *obj, const char *key, const char **out, Diag *d);

/* ---- writing ---- */

/* Append S as a quoted JSON string: '"' '\\' and control characters escaped
 * (\n \t \r \b \f, else \u00XX); valid UTF-8 is copied as is and each byte of
 * invalid UTF-8 becomes U+FFFD, so the output is always valid JSON. */
void json_write_string(StrBuf *sb, const char *s);
void json_write_string_n(StrBuf *sb, const char *s, size_t n);
/* The same escaping without the quotes, in the arena: how messages show
 * text from a file, so that control bytes cannot garble the terminal. */
const char *json_escape(Arena *a, const char *s, size_t n);
/* Shortest round-tripping text; non-finite values as Infinity/-Infinity/NaN. */
void json_write_double(StrBuf *sb, double x);
/* Compact JSON text of a tree (numbers as written in the source). */
void json_write_value(StrBuf *sb, const JsonValue *v);

/* ==== safetensors.c ======================================================== */

/* A safetensors file: u64 little-endian header length N, N bytes of JSON
 * header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the data area, which the offsets
 * index.  Everything is validated at open; after that every tensor's bytes
 * are known to lie inside the file and not to overlap another tensor's. */

enum { ST_MAX_HEADER = 100000000 }; /* bytes; the reference library's limit */

typedef enum StDtype {
    ST_F64,
    ST_F32,
    ST_F16,
    ST_BF16,
    ST_I64,
    ST_I32,
    ST_I8,
    ST_U8,
    ST_BOOL,
    ST_DTYPE_COUNT
} StDtype;

const char *st_dtype_name(StDtype t); /* "F32", "BF16", ... */
size_t st_dtype_size(StDtype t);      /* bytes per element */
bool st_dtype_from_name(const char *name, StDtype *out);

typedef struct SafeTensors SafeTensors; /* an open file (opaque) */

typedef struct StTensor {
    const char *name;
    StDtype dtype;
    int ndim;
    const int64_t *shape;    /* (ndim) */
    int64_t numel;           /* product of shape; 1 for a scalar */
    uint64_t begin, end;     /* data_offsets: bytes within the data area */
    const void *data;        /* its bytes in the mapping; no alignment */
    const SafeTensors *file; /* the file it is in */
    SrcLoc loc;              /* the file, for messages about the tensor */
} StTensor;

/* mmap PATH read-only and validate it.  NULL after reporting errors that
 * name the file (and tensor). */
SafeTensors *st_open(const char *path, Diag *d);
/* The same over a buffer that must outlive the result (not copied).  NAME is
 * used in messages. */
SafeTensors *st_open_memory(const char *name, const void *buf, size_t len, Diag *d);
void st_close(SafeTensors *st); /* munmap; NULL is fine */

const char *st_path(const SafeTensors *st);
int st_count(const SafeTensors *st);
/* Tensor I, 0 <= I < st_count, in the order of the header. */
const StTensor *st_tensor(const SafeTensors *st, int i);
const StTensor *st_find(const SafeTensors *st, const char *name);
/* __metadata__["key"], or NULL; st_metadata_object is the whole object (or
 * NULL when the file has none), to iterate with json_member. */
const char *st_metadata(const SafeTensors *st, const char *key);
const JsonValue *st_metadata_object(const SafeTensors *st);

/* Convert T's numel elements into OUT.  st_read_f32 takes F32, F16, BF16 and
 * F64 (rounded to nearest); st_read_i32 takes I32, I64 (each value must fit),
 * I8, U8 and BOOL.  False for any other dtype or an I64 value out of range;
 * callers check t->dtype first to say why.  ST is t->file (or NULL). */
bool st_read_f32(const SafeTensors *st, const StTensor *t, float *out);
bool st_read_i32(const SafeTensors *st, const StTensor *t, int32_t *out);
/* Single-element conversions, exposed for tests. */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);

/* Writing: F32 and I32 tensors, in the given order, host values stored
 * little-endian; written atomically (nothing is left behind on failure). */
typedef struct StWriteTensor {
    const char *name;
    StDtype dtype;         /* ST_F32 or ST_I32 */
    int ndim;
    const int64_t *shape;  /* (ndim) */
    const void *data;      /* numel floats or int32_ts */
} StWriteTensor;

bool st_write(const char *path, const StWriteTensor *tensors, int n, Diag *d);

/* ---- a checkpoint, possibly sharded ---- */

/* StSet: one lookup over a checkpoint.  PATH is a .safetensors file, an
 * index file (*.index.json), or a directory holding model.safetensors or,
 * failing that, model.safetensors.index.json, whose weight_map (tensor -> shard file in the
 * same directory) names the shards; every shard is opened and every mapped
 * tensor must be in its shard; no tensor may be in two shards. */
typedef struct StSet StSet;

StSet *st_set_open(const char *path, Diag *d);
void st_set_close(StSet *s);
int st_set_count(const StSet *s); /* tensors over all files */
/* Tensor I over all files: files in name order, tensors in header order. */
const StTensor *st_set_tensor(const StSet *s, int i);
const StTensor *st_set_find(const StSet *s, const char *name);
int st_set_file_count(const StSet *s);
const SafeTensors *st_set_file(const StSet *s, int i);

#endif
