/* schema.c — the key tables of the .hyb language, built from schema.def:
 * for each block kind its keys with type, default, range, doc and the
 * offset of their field in the block's spec struct.  sema.c checks and
 * fills spec structs through these tables; `hyc check --keys` prints them. */
#include "frontend.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* ---- enumeration names ---------------------------------------------------- */

#define SCHEMA_ENUM(T) const char *const schema_names_##T[] = {
#define SCHEMA_VALUE(T, C, name) [C] = name,
#define SCHEMA_ENUM_END(T) NULL};
#include "schema.def"

/* ENUM keys name their enumeration; the others say None. */
#define schema_names_None NULL

/* ---- arguments of CALL values: one table per enumeration, ended by kind -1 */

#define SCHEMA_ARG_END {-1, {NULL, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL}}
#define SCHEMA_ENUM(T) __attribute__((unused)) static const SchemaArg schema_args_##T[] = {
#define SCHEMA_ARG(T, C, arg, def, lo, hi, flags, deftext, doc) \
    {C, {#arg, SCHEMA_TYPE_FLOAT, 0, NULL, (double)(def), lo, hi, flags, deftext, doc, NULL}},
#define SCHEMA_ENUM_END(T) SCHEMA_ARG_END};
#include "schema.def"
#define schema_args_None NULL

/* ---- the struct behind each block, and compile-time field type checks ------ */

#define SCHEMA_BLOCK(ID, name, S, doc) typedef S SchemaStruct_##ID;
#include "schema.def"

#define SCHEMA_CTYPE_INT(E) int64_t
#define SCHEMA_CTYPE_FLOAT(E) double
#define SCHEMA_CTYPE_BOOL(E) bool
#define SCHEMA_CTYPE_ENUM(E) E
#define SCHEMA_CTYPE_STRING(E) const char *
#define SCHEMA_CTYPE_NAME(E) const char *
#define SCHEMA_CTYPE_INT_LIST(E) SpecIntList
#define SCHEMA_CTYPE_FLOAT_LIST(E) SpecFloatList
#define SCHEMA_CTYPE_CALL(E) SpecCall
#define SCHEMA_CTYPE_REF(E) SpecRef

/* A key whose field has another C type than its schema type says would be
 * written through the wrong pointer type: refuse to compile. */
#define SCHEMA_KEY(ID, field, T, E, def, lo, hi, flags, deftext, doc)                          \
    _Static_assert(_Generic(((SchemaStruct_##ID *)0)->field, SCHEMA_CTYPE_##T(E): 1, default: 0), \
                   "schema key " #ID "." #field " has the wrong C type");
#include "schema.def"

/* ---- key tables ------------------------------------------------------------ */

/* schema.def has no "end of block" entries, so each SCHEMA_BLOCK closes the
 * table before it; a sentinel ends every table (blocks without keys need
 * one to compile) and is not counted. */
#define SCHEMA_SENTINEL {NULL, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL}
__attribute__((unused)) static const SchemaKey schema_keys_first_[] = {
#define SCHEMA_BLOCK(ID, name, S, doc) SCHEMA_SENTINEL}; static const SchemaKey schema_keys_##ID[] = {
#define SCHEMA_KEY(ID, field, T, E, def, lo, hi, flags, deftext, doc) \
    {#field, SCHEMA_TYPE_##T, offsetof(SchemaStruct_##ID, field), schema_names_##E, (double)(def), lo, hi, flags, deftext, doc, \
     SCHEMA_TYPE_##T == SCHEMA_TYPE_CALL ? schema_args_##E : NULL},
#include "schema.def"
SCHEMA_SENTINEL};

static const SchemaBlock BLOCKS[SCHEMA_N_BLOCKS] = {
#define SCHEMA_BLOCK(ID, name, S, doc) \
    {SCHEMA_BLOCK_##ID, name, doc, schema_keys_##ID, (int)(sizeof schema_keys_##ID / sizeof *schema_keys_##ID) - 1},
#include "schema.def"
};

const SchemaBlock *schema_block(SchemaBlockId id)
{
    HYC_ASSERT((unsigned)id < SCHEMA_N_BLOCKS);
    return &BLOCKS[id];
}

int schema_key_index(const SchemaBlock *b, const char *name)
{
    for (int i = 0; i < b->n_keys; i++)
        if (strcmp(b->keys[i].name, name) == 0) return i;
    return -1;
}

int schema_list_len(const SchemaKey *k) { return (int)((k->flags >> SCHEMA_F_LEN_SHIFT) & 0xFF); }

/* ---- sublayer kinds ---------------------------------------------- */

static const char *const SUBLAYER_NAMES[SUBLAYER_N_KINDS] = {
#define SCHEMA_SUBLAYER(K, name, ID, branch_ok) [K] = name,
#include "schema.def"
};
static const SchemaBlockId SUBLAYER_BLOCKS[SUBLAYER_N_KINDS] = {
#define SCHEMA_SUBLAYER(K, name, ID, branch_ok) [K] = SCHEMA_BLOCK_##ID,
#include "schema.def"
};
static const bool SUBLAYER_BRANCH_OK[SUBLAYER_N_KINDS] = {
#define SCHEMA_SUBLAYER(K, name, ID, branch_ok) [K] = branch_ok,
#include "schema.def"
};

const char *schema_sublayer_name(SublayerKind k)
{
    HYC_ASSERT((unsigned)k < SUBLAYER_N_KINDS);
    return SUBLAYER_NAMES[k];
}

SchemaBlockId schema_sublayer_block(SublayerKind k)
{
    HYC_ASSERT((unsigned)k < SUBLAYER_N_KINDS);
    return SUBLAYER_BLOCKS[k];
}

bool schema_sublayer_branch_ok(SublayerKind k)
{
    HYC_ASSERT((unsigned)k < SUBLAYER_N_KINDS);
    return SUBLAYER_BRANCH_OK[k];
}

bool schema_sublayer_lookup(const char *name, SublayerKind *out)
{
    for (int k = 0; k < SUBLAYER_N_KINDS; k++)
        if (strcmp(SUBLAYER_NAMES[k], name) == 0) {
            *out = (SublayerKind)k;
            return true;
        }
    return false;
}

const char *const *schema_sublayer_names(int *n)
{
    *n = SUBLAYER_N_KINDS;
    return SUBLAYER_NAMES;
}


/* ---- words for messages ---------------------------------------------------- */

static void fmt_bound(char out[32], const SchemaKey *k, double v)
{
    if (k->type == SCHEMA_TYPE_INT || k->type == SCHEMA_TYPE_INT_LIST || k->type == SCHEMA_TYPE_REF)
        snprintf(out, 32, "%lld", (long long)v);
    else
        fmt_f64(out, v);
    size_t n = strlen(out);
    if (n > 2 && strcmp(out + n - 2, ".0") == 0) out[n - 2] = 0;
}

const char *schema_range_text(const SchemaKey *k, char *buf, size_t size)
{
    bool has_min = isfinite(k->min), has_max = isfinite(k->max);
    bool numeric = k->type == SCHEMA_TYPE_INT || k->type == SCHEMA_TYPE_FLOAT ||
                   k->type == SCHEMA_TYPE_INT_LIST || k->type == SCHEMA_TYPE_FLOAT_LIST || k->type == SCHEMA_TYPE_REF;
    if (!numeric || (!has_min && !has_max)) return NULL;
    bool min_open = k->flags & SCHEMA_F_MIN_OPEN, max_open = k->flags & SCHEMA_F_MAX_OPEN;
    char lo[32], hi[32];
    fmt_bound(lo, k, k->min);
    fmt_bound(hi, k, k->max);
    /* Size limits are not what a reader needs to hear about first. */
    bool max_is_limit = k->type != SCHEMA_TYPE_FLOAT && k->max >= 1024;
    if (has_min && has_max && !max_is_limit)
        snprintf(buf, size, "in %c%s, %s%c", min_open ? '(' : '[', lo, hi, max_open ? ')' : ']');
    else if (has_min && k->min == 0 && !min_open)
        snprintf(buf, size, "at least 0");
    else if (has_min)
        snprintf(buf, size, "%s %s", min_open ? "greater than" : "at least", lo);
    else
        snprintf(buf, size, "%s %s", max_open ? "less than" : "at most", hi);
    return buf;
}

const char *schema_type_text(const SchemaKey *k, char *buf, size_t size)
{
    switch (k->type) {
    case SCHEMA_TYPE_INT: return "an integer";
    case SCHEMA_TYPE_FLOAT: return "a number";
    case SCHEMA_TYPE_BOOL: return "true or false";
    case SCHEMA_TYPE_STRING: return "a string";
    case SCHEMA_TYPE_NAME: return "a name";
    case SCHEMA_TYPE_INT_LIST: return "a list of integers";
    case SCHEMA_TYPE_FLOAT_LIST: return "a list of numbers";
    case SCHEMA_TYPE_REF: return "a layer name or a depth offset";
    case SCHEMA_TYPE_CALL:
    case SCHEMA_TYPE_ENUM: {
        size_t n = 0;
        while (k->enum_names[n]) n++;
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < n && used < size; i++) {
            const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
            int w = snprintf(buf + used, size - used, "%s%s", sep, k->enum_names[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
        return buf;
    }
    }
    HYC_UNREACHABLE();
}

/* ---- the key reference ------------------------------------------------------- */

static const char *type_word(const SchemaKey *k)
{
    switch (k->type) {
    case SCHEMA_TYPE_INT: return "int";
    case SCHEMA_TYPE_FLOAT: return "float";
    case SCHEMA_TYPE_BOOL: return "bool";
    case SCHEMA_TYPE_ENUM: return "enum";
    case SCHEMA_TYPE_STRING: return "string";
    case SCHEMA_TYPE_NAME: return "name";
    case SCHEMA_TYPE_INT_LIST: return "int list";
    case SCHEMA_TYPE_FLOAT_LIST: return "float list";
    case SCHEMA_TYPE_CALL: return "call";
    case SCHEMA_TYPE_REF: return "name or int";
    }
    HYC_UNREACHABLE();
}

/* "    llama3 factor: number; required; greater than 0" and its doc. */
static void print_call_arg(FILE *out, const SchemaKey *k, const SchemaArg *a)
{
    char rbuf[64];
    const char *range = schema_range_text(&a->key, rbuf, sizeof rbuf);
    fprintf(out, "    %s(%s): number; default %s", k->enum_names[a->kind], a->key.name, a->key.def_text);
    if (range) fprintf(out, "; %s", range);
    fprintf(out, "\n      %s\n", a->key.doc);
}

void schema_print_reference(FILE *out)
{
    for (int b = 0; b < SCHEMA_N_BLOCKS; b++) {
        const SchemaBlock *blk = &BLOCKS[b];
        fprintf(out, "%s%s — %s\n", b ? "\n" : "", blk->name, blk->doc);
        for (int i = 0; i < blk->n_keys; i++) {
            const SchemaKey *k = &blk->keys[i];
            char tbuf[160], rbuf[64];
            const char *type = k->type == SCHEMA_TYPE_ENUM ? schema_type_text(k, tbuf, sizeof tbuf) : type_word(k);
            const char *range = schema_range_text(k, rbuf, sizeof rbuf);
            int len = schema_list_len(k);
            fprintf(out, "  %-16s %-s", k->name, type);
            if (len) fprintf(out, " of %d", len);
            fprintf(out, "; default %s", k->def_text);
            if (range) fprintf(out, "; %s", range);
            fprintf(out, "\n  %-16s %s\n", "", k->doc);
            for (const SchemaArg *a = k->call_args; a && a->kind >= 0; a++)
                print_call_arg(out, k, a);
        }
    }
}
