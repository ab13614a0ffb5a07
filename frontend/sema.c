/* sema.c — semantic analysis of a .hyb file (docs/language.md §2-8).
 *
 * The parser accepts any tree of blocks and settings; here each block is
 * checked against its kind's key table (schema.def), defaults and derived
 * sizes are filled in, relations between keys are checked, the stack is
 * expanded to one layer per depth and the weights block bound to the
 * canonical parameter names.  The result is a ModelSpec (frontend.h).
 *
 * Errors are reported as they are found and checking goes on, so one run
 * shows as many problems as it can; checks that depend on a value that was
 * itself wrong are skipped rather than reported twice.  The end of the file
 * holds spec_params / spec_state, which walk a finished ModelSpec.
 */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Sema {
    Arena *arena;
    Interner *in;
    Diag *diag;
    const AstFile *file;
    ModelSpec *m;
} Sema;

/* Where a list of sublayers lives: its rules differ slightly. */
typedef enum SubCtx {
    SUBCTX_LAYER,  /* layer NAME { ... } */
    SUBCTX_SHARED, /* shared_block NAME { ... } */
    SUBCTX_BRANCH, /* parallel { ... } */
} SubCtx;

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Vec(T) makes a new struct type at each use: name the ones passed around. */
typedef Vec(const AstNode *) NodeVec;
typedef Vec(WeightRename) RenameVec;

static int errors(const Sema *S) { return S->diag->n_errors; }

/* ---- SpecBlock ------------------------------------------------------------- */

bool spec_given(const SpecBlock *b, const char *key)
{
    int i = b->schema ? schema_key_index(b->schema, key) : -1;
    HYC_ASSERT(i >= 0);
    return b->given[i] != NULL;
}

SrcLoc spec_key_loc(const SpecBlock *b, const char *key)
{
    int i = b->schema ? schema_key_index(b->schema, key) : -1;
    HYC_ASSERT(i >= 0);
    return b->given[i] ? b->given[i]->value->loc : b->name_loc;
}

/* The setting node of `key`, or NULL. */
static const AstNode *given_node(const SpecBlock *b, const char *key)
{
    int i = schema_key_index(b->schema, key);
    HYC_ASSERT(i >= 0);
    return b->given[i];
}

/* The arguments the value `kind` of CALL key k takes, in schema order. */
static int call_args_of(const SchemaKey *k, int kind, const SchemaArg **out)
{
    int n = 0;
    for (const SchemaArg *a = k->call_args; a && a->kind >= 0; a++)
        if (a->kind == kind) {
            HYC_ASSERT(n < SPEC_CALL_MAX_ARGS);
            out[n++] = a;
        }
    return n;
}

/* A call of `kind` with every argument at its default. */
static SpecCall call_defaults(const SchemaKey *k, int kind, SrcLoc loc)
{
    SpecCall c;
    memset(&c, 0, sizeof c);
    const SchemaArg *args[SPEC_CALL_MAX_ARGS];
    c.kind = kind;
    c.loc = loc;
    c.n_args = call_args_of(k, kind, args);
    for (int i = 0; i < c.n_args; i++) {
        c.args[i] = args[i]->key.def;
        c.arg_locs[i] = loc;
    }
    return c;
}

/* Put every key's default into the struct at `out`. */
static void fill_defaults(Sema *S, const SchemaBlock *sb, void *out)
{
    for (int i = 0; i < sb->n_keys; i++) {
        const SchemaKey *k = &sb->keys[i];
        char *field = (char *)out + k->offset;
        switch (k->type) {
        case SCHEMA_TYPE_INT: *(int64_t *)field = (int64_t)k->def; break;
        case SCHEMA_TYPE_FLOAT: *(double *)field = k->def; break;
        case SCHEMA_TYPE_BOOL: *(bool *)field = k->def != 0; break;
        case SCHEMA_TYPE_ENUM: *(int *)field = (int)k->def; break;
        case SCHEMA_TYPE_CALL: *(SpecCall *)field = call_defaults(k, (int)k->def, loc_none()); break;
        case SCHEMA_TYPE_REF: memset(field, 0, sizeof(SpecRef)); break;
        case SCHEMA_TYPE_STRING:
        case SCHEMA_TYPE_NAME: *(const char **)field = NULL; break;
        case SCHEMA_TYPE_INT_LIST: memset(field, 0, sizeof(SpecIntList)); break;
        case SCHEMA_TYPE_FLOAT_LIST: {
            SpecFloatList *l = (SpecFloatList *)field;
            l->n = schema_list_len(k);
            double *v = ARENA_NEW_N(S->arena, double, l->n ? l->n : 1);
            for (int j = 0; j < l->n; j++) v[j] = k->def;
            l->v = v;
            break;
        }
        }
    }
}

static void block_init(Sema *S, SpecBlock *b, SchemaBlockId id, const AstNode *node, void *out)
{
    b->loc = node->loc;
    b->name_loc = node->name_loc;
    b->schema = schema_block(id);
    b->given = ARENA_NEW_N(S->arena, const AstNode *, b->schema->n_keys ? b->schema->n_keys : 1);
    fill_defaults(S, b->schema, out);
}

/* ---- values ------------------------------------------------------------------ */

/* A number as the user wrote it, for messages. */
static const char *number_text(Sema *S, const AstNode *v)
{
    if (v->kind == AST_IDENT) return v->name;
    return arena_printf(S->arena, "%s%s", v->negative ? "-" : "", v->text ? v->text : "?");
}

/* Shortest text of x; whole numbers without ".0" ("0.3", "16", "1e-06"). */
static const char *fmt_num(Sema *S, double x)
{
    char buf[32];
    fmt_f64(buf, x);
    size_t n = strlen(buf);
    if (n > 2 && strcmp(buf + n - 2, ".0") == 0) buf[n - 2] = 0;
    return arena_strdup(S->arena, buf);
}

/* suggest_word, and also a swap of two adjacent letters ("haeds" for
 * "heads"), a common typo that counts as two edits there. */
static const char *suggest(const char *word, const char *const *cands, int n)
{
    size_t len = strlen(word);
    for (int i = 0; i < n; i++) {
        if (strlen(cands[i]) != len) continue;
        size_t a = 0;
        while (a < len && word[a] == cands[i][a]) a++;
        if (a + 1 < len && word[a] == cands[i][a + 1] && word[a + 1] == cands[i][a] &&
            strcmp(word + a + 2, cands[i] + a + 2) == 0)
            return cands[i];
    }
    return suggest_word(word, cands, n);
}

static void type_error(Sema *S, const SchemaKey *k, const AstNode *v, const char *what)
{
    char buf[160];
    const char *want = schema_type_text(k, buf, sizeof buf);
    bool named = k->type == SCHEMA_TYPE_ENUM || k->type == SCHEMA_TYPE_CALL;
    if (v->kind == AST_IDENT && (k->type == SCHEMA_TYPE_BOOL || named)) {
        static const char *const bools[] = {"true", "false"};
        const char *const *names = named ? k->enum_names : bools;
        int n = 0;
        while (named ? names[n] != NULL : n < 2) n++;
        const char *s = suggest(v->name, names, n);
        if (s)
            diag_error(S->diag, v->loc, "%s must be %s, got '%s'; did you mean '%s'?", what, want, v->name, s);
        else
            diag_error(S->diag, v->loc, "%s must be %s, got '%s'", what, want, v->name);
        return;
    }
    diag_error(S->diag, v->loc, "%s must be %s, got %s", what, want, ast_value_desc(v));
}

/* Is x inside k's range?  Reports why not. */
static bool check_range(Sema *S, const SchemaKey *k, double x, const AstNode *v, const char *what)
{
    bool min_open = k->flags & SCHEMA_F_MIN_OPEN, max_open = k->flags & SCHEMA_F_MAX_OPEN;
    bool below = min_open ? !(x > k->min) : !(x >= k->min);
    bool above = max_open ? !(x < k->max) : !(x <= k->max);
    if (!below && !above) return true;
    const char *got = number_text(S, v);
    char buf[64];
    bool is_int = k->type == SCHEMA_TYPE_INT || k->type == SCHEMA_TYPE_INT_LIST || k->type == SCHEMA_TYPE_REF;
    /* A small upper bound is part of the meaning ("in (0, 1]"); a large one
     * is a size limit, worth mentioning only to those who hit it. */
    if (isfinite(k->min) && isfinite(k->max) && !(is_int && k->max >= 1024)) {
        diag_error(S->diag, v->loc, "%s must be %s, got %s", what, schema_range_text(k, buf, sizeof buf), got);
    } else if (below) {
        const char *lo = is_int ? arena_printf(S->arena, "%lld", (long long)k->min) : fmt_num(S, k->min);
        diag_error(S->diag, v->loc, "%s must be %s %s, got %s", what, min_open ? "greater than" : "at least", lo, got);
    } else {
        const char *hi = is_int ? arena_printf(S->arena, "%lld", (long long)k->max) : fmt_num(S, k->max);
        diag_error(S->diag, v->loc, "%s must be %s %s, got %s", what, max_open ? "less than" : "at most", hi, got);
    }
    return false;
}

static bool value_int(Sema *S, const SchemaKey *k, const AstNode *v, const char *what, int64_t *out)
{
    if (v->kind != AST_INT) {
        type_error(S, k, v, what);
        return false;
    }
    if (!check_range(S, k, (double)v->ival, v, what)) return false;
    *out = v->ival;
    return true;
}

static bool value_float(Sema *S, const SchemaKey *k, const AstNode *v, const char *what, double *out)
{
    double x;
    if (v->kind == AST_INT || v->kind == AST_FLOAT)
        x = v->fval;
    else if (v->kind == AST_IDENT && (k->flags & SCHEMA_F_INF) && strcmp(v->name, "inf") == 0)
        x = INFINITY;
    else {
        type_error(S, k, v, what);
        return false;
    }
    if (!check_range(S, k, x, v, what)) return false;
    *out = x;
    return true;
}

static bool value_float(Sema *S, const SchemaKey *k, const AstNode *v, const char *what, double *out);

/* Argument `name` of the call `callee`: its index among ARGS, or -1 after
 * reporting it unknown. */
static int call_arg_index(Sema *S, const AstNode *a, const char *callee, const SchemaArg **args, int n)
{
    const char *names[SPEC_CALL_MAX_ARGS];
    for (int j = 0; j < n; j++) {
        if (strcmp(args[j]->key.name, a->name) == 0) return j;
        names[j] = args[j]->key.name;
    }
    const char *s = suggest(a->name, names, n);
    if (s) {
        diag_error(S->diag, a->name_loc, "'%s' has no argument '%s'; did you mean '%s'?", callee, a->name, s);
    } else if (n == 0) {
        diag_error(S->diag, a->name_loc, "'%s' takes no arguments", callee);
    } else {
        StrBuf sb = {0};
        for (int j = 0; j < n; j++) sb_printf(&sb, "%s%s", j ? ", " : "", names[j]);
        diag_error(S->diag, a->name_loc, "'%s' has no argument '%s' (its arguments are %s)", callee, a->name,
                   sb_cstr(&sb));
        sb_free(&sb);
    }
    return -1;
}

/* The value of a CALL key: one of its names, alone (`none`) or called with
 * arguments by position and then by name (`llama3(32, 1, high_freq_factor
 * = 4, original_max = 8192)`), each a number in its range. */
static bool store_call(Sema *S, const SchemaKey *k, const AstNode *v, const char *what, SpecCall *out)
{
    const char *name = v->kind == AST_IDENT || v->kind == AST_CALL ? v->name : v->kind == AST_STRING ? v->sval : NULL;
    int kind = -1;
    for (int i = 0; name && k->enum_names[i]; i++)
        if (strcmp(k->enum_names[i], name) == 0) kind = i;
    if (kind < 0) {
        AstNode tmp = *v;
        if (name) { /* a misspelt name: "did you mean" as for an enumeration */
            tmp.kind = AST_IDENT;
            tmp.name = name;
            if (v->kind == AST_CALL) tmp.loc = v->name_loc;
        }
        type_error(S, k, &tmp, what);
        return false;
    }
    const char *callee = k->enum_names[kind];
    const SchemaArg *args[SPEC_CALL_MAX_ARGS];
    SpecCall c = call_defaults(k, kind, v->loc);
    call_args_of(k, kind, args);
    const AstNode *set[SPEC_CALL_MAX_ARGS] = {0};
    bool ok = true, named = false;
    int n_items = v->kind == AST_CALL ? v->items.len : 0;
    for (int i = 0; i < n_items; i++) {
        const AstNode *a = v->items.data[i], *val = a;
        int j = i;
        if (a->kind == AST_SETTING) {
            named = true;
            val = a->value;
            j = call_arg_index(S, a, callee, args, c.n_args);
        } else if (named) {
            diag_error(S->diag, a->loc, "an argument without a name cannot follow a named one in '%s(...)'", callee);
            j = -1;
        } else if (i >= c.n_args) {
            if (c.n_args == 0)
                diag_error(S->diag, a->loc, "'%s' takes no arguments", callee);
            else
                diag_error(S->diag, a->loc, "'%s' takes %d argument%s, got %d", callee, c.n_args,
                           c.n_args == 1 ? "" : "s", n_items);
            j = -1;
        }
        if (j < 0) {
            ok = false;
            continue;
        }
        if (set[j]) {
            diag_error(S->diag, a->kind == AST_SETTING ? a->name_loc : a->loc, "argument '%s' of '%s' is given twice",
                       args[j]->key.name, callee);
            diag_note(S->diag, set[j]->kind == AST_SETTING ? set[j]->name_loc : set[j]->loc, "first given here");
            ok = false;
            continue;
        }
        set[j] = a;
        const char *awhat = arena_printf(S->arena, "'%s' of '%s'", args[j]->key.name, callee);
        if (!value_float(S, &args[j]->key, val, awhat, &c.args[j])) {
            ok = false;
            continue;
        }
        c.given[j] = true;
        c.arg_locs[j] = val->loc;
    }
    /* After a misspelt argument, "missing" would only repeat the error. */
    for (int j = 0; ok && j < c.n_args; j++)
        if (!set[j] && (args[j]->key.flags & SCHEMA_F_REQUIRED)) {
            diag_error(S->diag, v->kind == AST_CALL ? v->name_loc : v->loc, "missing required argument '%s' of '%s'",
                       args[j]->key.name, callee);
            ok = false;
        }
    if (ok) *out = c;
    return ok;
}

/* Check value v of key k and store it into the struct at out. */
static bool store_value(Sema *S, const SchemaKey *k, const AstNode *v, void *out)
{
    char *field = (char *)out + k->offset;
    const char *what = arena_printf(S->arena, "'%s'", k->name);
    switch (k->type) {
    case SCHEMA_TYPE_INT: return value_int(S, k, v, what, (int64_t *)field);
    case SCHEMA_TYPE_FLOAT: return value_float(S, k, v, what, (double *)field);
    case SCHEMA_TYPE_BOOL:
        if (v->kind == AST_IDENT && (strcmp(v->name, "true") == 0 || strcmp(v->name, "false") == 0)) {
            *(bool *)field = v->name[0] == 't';
            return true;
        }
        type_error(S, k, v, what);
        return false;
    case SCHEMA_TYPE_ENUM: {
        /* Names may also be quoted: the value is the same word. */
        const char *name = v->kind == AST_IDENT ? v->name : v->kind == AST_STRING ? v->sval : NULL;
        for (int i = 0; name && k->enum_names[i]; i++)
            if (strcmp(k->enum_names[i], name) == 0) {
                *(int *)field = i;
                return true;
            }
        if (v->kind == AST_STRING) {
            AstNode tmp = *v;
            tmp.kind = AST_IDENT;
            tmp.name = v->sval;
            type_error(S, k, &tmp, what);
        } else {
            type_error(S, k, v, what);
        }
        return false;
    }
    case SCHEMA_TYPE_STRING:
        if (v->kind != AST_STRING) {
            type_error(S, k, v, what);
            return false;
        }
        *(const char **)field = v->sval;
        return true;
    case SCHEMA_TYPE_NAME:
        if (v->kind != AST_IDENT) {
            type_error(S, k, v, what);
            return false;
        }
        *(const char **)field = v->name;
        return true;
    case SCHEMA_TYPE_CALL: return store_call(S, k, v, what, (SpecCall *)field);
    case SCHEMA_TYPE_REF: {
        SpecRef *r = (SpecRef *)field;
        if (v->kind == AST_IDENT) {
            r->name = v->name;
            return true;
        }
        if (v->kind == AST_INT) return value_int(S, k, v, what, &r->offset);
        type_error(S, k, v, what);
        return false;
    }
    case SCHEMA_TYPE_INT_LIST:
    case SCHEMA_TYPE_FLOAT_LIST: {
        if (v->kind != AST_LIST) {
            type_error(S, k, v, what);
            return false;
        }
        int n = v->items.len, want = schema_list_len(k);
        if (want && n != want) {
            diag_error(S->diag, v->loc, "%s must have %d elements, got %d", what, want, n);
            return false;
        }
        const char *ewhat = arena_printf(S->arena, "elements of '%s'", k->name);
        bool ok = true;
        if (k->type == SCHEMA_TYPE_INT_LIST) {
            int64_t *xs = ARENA_NEW_N(S->arena, int64_t, n ? n : 1);
            SrcLoc *locs = ARENA_NEW_N(S->arena, SrcLoc, n ? n : 1);
            for (int i = 0; i < n; i++) {
                const AstNode *e = v->items.data[i];
                locs[i] = e->loc;
                if (e->kind != AST_INT) {
                    diag_error(S->diag, e->loc, "%s must be integers, got %s", ewhat, ast_value_desc(e));
                    ok = false;
                } else if (!check_range(S, k, (double)e->ival, e, ewhat)) {
                    ok = false;
                } else {
                    xs[i] = e->ival;
                }
            }
            if (ok) *(SpecIntList *)field = (SpecIntList){n, xs, locs};
        } else {
            double *xs = ARENA_NEW_N(S->arena, double, n ? n : 1);
            for (int i = 0; i < n; i++) {
                const AstNode *e = v->items.data[i];
                if (e->kind != AST_INT && e->kind != AST_FLOAT) {
                    diag_error(S->diag, e->loc, "%s must be numbers, got %s", ewhat, ast_value_desc(e));
                    ok = false;
                } else if (!check_range(S, k, e->fval, e, ewhat)) {
                    ok = false;
                } else {
                    xs[i] = e->fval;
                }
            }
            if (ok) *(SpecFloatList *)field = (SpecFloatList){n, xs};
        }
        return ok;
    }
    }
    HYC_UNREACHABLE();
}

/* Apply setting `set` if its key is one of b's.  Returns false when the key
 * is not b's (the caller tries elsewhere or reports it unknown). */
static bool apply_setting(Sema *S, SpecBlock *b, void *out, const AstNode *set)
{
    int i = b->schema ? schema_key_index(b->schema, set->name) : -1;
    if (i < 0) return false;
    if (b->given[i]) {
        diag_error(S->diag, set->name_loc, "duplicate key '%s' in '%s'", set->name, b->schema->name);
        diag_note(S->diag, b->given[i]->name_loc, "'%s' was first set here", set->name);
        return true;
    }
    b->given[i] = set;
    store_value(S, &b->schema->keys[i], set->value, out);
    return true;
}

static void check_required(Sema *S, const SpecBlock *b, const char *where)
{
    for (int i = 0; i < b->schema->n_keys; i++)
        if ((b->schema->keys[i].flags & SCHEMA_F_REQUIRED) && !b->given[i])
            diag_error(S->diag, b->name_loc, "missing required key '%s' in %s", b->schema->keys[i].name, where);
}

/* "unknown key 'haeds' in 'attention'; did you mean 'heads'?" — candidates
 * are the keys of up to two schemas (a sublayer's own and the common ones). */
static void unknown_key(Sema *S, const AstNode *set, const char *where, const SchemaBlock *a, const SchemaBlock *b)
{
    Vec(const char *) names = {0};
    const SchemaBlock *bs[2] = {a, b};
    for (int j = 0; j < 2; j++)
        for (int i = 0; bs[j] && i < bs[j]->n_keys; i++) vec_push(&names, bs[j]->keys[i].name);
    const char *s = suggest(set->name, names.data, names.len);
    if (s) {
        diag_error(S->diag, set->name_loc, "unknown key '%s' in %s; did you mean '%s'?", set->name, where, s);
    } else {
        diag_error(S->diag, set->name_loc, "unknown key '%s' in %s", set->name, where);
        if (names.len) {
            StrBuf sb = {0};
            for (int i = 0; i < names.len; i++) sb_printf(&sb, "%s%s", i ? ", " : "", names.data[i]);
            diag_note(S->diag, set->name_loc, "the keys of %s are: %s", where, sb_cstr(&sb));
            sb_free(&sb);
        } else {
            diag_note(S->diag, set->name_loc, "%s takes no keys", where);
        }
    }
    vec_free(&names);
}

/* A block where only settings may be: say what to write instead. */
static void unexpected_block(Sema *S, const AstNode *n, const char *where, const SchemaBlock *keys)
{
    if (keys && schema_key_index(keys, n->name) >= 0)
        diag_error(S->diag, n->name_loc, "'%s' is a setting, not a block: write '%s = VALUE'", n->name, n->name);
    else
        diag_error(S->diag, n->name_loc, "unexpected block '%s' in %s, which holds only settings", n->name, where);
}

static void no_label(Sema *S, const AstNode *n)
{
    if (n->label) diag_error(S->diag, n->label_loc, "'%s' takes no name", n->name);
}

/* The i-th character of a one-line string literal at `loc` (escapes count
 * as written), for errors that point inside a pattern. */
static SrcLoc string_char_loc(const SrcFile *f, SrcLoc loc, int idx)
{
    if (!f || loc.line <= 0 || loc.line != loc.end_line) return loc;
    const char *p = f->text, *end = f->text + f->len;
    for (int l = 1; l < loc.line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return loc;
        p = nl + 1;
    }
    int col = loc.col + 1; /* past the opening quote */
    for (int i = 0; i < idx; i++) {
        if (p + col - 1 >= end) return loc;
        col += p[col - 1] == '\\' ? 2 : 1;
    }
    SrcLoc r = loc;
    r.col = r.end_col = col;
    return r;
}

/* ---- names ------------------------------------------------------------------- */

static const LayerDef *lookup_layer(const ModelSpec *m, const char *name)
{
    for (int i = 0; i < m->n_layer_defs; i++)
        if (strcmp(m->layer_defs[i].name, name) == 0) return &m->layer_defs[i];
    return NULL;
}

static SharedBlockDef *lookup_shared(ModelSpec *m, const char *name)
{
    for (int i = 0; i < m->n_shared_blocks; i++)
        if (strcmp(m->shared_blocks[i].name, name) == 0) return &m->shared_blocks[i];
    return NULL;
}

/* A layer named at `loc` (fill, place, symbols), or NULL after an error. */
static const LayerDef *find_layer(Sema *S, const char *name, SrcLoc loc)
{
    const ModelSpec *m = S->m;
    const LayerDef *l = lookup_layer(m, name);
    if (l) return l;
    const SharedBlockDef *b = lookup_shared(S->m, name);
    if (b) {
        diag_error(S->diag, loc, "'%s' is a shared_block, not a layer", name);
        diag_note(S->diag, b->blk.name_loc, "a shared block runs inside a layer: layer NAME { use %s { } ... }", name);
        return NULL;
    }
    const char **names = ARENA_NEW_N(S->arena, const char *, m->n_layer_defs ? m->n_layer_defs : 1);
    for (int i = 0; i < m->n_layer_defs; i++) names[i] = m->layer_defs[i].name;
    const char *s = suggest(name, names, m->n_layer_defs);
    if (s)
        diag_error(S->diag, loc, "unknown layer '%s'; did you mean '%s'?", name, s);
    else
        diag_error(S->diag, loc, "unknown layer '%s'", name);
    return NULL;
}

/* ---- sublayers ----------------------------------------------------------------- */

/* Adapters are per use of a shared block, on its own attention and mlp
 * sublayers (spec_params names them layers.<i>.use.<K>.*_lora_*). */
static void adapter_error(Sema *S, const SpecBlock *b, SubCtx ctx)
{
    if (ctx == SUBCTX_BRANCH)
        diag_error(S->diag, spec_key_loc(b, "adapter_rank"),
                   "'adapter_rank' is not allowed in a parallel branch (adapters go on the attention and mlp "
                   "sublayers of a shared_block)");
    else
        diag_error(S->diag, spec_key_loc(b, "adapter_rank"),
                   "'adapter_rank' is only allowed inside a shared_block (adapters are per use)");
}

/* Relations between the arguments of rope_scaling, and yarn's derived
 * attention factor (HF get_mscale: 0.1·ln(factor) + 1, 1 for factor ≤ 1). */
static void resolve_rope_scaling(Sema *S, AttentionSpec *a)
{
    SpecCall *c = &a->rope_scaling;
    switch ((RopeScaling)c->kind) {
    case ROPE_SCALING_NONE:
    case ROPE_SCALING_LINEAR: return;
    case ROPE_SCALING_LLAMA3:
        if (!(c->args[LLAMA3_HIGH_FREQ] > c->args[LLAMA3_LOW_FREQ]))
            diag_error(S->diag, c->arg_locs[LLAMA3_HIGH_FREQ],
                       "'high_freq_factor' (%s) of 'llama3' must be greater than 'low_freq_factor' (%s)",
                       fmt_num(S, c->args[LLAMA3_HIGH_FREQ]), fmt_num(S, c->args[LLAMA3_LOW_FREQ]));
        return;
    case ROPE_SCALING_NTK:
        /* base · alpha^(r/(r−2)) */
        if (a->rope_dims <= 2)
            diag_error(S->diag, c->loc, "'ntk' scaling needs more than 2 rotated dimensions, but rope rotates %lld",
                       (long long)a->rope_dims);
        return;
    case ROPE_SCALING_YARN:
        if (!(c->args[YARN_BETA_FAST] > c->args[YARN_BETA_SLOW]))
            diag_error(S->diag, c->arg_locs[YARN_BETA_FAST],
                       "'beta_fast' (%s) of 'yarn' must be greater than 'beta_slow' (%s)",
                       fmt_num(S, c->args[YARN_BETA_FAST]), fmt_num(S, c->args[YARN_BETA_SLOW]));
        if (!c->given[YARN_ATTENTION_FACTOR]) {
            double f = c->args[YARN_FACTOR];
            c->args[YARN_ATTENTION_FACTOR] = f > 1 ? 0.1 * log(f) + 1.0 : 1.0;
        }
        return;
    }
    HYC_UNREACHABLE();
}

static void resolve_attention(Sema *S, SublayerSpec *sl, SubCtx ctx)
{
    AttentionSpec *a = &sl->as.attention;
    if (spec_given(&a->blk, "input_width")) {
        if (sl->in_width > 0 && a->input_width != sl->in_width)
            diag_error(S->diag, spec_key_loc(&a->blk, "input_width"),
                       "'input_width' is %lld, but this attention reads %lld-wide input", (long long)a->input_width,
                       (long long)sl->in_width);
    } else {
        a->input_width = sl->in_width;
    }
    if (!spec_given(&a->blk, "kv_heads")) a->kv_heads = a->heads;
    if (a->heads % a->kv_heads != 0)
        diag_error(S->diag, spec_key_loc(&a->blk, "kv_heads"), "'kv_heads' (%lld) must divide 'heads' (%lld)",
                   (long long)a->kv_heads, (long long)a->heads);
    if (!spec_given(&a->blk, "head_dim") && a->input_width > 0) {
        if (a->input_width % a->heads != 0)
            diag_error(S->diag, spec_key_loc(&a->blk, "heads"),
                       "'heads' (%lld) must divide the input width (%lld) when 'head_dim' is not given",
                       (long long)a->heads, (long long)a->input_width);
        else
            a->head_dim = a->input_width / a->heads;
    }
    a->q_width = a->heads * a->head_dim;
    a->kv_width = a->kv_heads * a->head_dim;
    if (a->rope && a->head_dim > 0) {
        double r = a->rope_fraction * (double)a->head_dim;
        double whole = floor(r + 0.5);
        if (fabs(r - whole) > 1e-9 || (int64_t)whole % 2 != 0) {
            diag_error(S->diag, spec_key_loc(&a->blk, spec_given(&a->blk, "rope_fraction") ? "rope_fraction" : "head_dim"),
                       "rope rotates rope_fraction × head_dim = %s × %lld = %s dimensions, which must be an even "
                       "whole number",
                       fmt_num(S, a->rope_fraction), (long long)a->head_dim, fmt_num(S, r));
        }
        a->rope_dims = (int64_t)whole;
        resolve_rope_scaling(S, a);
    } else if (!a->rope) {
        static const char *const rope_keys[] = {"rope_base", "rope_fraction", "rope_pairing", "rope_scaling"};
        for (int i = 0; i < 4; i++)
            if (spec_given(&a->blk, rope_keys[i]))
                diag_warning(S->diag, given_node(&a->blk, rope_keys[i])->name_loc,
                             "'%s' has no effect with 'rope = false'", rope_keys[i]);
    }
    if (!spec_given(&a->blk, "scale") && a->head_dim > 0) {
        a->scale = 1.0 / sqrt((double)a->head_dim);
        a->scale_is_default = true;
    }
    if (a->adapter_rank > 0 && ctx != SUBCTX_SHARED) adapter_error(S, &a->blk, ctx);
    a->kv_reader = spec_given(&a->blk, "kv_share");
    if (a->kv_reader && ctx == SUBCTX_SHARED)
        diag_error(S->diag, spec_key_loc(&a->blk, "kv_share"),
                   "'kv_share' is not allowed in a shared_block (each use keeps its own KV cache)");
    sl->branch_width = a->q_width;
}

static void resolve_mamba1(Sema *S, SublayerSpec *sl)
{
    Mamba1Spec *p = &sl->as.mamba1;
    int64_t d = S->m->d_model;
    if (spec_given(&p->blk, "d_inner")) {
        if (spec_given(&p->blk, "expand") && d > 0 && p->d_inner != p->expand * d)
            diag_error(S->diag, spec_key_loc(&p->blk, "d_inner"),
                       "'d_inner' (%lld) disagrees with 'expand' × d_model = %lld × %lld = %lld; give only one",
                       (long long)p->d_inner, (long long)p->expand, (long long)d, (long long)(p->expand * d));
    } else {
        p->d_inner = p->expand * d;
    }
    if (!spec_given(&p->blk, "dt_rank")) p->dt_rank = (d + 15) / 16;
    if (!spec_given(&p->blk, "inner_norm_eps")) p->inner_norm_eps = S->m->norm_eps;
    sl->branch_width = p->d_inner;
}

static void resolve_mamba2(Sema *S, SublayerSpec *sl)
{
    Mamba2Spec *p = &sl->as.mamba2;
    bool hd = spec_given(&p->blk, "head_dim"), di = spec_given(&p->blk, "d_inner");
    if (hd && di) {
        if (p->heads * p->head_dim != p->d_inner)
            diag_error(S->diag, spec_key_loc(&p->blk, "d_inner"),
                       "'heads' × 'head_dim' = %lld × %lld = %lld does not equal 'd_inner' (%lld)", (long long)p->heads,
                       (long long)p->head_dim, (long long)(p->heads * p->head_dim), (long long)p->d_inner);
    } else if (di) {
        /* d_inner and heads given: the head width follows from them. */
        if (p->d_inner % p->heads != 0)
            diag_error(S->diag, spec_key_loc(&p->blk, "heads"), "'heads' (%lld) must divide 'd_inner' (%lld)",
                       (long long)p->heads, (long long)p->d_inner);
        else
            p->head_dim = p->d_inner / p->heads;
    } else {
        p->d_inner = p->heads * p->head_dim;
    }
    if (p->heads % p->groups != 0)
        diag_error(S->diag, spec_key_loc(&p->blk, "groups"), "'groups' (%lld) must divide 'heads' (%lld)",
                   (long long)p->groups, (long long)p->heads);
    if (!spec_given(&p->blk, "norm_groups"))
        p->norm_groups = p->groups;
    else if (p->heads % p->norm_groups != 0)
        diag_error(S->diag, spec_key_loc(&p->blk, "norm_groups"), "'norm_groups' (%lld) must divide 'heads' (%lld)",
                   (long long)p->norm_groups, (long long)p->heads);
    if (!spec_given(&p->blk, "norm_eps")) p->norm_eps = S->m->norm_eps;
    if (!spec_given(&p->blk, "out_bias")) p->out_bias = p->bias;
    if (!(p->dt_min < p->dt_max))
        diag_error(S->diag, spec_key_loc(&p->blk, spec_given(&p->blk, "dt_min") ? "dt_min" : "dt_max"),
                   "'dt_min' (%s) must be less than 'dt_max' (%s)", fmt_num(S, p->dt_min), fmt_num(S, p->dt_max));
    p->conv_dim = p->d_inner + 2 * p->groups * p->d_state;
    p->in_proj_dim = 2 * p->d_inner + 2 * p->groups * p->d_state + p->heads;
    sl->branch_width = p->d_inner;
}

static void resolve_deltanet(Sema *S, SublayerSpec *sl)
{
    DeltaNetSpec *p = &sl->as.deltanet;
    if (p->value_heads % p->key_heads != 0)
        diag_error(S->diag, spec_key_loc(&p->blk, "value_heads"),
                   "'value_heads' (%lld) must be a multiple of 'key_heads' (%lld)", (long long)p->value_heads,
                   (long long)p->key_heads);
    p->key_width = p->key_heads * p->key_dim;
    p->value_width = p->value_heads * p->value_dim;
    p->conv_dim = 2 * p->key_width + p->value_width;
    sl->branch_width = p->value_width;
}

static bool act_gated(MlpAct a) { return a == MLP_ACT_SWIGLU || a == MLP_ACT_GEGLU || a == MLP_ACT_GEGLU_TANH; }

static void resolve_mlp(Sema *S, SublayerSpec *sl, SubCtx ctx)
{
    MlpSpec *p = &sl->as.mlp;
    p->gated = act_gated(p->act);
    if (p->adapter_rank > 0 && ctx != SUBCTX_SHARED) adapter_error(S, &p->blk, ctx);
}

/* Group-limited selection (DeepSeek-V3, Nemotron-H n_group / topk_group):
 * equal groups of at least 2 experts (a group scores its best two), of
 * sigmoid scores; enough experts in the groups kept for top_k. */
static void resolve_moe_groups(Sema *S, MoeSpec *p)
{
    int64_t g = p->route_groups;
    if (!spec_given(&p->blk, "route_topk_groups")) p->route_topk_groups = g;
    SrcLoc gl = spec_key_loc(&p->blk, "route_groups");
    if (p->route_topk_groups > g) {
        diag_error(S->diag, spec_key_loc(&p->blk, "route_topk_groups"),
                   "'route_topk_groups' (%lld) must not exceed 'route_groups' (%lld)", (long long)p->route_topk_groups,
                   (long long)g);
        return;
    }
    if (g == 1) return;
    if (p->routing != MOE_ROUTING_SIGMOID_TOPK) {
        diag_error(S->diag, gl, "'route_groups' needs 'routing = sigmoid_topk' (group-limited selection of DeepSeek-V3)");
        return;
    }
    if (p->experts % g != 0 || p->experts / g < 2) {
        diag_error(S->diag, gl, "'route_groups' (%lld) must divide 'experts' (%lld) into groups of at least 2",
                   (long long)g, (long long)p->experts);
        return;
    }
    int64_t avail = p->route_topk_groups * (p->experts / g);
    if (p->top_k > avail)
        diag_error(S->diag, spec_key_loc(&p->blk, "top_k"),
                   "'top_k' (%lld) exceeds the %lld experts that 'route_topk_groups' = %lld groups hold",
                   (long long)p->top_k, (long long)avail, (long long)p->route_topk_groups);
}

static void resolve_moe(Sema *S, SublayerSpec *sl)
{
    MoeSpec *p = &sl->as.moe;
    p->gated = act_gated(p->act);
    if (p->top_k > p->experts)
        diag_error(S->diag, spec_key_loc(&p->blk, "top_k"), "'top_k' (%lld) must not exceed 'experts' (%lld)",
                   (long long)p->top_k, (long long)p->experts);
    if (p->shared_gate && p->shared_hidden == 0)
        diag_error(S->diag, spec_key_loc(&p->blk, "shared_gate"),
                   "'shared_gate' needs a shared expert: give 'shared_hidden'");
    p->expert_width = p->latent > 0 ? p->latent : S->m->d_model;
    resolve_moe_groups(S, p);
}

/* Number repeated kinds within one list: mlp, mlp1, mlp2 (canonical names). */
static void assign_param_names(Sema *S, SublayerSpec *subs, int n)
{
    int seen[SUBLAYER_N_KINDS] = {0};
    for (int i = 0; i < n; i++) {
        int c = seen[subs[i].kind]++;
        const char *k = schema_sublayer_name(subs[i].kind);
        subs[i].param_name = c == 0 ? k : arena_printf(S->arena, "%s%d", k, c);
    }
}

static bool check_sublayer(Sema *S, const AstNode *n, SubCtx ctx, int64_t in_width, SublayerSpec *sl);

static void resolve_parallel(Sema *S, SublayerSpec *sl, const AstNode **branches, int n)
{
    ParallelSpec *p = &sl->as.parallel;
    SublayerSpec *bs = ARENA_NEW_N(S->arena, SublayerSpec, n ? n : 1);
    int nb = 0, errs = errors(S);
    for (int i = 0; i < n; i++)
        if (check_sublayer(S, branches[i], SUBCTX_BRANCH, S->m->d_model, &bs[nb])) nb++;
    p->branches = bs;
    p->n_branches = nb;
    assign_param_names(S, bs, nb);
    if (errors(S) != errs) return;
    if (nb < 2) {
        diag_error(S->diag, p->blk.name_loc, "'parallel' needs at least 2 branches, got %d", nb);
        return;
    }
    if (p->combine == COMBINE_DIFF && nb != 2) {
        diag_error(S->diag, spec_key_loc(&p->blk, "combine"), "'combine = diff' needs exactly 2 branches, got %d", nb);
        return;
    }
    if (p->combine == COMBINE_CONCAT && p->out_proj == OUT_PROJ_PER_BRANCH) {
        diag_error(S->diag, spec_key_loc(&p->blk, "combine"),
                   "'combine = concat' needs 'out_proj = shared' (per-branch projections each give d_model; "
                   "use 'combine = add' for the same model)");
        return;
    }
    if (p->branch_norm == BRANCH_NORM_GROUP)
        for (int i = 0; i < nb; i++)
            if (bs[i].kind == SUBLAYER_MAMBA1 || bs[i].kind == SUBLAYER_SHORT_CONV)
                diag_error(S->diag, bs[i].blk.name_loc,
                           "'branch_norm = group' normalizes each head, but a %s branch has no heads; "
                           "use 'branch_norm = rms'",
                           schema_sublayer_name(bs[i].kind));
    if (p->out_proj == OUT_PROJ_SHARED) {
        if (p->combine == COMBINE_CONCAT) {
            p->out_proj_in = 0;
            for (int i = 0; i < nb; i++) p->out_proj_in += bs[i].branch_width;
        } else {
            for (int i = 1; i < nb; i++)
                if (bs[i].branch_width != bs[0].branch_width) {
                    diag_error(S->diag, spec_key_loc(&p->blk, "combine"),
                               "'combine = %s' with 'out_proj = shared' needs branches of equal width, but %s is "
                               "%lld wide and %s is %lld",
                               schema_names_CombineOp[p->combine], bs[0].param_name, (long long)bs[0].branch_width,
                               bs[i].param_name, (long long)bs[i].branch_width);
                    diag_note(S->diag, bs[0].blk.name_loc, "%s: %lld wide", bs[0].param_name, (long long)bs[0].branch_width);
                    diag_note(S->diag, bs[i].blk.name_loc, "%s: %lld wide", bs[i].param_name, (long long)bs[i].branch_width);
                    return;
                }
            p->out_proj_in = bs[0].branch_width;
        }
    }
}

static void resolve_use(Sema *S, SublayerSpec *sl)
{
    UseSpec *u = &sl->as.use;
    SharedBlockDef *b = lookup_shared(S->m, u->name);
    if (b) {
        u->block = b;
        return;
    }
    if (lookup_layer(S->m, u->name)) {
        diag_error(S->diag, u->name_loc, "'%s' is a layer, not a shared_block", u->name);
        return;
    }
    const ModelSpec *m = S->m;
    const char **names = ARENA_NEW_N(S->arena, const char *, m->n_shared_blocks ? m->n_shared_blocks : 1);
    for (int i = 0; i < m->n_shared_blocks; i++) names[i] = m->shared_blocks[i].name;
    const char *s = suggest(u->name, names, m->n_shared_blocks);
    if (s)
        diag_error(S->diag, u->name_loc, "unknown shared_block '%s'; did you mean '%s'?", u->name, s);
    else
        diag_error(S->diag, u->name_loc, "unknown shared_block '%s'", u->name);
}

static void unknown_sublayer(Sema *S, const AstNode *n)
{
    int nk;
    const char *const *kinds = schema_sublayer_names(&nk);
    const char *s = suggest(n->name, kinds, nk);
    if (s)
        diag_error(S->diag, n->name_loc, "unknown sublayer kind '%s'; did you mean '%s'?", n->name, s);
    else
        diag_error(S->diag, n->name_loc,
                   "unknown sublayer kind '%s' (sublayers are attention, mamba1, mamba2, short_conv, deltanet, mlp, "
                   "moe, parallel or use)",
                   n->name);
}

/* One sublayer block: its kind, common keys, own keys, derived values.
 * Returns false if the block could not be made a sublayer at all. */
static bool check_sublayer(Sema *S, const AstNode *n, SubCtx ctx, int64_t in_width, SublayerSpec *sl)
{
    SublayerKind kind;
    if (!schema_sublayer_lookup(n->name, &kind)) {
        unknown_sublayer(S, n);
        return false;
    }
    if (ctx == SUBCTX_BRANCH && !schema_sublayer_branch_ok(kind)) {
        diag_error(S->diag, n->name_loc,
                   "'%s' cannot be a branch of 'parallel' (branches are attention, mamba1, mamba2, short_conv or "
                   "deltanet)",
                   n->name);
        return false;
    }
    if (ctx == SUBCTX_SHARED && kind == SUBLAYER_USE) {
        diag_error(S->diag, n->name_loc, "a shared_block cannot use another shared block");
        return false;
    }
    memset(sl, 0, sizeof *sl);
    sl->kind = kind;
    sl->in_width = in_width;
    block_init(S, &sl->blk, ctx == SUBCTX_BRANCH ? SCHEMA_BLOCK_BRANCH : SCHEMA_BLOCK_SUBLAYER, n, sl);
    SpecBlock *kb = (SpecBlock *)&sl->as; /* every member of `as` starts with its SpecBlock */
    block_init(S, kb, schema_sublayer_block(kind), n, &sl->as);
    const char *where = arena_printf(S->arena, "'%s'", n->name);

    if (kind == SUBLAYER_USE) {
        if (!n->label) {
            diag_error(S->diag, n->name_loc, "'use' needs the name of a shared_block: use NAME { }");
            return false;
        }
        sl->as.use.name = intern(S->in, n->label);
        sl->as.use.name_loc = n->label_loc;
    } else {
        no_label(S, n);
    }

    int errs = errors(S);
    NodeVec branches = {0};
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            if (kind != SUBLAYER_USE && apply_setting(S, &sl->blk, sl, it)) continue;
            if (apply_setting(S, kb, &sl->as, it)) continue;
            unknown_key(S, it, where, kb->schema, kind == SUBLAYER_USE ? NULL : sl->blk.schema);
        } else if (it->kind == AST_BLOCK) {
            if (kind == SUBLAYER_PARALLEL)
                vec_push(&branches, it);
            else
                unexpected_block(S, it, where, kb->schema);
        }
    }
    check_required(S, kb, where);
    if (ctx == SUBCTX_BRANCH || kind == SUBLAYER_USE) {
        /* Branches are normed and added by their parallel block; a use adds
         * to the next sublayer's input, not to the residual. */
        sl->norm = false;
        sl->residual = false;
    }
    if (kind == SUBLAYER_PARALLEL) resolve_parallel(S, sl, branches.data, branches.len);
    vec_free(&branches);
    if (errors(S) != errs) return true;

    switch (kind) {
    case SUBLAYER_ATTENTION: resolve_attention(S, sl, ctx); break;
    case SUBLAYER_MAMBA1: resolve_mamba1(S, sl); break;
    case SUBLAYER_MAMBA2: resolve_mamba2(S, sl); break;
    case SUBLAYER_SHORT_CONV: sl->branch_width = S->m->d_model; break;
    case SUBLAYER_DELTANET: resolve_deltanet(S, sl); break;
    case SUBLAYER_MLP: resolve_mlp(S, sl, ctx); break;
    case SUBLAYER_MOE: resolve_moe(S, sl); break;
    case SUBLAYER_PARALLEL: break;
    case SUBLAYER_USE: resolve_use(S, sl); break;
    case SUBLAYER_N_KINDS: HYC_UNREACHABLE();
    }
    if (ctx != SUBCTX_BRANCH) sl->branch_width = 0;
    return true;
}

/* ---- layers and shared blocks ------------------------------------------------- */

/* A name for a layer or shared block: an identifier, unique among both. */
static const char *def_name(Sema *S, const AstNode *n, NodeVec *seen)
{
    if (!n->label) {
        diag_error(S->diag, n->name_loc, "a %s needs a name: %s NAME { ... }", n->name, n->name);
        return NULL;
    }
    if (n->key_quoted) {
        diag_error(S->diag, n->label_loc, "the name of a %s must be an identifier, not a string", n->name);
        return NULL;
    }
    for (int i = 0; i < seen->len; i++) {
        const AstNode *o = seen->data[i];
        if (strcmp(o->label, n->label) == 0) {
            if (strcmp(o->name, n->name) == 0)
                diag_error(S->diag, n->label_loc, "duplicate %s name '%s'", n->name, n->label);
            else
                diag_error(S->diag, n->label_loc, "'%s' is already the name of a %s", n->label, o->name);
            diag_note(S->diag, o->label_loc, "'%s' is first defined here", n->label);
            return NULL;
        }
    }
    vec_push(seen, n);
    return intern(S->in, n->label);
}

static void check_layer(Sema *S, LayerDef *l, const AstNode *n)
{
    Vec(SublayerSpec) subs = {0};
    const char *where = arena_printf(S->arena, "layer '%s'", l->name);
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            diag_error(S->diag, it->name_loc,
                       "settings are not allowed directly in %s; '%s' belongs in one of its sublayer blocks", where,
                       it->name);
        } else if (it->kind == AST_BLOCK) {
            SublayerSpec sl;
            if (check_sublayer(S, it, SUBCTX_LAYER, S->m->d_model, &sl)) vec_push(&subs, sl);
        }
    }
    l->n_sublayers = subs.len;
    l->sublayers = ARENA_NEW_N(S->arena, SublayerSpec, subs.len ? subs.len : 1);
    if (subs.len) memcpy(l->sublayers, subs.data, sizeof *subs.data * (size_t)subs.len);
    vec_free(&subs);
    assign_param_names(S, l->sublayers, l->n_sublayers);
    if (n->items.len == 0) diag_error(S->diag, l->blk.name_loc, "%s has no sublayers", where);
    /* A use's output goes into the next sublayer's input: there must be one. */
    for (int i = 0; i < l->n_sublayers; i++) {
        if (l->sublayers[i].kind != SUBLAYER_USE) continue;
        if (i + 1 == l->n_sublayers || l->sublayers[i + 1].kind == SUBLAYER_USE)
            diag_error(S->diag, l->sublayers[i].blk.name_loc,
                       "'use' must be followed by another sublayer (not a 'use') in %s: its output is added to "
                       "that sublayer's input",
                       where);
    }
}

static void check_shared_block(Sema *S, SharedBlockDef *b, const AstNode *n)
{
    const char *where = arena_printf(S->arena, "shared_block '%s'", b->name);
    int64_t d = S->m->d_model;
    NodeVec blocks = {0};
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            if (!apply_setting(S, &b->blk, b, it)) unknown_key(S, it, where, b->blk.schema, NULL);
        } else if (it->kind == AST_BLOCK) {
            vec_push(&blocks, it);
        }
    }
    b->in_width = b->input == SHARED_INPUT_CONCAT_EMBEDDING ? 2 * d : d;
    Vec(SublayerSpec) subs = {0};
    for (int i = 0; i < blocks.len; i++) {
        /* The first sublayer reads the block's input; every sublayer writes
         * d_model, so the rest read d_model. */
        int64_t w = subs.len == 0 ? b->in_width : d;
        SublayerSpec sl;
        if (!check_sublayer(S, blocks.data[i], SUBCTX_SHARED, w, &sl)) continue;
        if (w != d && d > 0) {
            if (sl.kind != SUBLAYER_ATTENTION)
                diag_error(S->diag, sl.blk.name_loc,
                           "'%s' cannot read the %lld-wide input of %s (input = concat_embedding); only attention "
                           "reads a wider input",
                           schema_sublayer_name(sl.kind), (long long)w, where);
            else if (sl.residual)
                diag_error(S->diag, sl.blk.name_loc,
                           "this attention reads the %lld-wide input of %s, so it cannot add to a %lld-wide "
                           "residual: set 'residual = false'",
                           (long long)w, where, (long long)d);
        }
        vec_push(&subs, sl);
    }
    int blocks_seen = blocks.len;
    vec_free(&blocks);
    b->n_sublayers = subs.len;
    b->sublayers = ARENA_NEW_N(S->arena, SublayerSpec, subs.len ? subs.len : 1);
    if (subs.len) memcpy(b->sublayers, subs.data, sizeof *subs.data * (size_t)subs.len);
    vec_free(&subs);
    assign_param_names(S, b->sublayers, b->n_sublayers);
    if (b->n_sublayers == 0 && blocks_seen == 0) diag_error(S->diag, b->blk.name_loc, "%s has no sublayers", where);
}

/* ---- the stack ------------------------------------------------------------------ */

/* Depths chosen by a ratio: k of L layers, never depth 0 (docs/language.md §5). */
static void ratio_positions(Placement pl, int64_t L, int64_t k, int64_t *pos)
{
    switch (pl) {
    case PLACEMENT_MIDDLE:
    case PLACEMENT_SCATTER:
        /* The centres of k equal bins of [1, L). */
        for (int64_t j = 0; j < k; j++) pos[j] = 1 + (2 * j + 1) * (L - 1) / (2 * k);
        return;
    case PLACEMENT_CLUSTER: {
        int64_t start = 1 + (L - 1 - k) / 2;
        for (int64_t j = 0; j < k; j++) pos[j] = start + j;
        return;
    }
    case PLACEMENT_SANDWICH: {
        int64_t head = (k + 1) / 2, tail = k / 2;
        for (int64_t j = 0; j < head; j++) pos[j] = 1 + j;
        for (int64_t j = 0; j < tail; j++) pos[head + j] = L - tail + j;
        return;
    }
    }
    HYC_UNREACHABLE();
}

/* "A:B" with A >= 1, B >= 0, each at most 2^20. */
static bool parse_ratio(const char *s, int64_t *a, int64_t *b)
{
    int64_t v[2] = {0, 0};
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (++digits > 7) return false;
            v[part] = v[part] * 10 + (*s++ - '0');
        }
        if (!digits) return false;
        if (part == 0 && *s++ != ':') return false;
    }
    if (*s || v[0] > (1 << 20) || v[1] > (1 << 20)) return false;
    *a = v[0], *b = v[1];
    return true;
}

/* The depths a `place` selects, into sel[0..L) (true = selected). */
static bool place_depths(Sema *S, PlaceSpec *p, int64_t L, bool *sel)
{
    bool ev = spec_given(&p->blk, "every"), at = spec_given(&p->blk, "at"), ra = spec_given(&p->blk, "ratio");
    const char *ways[3] = {"every", "at", "ratio"};
    bool has[3] = {ev, at, ra};
    int n = ev + at + ra;
    if (n == 0) {
        diag_error(S->diag, p->blk.name_loc, "'place' needs one of 'every', 'at' or 'ratio'");
        return false;
    }
    if (n > 1) {
        int first = has[0] ? 0 : 1, second = has[2] ? 2 : 1;
        diag_error(S->diag, given_node(&p->blk, ways[second])->name_loc, "'%s' cannot be combined with '%s' in one 'place'",
                   ways[second], ways[first]);
        return false;
    }
    if (spec_given(&p->blk, "offset") && !ev) {
        diag_error(S->diag, given_node(&p->blk, "offset")->name_loc, "'offset' needs 'every'");
        return false;
    }
    if (spec_given(&p->blk, "placement") && !ra) {
        diag_error(S->diag, given_node(&p->blk, "placement")->name_loc, "'placement' needs 'ratio'");
        return false;
    }
    if (ev) {
        if (p->offset >= p->every) {
            diag_error(S->diag, spec_key_loc(&p->blk, "offset"), "'offset' (%lld) must be less than 'every' (%lld)",
                       (long long)p->offset, (long long)p->every);
            return false;
        }
        if (p->offset >= L) {
            diag_error(S->diag, spec_key_loc(&p->blk, "offset"),
                       "'offset' (%lld) is past the last layer: the stack has %lld layers (0 to %lld)",
                       (long long)p->offset, (long long)L, (long long)(L - 1));
            return false;
        }
        for (int64_t i = p->offset; i < L; i += p->every) sel[i] = true;
        return true;
    }
    if (at) {
        if (p->at.n == 0) {
            diag_error(S->diag, spec_key_loc(&p->blk, "at"), "'at' is empty");
            return false;
        }
        bool ok = true;
        for (int i = 0; i < p->at.n; i++) {
            int64_t x = p->at.v[i];
            if (x < 0 || x >= L) {
                diag_error(S->diag, p->at.locs[i], "layer index %lld is out of range: the stack has %lld layers (0 to %lld)",
                           (long long)x, (long long)L, (long long)(L - 1));
                ok = false;
            } else if (sel[x]) {
                diag_warning(S->diag, p->at.locs[i], "layer index %lld is listed twice", (long long)x);
            } else {
                sel[x] = true;
            }
        }
        return ok;
    }
    int64_t a, b;
    SrcLoc rl = spec_key_loc(&p->blk, "ratio");
    if (!parse_ratio(p->ratio, &a, &b)) {
        diag_error(S->diag, rl, "'ratio' must be \"A:B\" with whole numbers (at most 1048576), e.g. \"1:5\"");
        return false;
    }
    if (a == 0) {
        diag_error(S->diag, rl, "'ratio' \"%s\" places no layer", p->ratio);
        return false;
    }
    if ((L * a) % (a + b) != 0) {
        int64_t lo = L * a / (a + b), hi = lo + 1;
        StrBuf sb = {0};
        if (lo >= 1) sb_printf(&sb, "\"%lld:%lld\"", (long long)lo, (long long)(L - lo));
        if (hi <= L - 1) sb_printf(&sb, "%s\"%lld:%lld\"", lo >= 1 ? " or " : "", (long long)hi, (long long)(L - hi));
        diag_error(S->diag, rl,
                   "'ratio' \"%s\" does not fit %lld layers: %lld × %lld/%lld is not a whole number of layers%s%s",
                   p->ratio, (long long)L, (long long)L, (long long)a, (long long)(a + b), sb.len ? "; try " : "",
                   sb_cstr(&sb));
        sb_free(&sb);
        return false;
    }
    int64_t k = L * a / (a + b);
    if (k > L - 1) {
        diag_error(S->diag, rl,
                   "'ratio' \"%s\" places %lld of %lld layers, but a ratio never uses layer 0: at most %lld fit",
                   p->ratio, (long long)k, (long long)L, (long long)(L - 1));
        return false;
    }
    int64_t *pos = ARENA_NEW_N(S->arena, int64_t, k);
    ratio_positions(p->placement, L, k, pos);
    for (int64_t j = 0; j < k; j++) {
        HYC_ASSERT(pos[j] >= 1 && pos[j] < L && !sel[pos[j]]);
        sel[pos[j]] = true;
    }
    return true;
}

static void check_place(Sema *S, const AstNode *n, int64_t L, const LayerDef **at, SrcLoc *why)
{
    PlaceSpec p;
    memset(&p, 0, sizeof p);
    block_init(S, &p.blk, SCHEMA_BLOCK_PLACE, n, &p);
    int errs = errors(S);
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            if (!apply_setting(S, &p.blk, &p, it)) unknown_key(S, it, "'place'", p.blk.schema, NULL);
        } else if (it->kind == AST_BLOCK) {
            unexpected_block(S, it, "'place'", p.blk.schema);
        }
    }
    const LayerDef *l = NULL;
    if (!n->label)
        diag_error(S->diag, n->name_loc, "'place' needs a layer name: place NAME { ... }");
    else
        l = find_layer(S, n->label, n->label_loc);
    if (errors(S) != errs || L <= 0) return;
    bool *sel = ARENA_NEW_N(S->arena, bool, L);
    if (!place_depths(S, &p, L, sel) || !l) return;
    for (int64_t i = 0; i < L; i++)
        if (sel[i]) at[i] = l, why[i] = n->name_loc;
}

/* symbols { M = mamba  "*" = attn }: one ASCII character per layer. */
static void check_symbols(Sema *S, const AstNode *n, const LayerDef **sym, const AstNode **sym_set)
{
    no_label(S, n);
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_BLOCK) {
            diag_error(S->diag, it->name_loc, "'symbols' holds settings 'SYMBOL = LAYER', not blocks");
            continue;
        }
        if (it->kind != AST_SETTING) continue;
        const char *k = it->name;
        unsigned char c = (unsigned char)k[0];
        if (strlen(k) != 1 || c <= ' ' || c >= 127) {
            diag_error(S->diag, it->name_loc, "a symbol must be one printable ASCII character, got '%s'", k);
            continue;
        }
        if (sym_set[c]) {
            diag_error(S->diag, it->name_loc, "duplicate symbol '%c'", c);
            diag_note(S->diag, sym_set[c]->name_loc, "'%c' was first set here", c);
            continue;
        }
        sym_set[c] = it;
        if (it->value->kind != AST_IDENT) {
            diag_error(S->diag, it->value->loc, "symbol '%c' must name a layer, got %s", c, ast_value_desc(it->value));
            continue;
        }
        sym[c] = find_layer(S, it->value->name, it->value->loc);
    }
}

static void check_stack(Sema *S, const AstNode *n)
{
    ModelSpec *m = S->m;
    StackSpec *st = &m->stack;
    block_init(S, &st->blk, SCHEMA_BLOCK_STACK, n, st);
    no_label(S, n);
    NodeVec places = {0};
    const AstNode *symbols = NULL;
    int errs = errors(S);
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            if (!apply_setting(S, &st->blk, st, it)) unknown_key(S, it, "'stack'", st->blk.schema, NULL);
        } else if (it->kind == AST_BLOCK) {
            if (strcmp(it->name, "place") == 0) {
                vec_push(&places, it);
            } else if (strcmp(it->name, "symbols") == 0) {
                if (symbols) {
                    diag_error(S->diag, it->name_loc, "duplicate 'symbols' block");
                    diag_note(S->diag, symbols->name_loc, "the first 'symbols' is here");
                } else {
                    symbols = it;
                }
            } else if (schema_key_index(st->blk.schema, it->name) >= 0) {
                unexpected_block(S, it, "'stack'", st->blk.schema);
            } else {
                const char *s = suggest(it->name, (const char *const[]){"place", "symbols"}, 2);
                if (s)
                    diag_error(S->diag, it->name_loc, "unknown block '%s' in 'stack'; did you mean '%s'?", it->name, s);
                else
                    diag_error(S->diag, it->name_loc, "unknown block '%s' in 'stack' (it holds 'place' and 'symbols')",
                               it->name);
            }
        }
    }

    bool pat = spec_given(&st->blk, "pattern") && st->pattern, fill = spec_given(&st->blk, "fill") && st->fill;
    if (pat && fill) {
        diag_error(S->diag, given_node(&st->blk, "fill")->name_loc, "'fill' and 'pattern' cannot both be given");
        diag_note(S->diag, given_node(&st->blk, "pattern")->name_loc, "the pattern is here");
    }
    if (symbols && !spec_given(&st->blk, "pattern"))
        diag_error(S->diag, symbols->name_loc, "'symbols' needs a 'pattern'");
    if (spec_given(&st->blk, "repeat") && !spec_given(&st->blk, "pattern"))
        diag_error(S->diag, given_node(&st->blk, "repeat")->name_loc, "'repeat' needs a 'pattern'");
    if (pat && !symbols)
        diag_error(S->diag, given_node(&st->blk, "pattern")->name_loc,
                   "'pattern' needs a 'symbols' block naming the layer of each symbol");
    if (!spec_given(&st->blk, "pattern") && !spec_given(&st->blk, "fill") && places.len == 0 &&
        !spec_given(&st->blk, "layers")) {
        diag_error(S->diag, st->blk.name_loc, "the stack is empty: give 'layers' and 'fill', or a 'pattern'");
        vec_free(&places);
        return;
    }

    /* The number of layers. */
    int64_t L = 0, plen = 0;
    if (pat) {
        plen = (int64_t)strlen(st->pattern);
        if (plen == 0) {
            diag_error(S->diag, spec_key_loc(&st->blk, "pattern"), "'pattern' is empty");
        } else if (plen * st->repeat > (int64_t)SPEC_MAX_LAYERS) {
            diag_error(S->diag, spec_key_loc(&st->blk, "pattern"),
                       "the pattern gives %lld layers; the limit is %lld", (long long)(plen * st->repeat),
                       (long long)SPEC_MAX_LAYERS);
        } else {
            L = plen * st->repeat;
            if (spec_given(&st->blk, "layers") && st->layers != L) {
                if (st->repeat > 1)
                    diag_error(S->diag, spec_key_loc(&st->blk, "layers"),
                               "'layers' is %lld, but the pattern has %lld symbols × repeat %lld = %lld layers",
                               (long long)st->layers, (long long)plen, (long long)st->repeat, (long long)L);
                else
                    diag_error(S->diag, spec_key_loc(&st->blk, "layers"),
                               "'layers' is %lld, but the pattern has %lld symbols", (long long)st->layers,
                               (long long)plen);
            }
            st->layers = L;
        }
    } else if (spec_given(&st->blk, "pattern")) {
        L = 0; /* the pattern itself was wrong; reported */
    } else if (!spec_given(&st->blk, "layers")) {
        diag_error(S->diag, st->blk.name_loc, "missing required key 'layers' in 'stack'");
    } else {
        L = st->layers;
    }
    if (L <= 0) {
        /* Still check what does not depend on the depth. */
        const LayerDef *sym[256] = {0};
        const AstNode *sym_set[256] = {0};
        if (symbols) check_symbols(S, symbols, sym, sym_set);
        if (fill) find_layer(S, st->fill, spec_key_loc(&st->blk, "fill"));
        for (int i = 0; i < places.len; i++) check_place(S, places.data[i], 0, NULL, NULL);
        vec_free(&places);
        return;
    }

    const LayerDef **at = ARENA_NEW_N(S->arena, const LayerDef *, L);
    SrcLoc *why = ARENA_NEW_N(S->arena, SrcLoc, L);
    if (pat && symbols) {
        const LayerDef *sym[256] = {0};
        const AstNode *sym_set[256] = {0};
        bool reported[256] = {false};
        int before = errors(S);
        check_symbols(S, symbols, sym, sym_set);
        /* A symbol that was itself rejected would show up again below. */
        bool symbols_ok = errors(S) == before;
        SrcLoc ploc = spec_key_loc(&st->blk, "pattern");
        for (int64_t i = 0; i < L; i++) {
            unsigned char c = (unsigned char)st->pattern[i % plen];
            SrcLoc cl = string_char_loc(m->src, ploc, (int)(i % plen));
            if (!sym_set[c]) {
                if (!reported[c] && symbols_ok) {
                    if (c > ' ' && c < 127)
                        diag_error(S->diag, cl, "symbol '%c' of the pattern is not in 'symbols'", c);
                    else
                        diag_error(S->diag, cl, "the pattern holds a character that is not a symbol (byte 0x%02X)", c);
                }
                reported[c] = true;
                continue;
            }
            at[i] = sym[c];
            why[i] = cl;
        }
    }
    if (fill) {
        const LayerDef *f = find_layer(S, st->fill, spec_key_loc(&st->blk, "fill"));
        for (int64_t i = 0; i < L && f; i++) at[i] = f, why[i] = spec_key_loc(&st->blk, "fill");
    }
    for (int i = 0; i < places.len; i++) check_place(S, places.data[i], L, at, why);
    vec_free(&places);
    if (errors(S) != errs) return;

    StrBuf missing = {0};
    int n_missing = 0;
    for (int64_t i = 0; i < L; i++)
        if (!at[i] && n_missing++ < 8) sb_printf(&missing, "%s%lld", n_missing > 1 ? ", " : "", (long long)i);
    if (n_missing) {
        diag_error(S->diag, st->blk.name_loc, "%s %s%s %s no layer: give 'fill', or a placement that covers %s",
                   n_missing == 1 ? "depth" : "depths", sb_cstr(&missing), n_missing > 8 ? ", ..." : "",
                   n_missing == 1 ? "has" : "have", n_missing == 1 ? "it" : "them");
        sb_free(&missing);
        return;
    }
    sb_free(&missing);
    m->n_layers = (int)L;
    m->layers = at;
    m->layer_locs = why;
    for (int64_t i = 0; i < L; i++) {
        LayerDef *l = (LayerDef *)at[i]; /* at[] points into m->layer_defs, which sema owns */
        l->n_uses++;
        for (int j = 0; j < l->n_sublayers; j++)
            if (l->sublayers[j].kind == SUBLAYER_USE && l->sublayers[j].as.use.block)
                ((SharedBlockDef *)l->sublayers[j].as.use.block)->n_uses++;
    }
}

/* ---- weights ---------------------------------------------------------------------- */

static void check_rename(Sema *S, const AstNode *n, RenameVec *out, NodeVec *seen)
{
    no_label(S, n);
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_BLOCK) {
            diag_error(S->diag, it->name_loc, "'rename' holds settings \"CANONICAL\" = \"NAME IN FILE\", not blocks");
            continue;
        }
        if (it->kind != AST_SETTING) continue;
        bool dup = false;
        for (int j = 0; j < seen->len && !dup; j++)
            if (strcmp(seen->data[j]->name, it->name) == 0) {
                diag_error(S->diag, it->name_loc, "duplicate rename of '%s'", it->name);
                diag_note(S->diag, seen->data[j]->name_loc, "'%s' was first renamed here", it->name);
                dup = true;
            }
        if (dup) continue;
        vec_push(seen, it);
        if (it->value->kind != AST_STRING) {
            diag_error(S->diag, it->value->loc, "a rename must give the tensor's name in the file as a string, got %s",
                       ast_value_desc(it->value));
            continue;
        }
        if (strstr(it->value->sval, "{i}") && !strstr(it->name, "{i}")) {
            diag_error(S->diag, it->value->loc, "'{i}' in the name in the file needs '{i}' in the canonical name");
            continue;
        }
        WeightRename r = {it->name, it->value->sval, it->name_loc};
        vec_push(out, r);
    }
}

static void check_weights(Sema *S, const AstNode *n)
{
    WeightsSpec *w = &S->m->weights;
    block_init(S, &w->blk, SCHEMA_BLOCK_WEIGHTS, n, w);
    w->present = true;
    no_label(S, n);
    RenameVec renames = {0};
    NodeVec seen = {0};
    for (int i = 0; i < n->items.len; i++) {
        const AstNode *it = n->items.data[i];
        if (it->kind == AST_SETTING) {
            if (!apply_setting(S, &w->blk, w, it)) unknown_key(S, it, "'weights'", w->blk.schema, NULL);
        } else if (it->kind == AST_BLOCK) {
            if (strcmp(it->name, "rename") == 0) {
                check_rename(S, it, &renames, &seen);
            } else {
                const char *s = suggest(it->name, (const char *const[]){"rename"}, 1);
                if (s)
                    diag_error(S->diag, it->name_loc, "unknown block '%s' in 'weights'; did you mean '%s'?", it->name, s);
                else
                    unexpected_block(S, it, "'weights'", w->blk.schema);
            }
        }
    }
    check_required(S, &w->blk, "'weights'");
    w->n_renames = renames.len;
    w->renames = vec_to_arena(S->arena, &renames);
    vec_free(&renames);
    vec_free(&seen);
    if (!w->naming) w->naming = "hyc";
    /* hyc's own names, or those of a family hf_names.c can bind. */
    int nf;
    const char *const *families = hf_families(&nf);
    const char **namings = ARENA_NEW_N(S->arena, const char *, nf + 1);
    namings[0] = "hyc";
    for (int i = 0; i < nf; i++) namings[i + 1] = arena_printf(S->arena, "hf:%s", families[i]);
    bool known = false;
    for (int i = 0; i <= nf; i++) known |= strcmp(namings[i], w->naming) == 0;
    if (!known) {
        const char *s = suggest(w->naming, namings, nf + 1);
        SrcLoc l = spec_key_loc(&w->blk, "naming");
        if (s)
            diag_error(S->diag, l, "unknown naming \"%s\"; did you mean \"%s\"?", w->naming, s);
        else
            diag_error(S->diag, l, "unknown naming \"%s\" (\"hyc\", or \"hf:\" and a model_type such as \"hf:jamba\")",
                       w->naming);
    }
    if (w->file) {
        const char *src = S->m->src->name, *slash = strrchr(src, '/');
        if (w->file[0] == '/' || !slash)
            w->path = w->file;
        else
            w->path = arena_printf(S->arena, "%.*s/%s", (int)(slash - src), src, w->file);
    }
}

/* Canonical names with the depth written "{i}": what a rename matches. */
typedef struct RenameCheck {
    Interner norm;           /* normalized names seen */
    Vec(const char *) cands; /* the same, for suggestions */
    const char **exact;      /* sorted renames without "{i}" */
    bool *exact_hit;
    int n_exact;
    StrBuf buf;
} RenameCheck;

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void rename_visit(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    RenameCheck *rc = ctx;
    const char **hit = rc->n_exact ? bsearch(&name, rc->exact, (size_t)rc->n_exact, sizeof *rc->exact, cmp_str) : NULL;
    if (hit) rc->exact_hit[hit - rc->exact] = true;
    rc->buf.len = 0;
    size_t pre = strlen("layers.");
    if (strncmp(name, "layers.", pre) == 0 && name[pre] >= '0' && name[pre] <= '9') {
        const char *p = name + pre;
        while (*p >= '0' && *p <= '9') p++;
        sb_printf(&rc->buf, "layers.{i}%s", p);
    } else {
        sb_puts(&rc->buf, name);
    }
    size_t before = rc->norm.len;
    const char *s = intern(&rc->norm, sb_cstr(&rc->buf));
    if (rc->norm.len != before) vec_push(&rc->cands, s);
}

static void check_renames(Sema *S)
{
    WeightsSpec *w = &S->m->weights;
    if (!w->n_renames) return;
    RenameCheck rc;
    memset(&rc, 0, sizeof rc);
    intern_init(&rc.norm, S->arena);
    rc.exact = ARENA_NEW_N(S->arena, const char *, w->n_renames);
    rc.exact_hit = ARENA_NEW_N(S->arena, bool, w->n_renames);
    for (int i = 0; i < w->n_renames; i++)
        if (!strstr(w->renames[i].from, "{i}")) rc.exact[rc.n_exact++] = w->renames[i].from;
    qsort(rc.exact, (size_t)rc.n_exact, sizeof *rc.exact, cmp_str);
    spec_params(S->m, rename_visit, &rc);
    for (int i = 0; i < w->n_renames; i++) {
        const WeightRename *r = &w->renames[i];
        bool found;
        if (strstr(r->from, "{i}")) {
            size_t before = rc.norm.len;
            intern(&rc.norm, r->from);
            found = rc.norm.len == before;
        } else {
            const char **hit = bsearch(&r->from, rc.exact, (size_t)rc.n_exact, sizeof *rc.exact, cmp_str);
            found = hit && rc.exact_hit[hit - rc.exact];
        }
        if (found) continue;
        const char *s = suggest(r->from, rc.cands.data, rc.cands.len);
        if (s)
            diag_error(S->diag, r->loc, "rename: the model has no parameter '%s'; did you mean '%s'?", r->from, s);
        else
            diag_error(S->diag, r->loc, "rename: the model has no parameter '%s' (hyc check --params lists them)",
                       r->from);
    }
    vec_free(&rc.cands);
    sb_free(&rc.buf);
    intern_free(&rc.norm);
}

/* ---- the model ------------------------------------------------------------------------ */

/* ---- cross-layer KV sharing (attention kv_share) ------------------------------ */

/* The attentions of a layer that keep or read a KV cache: its attention
 * sublayers and parallel branches (uses of shared blocks keep their own). */
static int layer_attentions(const LayerDef *l, const SublayerSpec **out, int max)
{
    int n = 0;
    for (int j = 0; j < l->n_sublayers; j++) {
        const SublayerSpec *sl = &l->sublayers[j];
        if (sl->kind == SUBLAYER_ATTENTION && n < max) out[n++] = sl;
        if (sl->kind != SUBLAYER_PARALLEL) continue;
        for (int b = 0; b < sl->as.parallel.n_branches; b++)
            if (sl->as.parallel.branches[b].kind == SUBLAYER_ATTENTION && n < max) out[n++] = &sl->as.parallel.branches[b];
    }
    return n;
}

/* What a reader must agree on with the attention whose cache it reads: the
 * cached keys were made (projected, normed, scaled, rotated) by the source,
 * and the cache holds the source's window.  NULL when they agree. */
static const char *kv_mismatch(const AttentionSpec *r, const AttentionSpec *s)
{
    if (r->kv_heads != s->kv_heads) return "kv_heads";
    if (r->head_dim != s->head_dim) return "head_dim";
    if (r->window != s->window) return "window";
    if (r->qk_norm != s->qk_norm) return "qk_norm";
    if (r->rope != s->rope || r->rope_dims != s->rope_dims || r->rope_base != s->rope_base ||
        r->rope_pairing != s->rope_pairing)
        return "rope";
    const SpecCall *a = &r->rope_scaling, *b = &s->rope_scaling;
    if (a->kind != b->kind || memcmp(a->args, b->args, sizeof a->args) != 0) return "rope_scaling";
    return NULL;
}

/* The depth whose attention the kv_share attention A at depth i reads, or -1
 * after an error: `kv_share = k` is depth i - k, `kv_share = NAME` the
 * nearest depth above i whose layer is NAME; a reader there passes on its
 * own source. */
static int kv_source_of(Sema *S, const AttentionSpec *a, int i, const int *source)
{
    ModelSpec *m = S->m;
    SrcLoc at = spec_key_loc(&a->blk, "kv_share");
    int j = -1;
    if (a->kv_share.name) {
        const LayerDef *want = find_layer(S, a->kv_share.name, at);
        if (!want) return -1;
        for (j = i - 1; j >= 0 && m->layers[j] != want; j--) {}
        if (j < 0) {
            diag_error(S->diag, at, "'kv_share = %s' at depth %d: no layer '%s' above it", a->kv_share.name, i,
                       a->kv_share.name);
            return -1;
        }
    } else {
        j = i - (int)a->kv_share.offset;
        if (j < 0) {
            diag_error(S->diag, at, "'kv_share = %lld' at depth %d points above the first layer",
                       (long long)a->kv_share.offset, i);
            return -1;
        }
    }
    return source[j] >= 0 ? source[j] : j;
}

/* Resolve every kv_share per depth (ModelSpec.kv_source, kv_readers).  A
 * layer def is reported once, at the first depth that shows its problem. */
static void resolve_kv_sharing(Sema *S)
{
    ModelSpec *m = S->m;
    int *source = ARENA_NEW_N(S->arena, int, m->n_layers ? m->n_layers : 1);
    int *readers = ARENA_NEW_N(S->arena, int, m->n_layers ? m->n_layers : 1);
    bool *reported = ARENA_NEW_N(S->arena, bool, m->n_layer_defs ? m->n_layer_defs : 1);
    m->kv_source = source;
    m->kv_readers = readers;
    for (int i = 0; i < m->n_layers; i++) source[i] = -1;
    for (int i = 0; i < m->n_layers; i++) {
        const LayerDef *l = m->layers[i];
        bool *rep = &reported[l - m->layer_defs];
        const SublayerSpec *att[8];
        int n = layer_attentions(l, att, 8), n_readers = 0;
        const AttentionSpec *r = NULL;
        for (int k = 0; k < n; k++)
            if (att[k]->as.attention.kv_reader) {
                r = &att[k]->as.attention;
                if (++n_readers == 2 && !*rep) {
                    diag_error(S->diag, spec_key_loc(&r->blk, "kv_share"),
                               "layer '%s' has two attentions with 'kv_share'; only one may read another layer's cache",
                               l->name);
                    *rep = true;
                }
            }
        if (!r || n_readers > 1 || *rep) continue;
        int j = kv_source_of(S, r, i, source);
        if (j < 0) {
            *rep = true;
            continue;
        }
        const SublayerSpec *src[8];
        int ns = layer_attentions(m->layers[j], src, 8);
        if (ns != 1) {
            diag_error(S->diag, spec_key_loc(&r->blk, "kv_share"),
                       "'kv_share' at depth %d reads depth %d (layer '%s'), which has %d attentions; it needs exactly one",
                       i, j, m->layers[j]->name, ns);
            *rep = true;
            continue;
        }
        const AttentionSpec *s = &src[0]->as.attention;
        const char *what = kv_mismatch(r, s);
        if (what) {
            diag_error(S->diag, spec_key_loc(&r->blk, "kv_share"),
                       "'kv_share' at depth %d reads the KV cache of depth %d (layer '%s'), whose attention has "
                       "a different '%s'",
                       i, j, m->layers[j]->name, what);
            diag_note(S->diag, s->blk.name_loc, "the attention whose cache it would read");
            *rep = true;
            continue;
        }
        source[i] = j;
        readers[j]++;
    }
}

/* Reports a block `model` does not hold; returns true if it looks like a
 * misspelled stack (then "no stack" would only repeat the error). */
static bool unknown_model_block(Sema *S, const AstNode *n)
{
    SublayerKind k;
    if (schema_sublayer_lookup(n->name, &k)) {
        diag_error(S->diag, n->name_loc, "'%s' is a sublayer: put it inside a layer: layer NAME { %s { ... } }",
                   n->name, n->name);
        return false;
    }
    if (schema_key_index(schema_block(SCHEMA_BLOCK_MODEL), n->name) >= 0) {
        unexpected_block(S, n, "'model'", schema_block(SCHEMA_BLOCK_MODEL));
        return false;
    }
    static const char *const kinds[] = {"layer", "shared_block", "stack", "weights"};
    const char *s = suggest(n->name, kinds, 4);
    if (s)
        diag_error(S->diag, n->name_loc, "unknown block '%s' in 'model'; did you mean '%s'?", n->name, s);
    else
        diag_error(S->diag, n->name_loc,
                   "unknown block '%s' in 'model' (it holds layer, shared_block, stack and weights)", n->name);
    return s && strcmp(s, "stack") == 0;
}

/* A second stack or weights block. */
static bool once(Sema *S, const AstNode **slot, const AstNode *n)
{
    if (*slot) {
        diag_error(S->diag, n->name_loc, "duplicate '%s' block", n->name);
        diag_note(S->diag, (*slot)->name_loc, "the first '%s' is here", n->name);
        return false;
    }
    *slot = n;
    return true;
}

static void check_model(Sema *S, const AstNode *node)
{
    ModelSpec *m = S->m;
    block_init(S, &m->blk, SCHEMA_BLOCK_MODEL, node, m);
    if (!node->label) diag_error(S->diag, node->name_loc, "the model needs a name: model NAME { ... }");
    m->name = node->label ? node->label : "model";

    NodeVec defs = {0}, seen = {0};
    const AstNode *stack = NULL, *weights = NULL;
    int n_layers = 0, n_shared = 0;
    bool stack_misspelled = false;
    for (int i = 0; i < node->items.len; i++) {
        const AstNode *it = node->items.data[i];
        if (it->kind == AST_SETTING) {
            if (!apply_setting(S, &m->blk, m, it)) unknown_key(S, it, "'model'", m->blk.schema, NULL);
        } else if (it->kind == AST_BLOCK) {
            bool is_layer = strcmp(it->name, "layer") == 0;
            if (is_layer || strcmp(it->name, "shared_block") == 0) {
                vec_push(&defs, it);
                n_layers += is_layer;
                n_shared += !is_layer;
            } else if (strcmp(it->name, "stack") == 0)
                once(S, &stack, it);
            else if (strcmp(it->name, "weights") == 0)
                once(S, &weights, it);
            else
                stack_misspelled |= unknown_model_block(S, it);
        }
    }
    check_required(S, &m->blk, "'model'");

    /* Names first: layers may use shared blocks defined after them, and the
     * stack may name layers in any order. */
    m->layer_defs = ARENA_NEW_N(S->arena, LayerDef, n_layers ? n_layers : 1);
    m->shared_blocks = ARENA_NEW_N(S->arena, SharedBlockDef, n_shared ? n_shared : 1);
    const AstNode **layer_nodes = ARENA_NEW_N(S->arena, const AstNode *, n_layers ? n_layers : 1);
    const AstNode **shared_nodes = ARENA_NEW_N(S->arena, const AstNode *, n_shared ? n_shared : 1);
    /* Layers and shared blocks share one namespace; in definition order, so
     * that the first of two same-named definitions is the one kept. */
    for (int i = 0; i < defs.len; i++) {
        const AstNode *it = defs.data[i];
        const char *name = def_name(S, it, &seen);
        if (!name) continue;
        if (strcmp(it->name, "layer") == 0) {
            LayerDef *l = &m->layer_defs[m->n_layer_defs];
            layer_nodes[m->n_layer_defs++] = it;
            l->name = name;
            block_init(S, &l->blk, SCHEMA_BLOCK_LAYER, it, l);
        } else {
            SharedBlockDef *b = &m->shared_blocks[m->n_shared_blocks];
            shared_nodes[m->n_shared_blocks++] = it;
            b->name = name;
            block_init(S, &b->blk, SCHEMA_BLOCK_SHARED_BLOCK, it, b);
        }
    }
    vec_free(&defs);
    vec_free(&seen);

    for (int i = 0; i < m->n_shared_blocks; i++) check_shared_block(S, &m->shared_blocks[i], shared_nodes[i]);
    for (int i = 0; i < m->n_layer_defs; i++) check_layer(S, &m->layer_defs[i], layer_nodes[i]);
    if (stack)
        check_stack(S, stack);
    else if (!stack_misspelled)
        diag_error(S->diag, node->name_loc, "model '%s' has no 'stack' block", m->name);
    if (weights) check_weights(S, weights);
    if (m->n_layers > 0 && errors(S) == 0) resolve_kv_sharing(S);

    /* After an error a definition may look unused only because the stack or
     * a use of it was rejected: warn on clean models only. */
    if (m->n_layers > 0 && errors(S) == 0) {
        for (int i = 0; i < m->n_layer_defs; i++)
            if (m->layer_defs[i].n_uses == 0)
                diag_warning(S->diag, m->layer_defs[i].blk.name_loc, "layer '%s' is defined but never used in the stack",
                             m->layer_defs[i].name);
        for (int i = 0; i < m->n_shared_blocks; i++)
            if (m->shared_blocks[i].n_uses == 0)
                diag_warning(S->diag, m->shared_blocks[i].blk.name_loc,
                             "shared_block '%s' is defined but no layer of the stack uses it", m->shared_blocks[i].name);
    }
}

/* The one `model` block of the file. */
static const AstNode *find_model(Sema *S, const AstFile *f)
{
    const AstNode *model = NULL;
    for (int i = 0; i < f->items.len; i++) {
        const AstNode *it = f->items.data[i];
        if (it->kind == AST_SETTING) {
            diag_error(S->diag, it->name_loc, "settings belong inside the 'model' block");
        } else if (it->kind == AST_BLOCK && strcmp(it->name, "model") == 0) {
            if (model) {
                diag_error(S->diag, it->name_loc, "a file holds one model; this is a second 'model' block");
                diag_note(S->diag, model->name_loc, "the first 'model' is here");
            } else {
                model = it;
            }
        } else if (it->kind == AST_BLOCK) {
            const char *s = suggest(it->name, (const char *const[]){"model"}, 1);
            if (s)
                diag_error(S->diag, it->name_loc, "unknown block '%s' at the top level; did you mean 'model'?", it->name);
            else
                diag_error(S->diag, it->name_loc,
                           "unknown block '%s' at the top level (a file holds one 'model NAME { ... }')", it->name);
        }
    }
    if (!model && S->diag->n_errors == 0)
        diag_error(S->diag, loc_file(f->src), "no model in the file: expected 'model NAME { ... }'");
    return model;
}

ModelSpec *sema_check(const AstFile *file, Arena *arena, Interner *in, Diag *diag)
{
    Sema S = {arena, in, diag, file, NULL};
    int before = diag->n_errors;
    const AstNode *model = find_model(&S, file);
    if (!model) return NULL;
    S.m = ARENA_NEW(arena, ModelSpec);
    S.m->src = file->src;
    check_model(&S, model);
    if (!S.m->weights.present) S.m->weights.naming = "hyc";
    if (diag->n_errors == before) check_renames(&S);
    if (diag->n_errors == before && spec_param_count(S.m) > (INT64_C(1) << 53))
        diag_error(diag, S.m->blk.name_loc, "model '%s' has more than 2^53 parameters", S.m->name);
    return diag->n_errors == before ? S.m : NULL;
}

/* ==== canonical parameters (docs/language.md §7) ============================== */

typedef struct ParamWalk {
    const ModelSpec *m;
    SpecParamVisit visit;
    void *ctx;
    StrBuf name; /* the current prefix, e.g. "layers.3.parallel" */
} ParamWalk;

static size_t pw_push(ParamWalk *P, const char *seg)
{
    size_t keep = P->name.len;
    if (keep) sb_putc(&P->name, '.');
    sb_puts(&P->name, seg);
    return keep;
}

static void pw_pop(ParamWalk *P, size_t keep)
{
    P->name.len = keep;
    if (P->name.data) P->name.data[keep] = 0;
}

static void emit(ParamWalk *P, const char *leaf, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    size_t keep = pw_push(P, leaf);
    int64_t shape[3] = {d0, d1, d2};
    P->visit(P->ctx, sb_cstr(&P->name), ndim, shape);
    pw_pop(P, keep);
}

#define EMIT1(P, leaf, a) emit((P), (leaf), 1, (a), 0, 0)
#define EMIT2(P, leaf, a, b) emit((P), (leaf), 2, (a), (b), 0)
#define EMIT3(P, leaf, a, b, c) emit((P), (leaf), 3, (a), (b), (c))

/* A norm of the model's kind: weight, and bias for layernorm. */
static void norm_params(ParamWalk *P, const char *leaf, int64_t width)
{
    EMIT1(P, leaf, width);
    if (P->m->norm == NORM_LAYERNORM) {
        char bias[64];
        snprintf(bias, sizeof bias, "%s_bias", leaf);
        EMIT1(P, bias, width);
    }
}

/* The weights of one sublayer's operator.  no_out: a branch of a parallel
 * block with a shared out_proj, which replaces the branch's own. */
static void op_params(ParamWalk *P, const SublayerSpec *sl, bool no_out)
{
    int64_t d = P->m->d_model;
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: {
        const AttentionSpec *a = &sl->as.attention;
        int64_t qrows = a->q_width * (a->output_gate ? 2 : 1);
        bool kv = !a->kv_reader; /* a kv_share reader uses the k, v of another layer */
        EMIT2(P, "q", qrows, a->input_width);
        if (kv) EMIT2(P, "k", a->kv_width, a->input_width);
        if (kv) EMIT2(P, "v", a->kv_width, a->input_width);
        if (!no_out) EMIT2(P, "o", d, a->q_width);
        if (a->bias) {
            EMIT1(P, "q_bias", qrows);
            if (kv) EMIT1(P, "k_bias", a->kv_width);
            if (kv) EMIT1(P, "v_bias", a->kv_width);
            if (!no_out) EMIT1(P, "o_bias", d);
        }
        if (a->qk_norm == QK_NORM_RMS) {
            EMIT1(P, "q_norm", a->head_dim);
            if (kv) EMIT1(P, "k_norm", a->head_dim);
        }
        return;
    }
    case SUBLAYER_MAMBA1: {
        const Mamba1Spec *p = &sl->as.mamba1;
        int64_t E = p->d_inner, N = p->d_state, R = p->dt_rank;
        EMIT2(P, "in_proj", 2 * E, d);
        if (p->bias) EMIT1(P, "in_proj_bias", 2 * E);
        EMIT2(P, "conv_w", E, p->d_conv);
        if (p->conv_bias) EMIT1(P, "conv_b", E);
        EMIT2(P, "x_proj", R + 2 * N, E);
        EMIT2(P, "dt_proj", E, R);
        EMIT1(P, "dt_bias", E);
        EMIT2(P, "A_log", E, N);
        EMIT1(P, "D", E);
        if (!no_out) {
            EMIT2(P, "out_proj", d, E);
            if (p->bias) EMIT1(P, "out_proj_bias", d);
        }
        if (p->inner_norms == INNER_NORMS_RMS) {
            EMIT1(P, "dt_norm", R);
            EMIT1(P, "b_norm", N);
            EMIT1(P, "c_norm", N);
        }
        return;
    }
    case SUBLAYER_MAMBA2: {
        const Mamba2Spec *p = &sl->as.mamba2;
        EMIT2(P, "in_proj", p->in_proj_dim, d);
        if (p->bias) EMIT1(P, "in_proj_bias", p->in_proj_dim);
        EMIT2(P, "conv_w", p->conv_dim, p->d_conv);
        if (p->conv_bias) EMIT1(P, "conv_b", p->conv_dim);
        EMIT1(P, "dt_bias", p->heads);
        EMIT1(P, "A_log", p->heads);
        EMIT1(P, "D", p->heads);
        if (p->gated_norm) EMIT1(P, "gate_norm", p->d_inner);
        if (!no_out) {
            EMIT2(P, "out_proj", d, p->d_inner);
            if (p->out_bias) EMIT1(P, "out_proj_bias", d);
        }
        return;
    }
    case SUBLAYER_SHORT_CONV: {
        const ShortConvSpec *p = &sl->as.short_conv;
        EMIT2(P, "in_proj", 3 * d, d);
        if (p->bias) EMIT1(P, "in_proj_bias", 3 * d);
        EMIT2(P, "conv_w", d, p->d_conv);
        if (p->bias) EMIT1(P, "conv_b", d);
        if (!no_out) {
            EMIT2(P, "out_proj", d, d);
            if (p->bias) EMIT1(P, "out_proj_bias", d);
        }
        return;
    }
    case SUBLAYER_DELTANET: {
        const DeltaNetSpec *p = &sl->as.deltanet;
        EMIT2(P, "in_proj_qkvz", 2 * p->key_width + 2 * p->value_width, d);
        EMIT2(P, "in_proj_ba", 2 * p->value_heads, d);
        EMIT2(P, "conv_w", p->conv_dim, p->d_conv);
        EMIT1(P, "dt_bias", p->value_heads);
        EMIT1(P, "A_log", p->value_heads);
        EMIT1(P, "gate_norm", p->value_dim);
        if (!no_out) EMIT2(P, "out_proj", d, p->value_width);
        return;
    }
    case SUBLAYER_MLP: {
        const MlpSpec *p = &sl->as.mlp;
        int64_t h = p->hidden;
        if (p->gated) EMIT2(P, "gate", h, d);
        EMIT2(P, "up", h, d);
        EMIT2(P, "down", d, h);
        if (p->bias) {
            if (p->gated) EMIT1(P, "gate_bias", h);
            EMIT1(P, "up_bias", h);
            EMIT1(P, "down_bias", d);
        }
        return;
    }
    case SUBLAYER_MOE: {
        const MoeSpec *p = &sl->as.moe;
        int64_t X = p->experts, h = p->hidden, sh = p->shared_hidden, w = p->expert_width;
        EMIT2(P, "router", X, d);
        if (p->routing == MOE_ROUTING_SIGMOID_TOPK) EMIT1(P, "router_bias", X);
        if (p->gated) EMIT3(P, "experts_gate", X, h, w);
        EMIT3(P, "experts_up", X, h, w);
        EMIT3(P, "experts_down", X, w, h);
        if (p->latent > 0) {
            EMIT2(P, "latent_in", p->latent, d);
            EMIT2(P, "latent_out", d, p->latent);
        }
        if (sh > 0) {
            if (p->gated) EMIT2(P, "shared_gate", sh, d);
            EMIT2(P, "shared_up", sh, d);
            EMIT2(P, "shared_down", d, sh);
            if (p->shared_gate) EMIT2(P, "shared_expert_gate", 1, d);
        }
        return;
    }
    case SUBLAYER_PARALLEL: {
        const ParallelSpec *p = &sl->as.parallel;
        bool shared = p->out_proj == OUT_PROJ_SHARED;
        for (int i = 0; i < p->n_branches; i++) {
            const SublayerSpec *b = &p->branches[i];
            size_t keep = pw_push(P, b->param_name);
            op_params(P, b, shared);
            if (p->branch_norm != BRANCH_NORM_NONE) EMIT1(P, "branch_norm", b->branch_width);
            if (p->branch_scale == BRANCH_SCALE_SCALE) EMIT1(P, "branch_scale", 1);
            if (p->branch_scale == BRANCH_SCALE_GATE) EMIT2(P, "branch_scale", 1, d);
            pw_pop(P, keep);
        }
        if (shared) EMIT2(P, "out_proj", d, p->out_proj_in);
        return;
    }
    case SUBLAYER_USE: {
        /* Per-site weights; the shared block's own are under shared.NAME. */
        const SharedBlockDef *b = sl->as.use.block;
        EMIT2(P, "site_proj", d, d);
        for (int i = 0; i < b->n_sublayers; i++) {
            const SublayerSpec *s = &b->sublayers[i];
            size_t keep = pw_push(P, s->param_name);
            if (s->kind == SUBLAYER_ATTENTION && s->as.attention.adapter_rank > 0) {
                const AttentionSpec *a = &s->as.attention;
                int64_t r = a->adapter_rank, qrows = a->q_width * (a->output_gate ? 2 : 1);
                EMIT2(P, "q_lora_a", r, a->input_width);
                EMIT2(P, "q_lora_b", qrows, r);
                EMIT2(P, "k_lora_a", r, a->input_width);
                EMIT2(P, "k_lora_b", a->kv_width, r);
                EMIT2(P, "v_lora_a", r, a->input_width);
                EMIT2(P, "v_lora_b", a->kv_width, r);
            } else if (s->kind == SUBLAYER_MLP && s->as.mlp.adapter_rank > 0) {
                const MlpSpec *m = &s->as.mlp;
                int64_t r = m->adapter_rank;
                if (m->gated) {
                    EMIT2(P, "gate_lora_a", r, d);
                    EMIT2(P, "gate_lora_b", m->hidden, r);
                }
                EMIT2(P, "up_lora_a", r, d);
                EMIT2(P, "up_lora_b", m->hidden, r);
            }
            pw_pop(P, keep);
        }
        return;
    }
    case SUBLAYER_N_KINDS: break;
    }
    HYC_UNREACHABLE();
}

static void sublayer_params(ParamWalk *P, const SublayerSpec *sl)
{
    size_t keep = pw_push(P, sl->param_name);
    if (sl->norm) norm_params(P, "norm", sl->in_width);
    op_params(P, sl, false);
    pw_pop(P, keep);
}

void spec_params(const ModelSpec *m, SpecParamVisit visit, void *ctx)
{
    ParamWalk P = {m, visit, ctx, {0}};
    EMIT2(&P, "embed", m->vocab, m->d_model);
    for (int i = 0; i < m->n_shared_blocks; i++) {
        const SharedBlockDef *b = &m->shared_blocks[i];
        if (b->n_uses == 0) continue;
        size_t k0 = pw_push(&P, "shared");
        size_t k1 = pw_push(&P, b->name);
        for (int j = 0; j < b->n_sublayers; j++) sublayer_params(&P, &b->sublayers[j]);
        pw_pop(&P, k1);
        pw_pop(&P, k0);
    }
    for (int i = 0; i < m->n_layers; i++) {
        char seg[32];
        snprintf(seg, sizeof seg, "layers.%d", i);
        size_t keep = pw_push(&P, seg);
        const LayerDef *l = m->layers[i];
        for (int j = 0; j < l->n_sublayers; j++) sublayer_params(&P, &l->sublayers[j]);
        pw_pop(&P, keep);
    }
    if (m->final_norm) norm_params(&P, "final_norm", m->d_model);
    if (!m->tie_embeddings) EMIT2(&P, "lm_head", m->vocab, m->d_model);
    sb_free(&P.name);
}

static void count_visit(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    int64_t *total = ctx, n = 1;
    for (int i = 0; i < ndim; i++) n = sat_mul(n, shape[i]);
    *total = sat_add(*total, n);
}

int64_t spec_param_count(const ModelSpec *m)
{
    int64_t total = 0;
    spec_params(m, count_visit, &total);
    return total;
}

/* ---- inference state ------------------------------------------------------------------- */

int spec_dtype_size(StateDtype dt) { return dt == STATE_DTYPE_F32 ? 4 : 2; }

static void sublayer_state(const ModelSpec *m, const SublayerSpec *sl, int64_t T, SpecState *st)
{
    const int64_t F = spec_dtype_size(m->ssm_dtype); /* bytes of a conv / SSM state value */
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: {
        const AttentionSpec *a = &sl->as.attention;
        if (a->kv_reader) return; /* reads another layer's cache */
        int64_t keep = a->window > 0 && a->window < T ? a->window : T;
        st->kv = sat_add(st->kv, sat_mul(sat_mul(2 * spec_dtype_size(m->kv_dtype), a->kv_width), keep));
        return;
    }
    case SUBLAYER_MAMBA1: {
        const Mamba1Spec *p = &sl->as.mamba1;
        st->conv = sat_add(st->conv, sat_mul(F * p->d_inner, p->d_conv - 1));
        st->ssm = sat_add(st->ssm, sat_mul(F * p->d_inner, p->d_state));
        return;
    }
    case SUBLAYER_MAMBA2: {
        const Mamba2Spec *p = &sl->as.mamba2;
        st->conv = sat_add(st->conv, sat_mul(F * p->conv_dim, p->d_conv - 1));
        st->ssm = sat_add(st->ssm, sat_mul(F * p->d_inner, p->d_state));
        return;
    }
    case SUBLAYER_SHORT_CONV:
        st->conv = sat_add(st->conv, sat_mul(F * m->d_model, sl->as.short_conv.d_conv - 1));
        return;
    case SUBLAYER_DELTANET: {
        const DeltaNetSpec *p = &sl->as.deltanet;
        st->conv = sat_add(st->conv, sat_mul(F * p->conv_dim, p->d_conv - 1));
        st->ssm = sat_add(st->ssm, sat_mul(sat_mul(F * p->value_heads, p->key_dim), p->value_dim));
        return;
    }
    case SUBLAYER_MLP:
    case SUBLAYER_MOE: return;
    case SUBLAYER_PARALLEL:
        for (int i = 0; i < sl->as.parallel.n_branches; i++) sublayer_state(m, &sl->as.parallel.branches[i], T, st);
        return;
    case SUBLAYER_USE: {
        /* Each use keeps its own caches. */
        const SharedBlockDef *b = sl->as.use.block;
        for (int i = 0; i < b->n_sublayers; i++) sublayer_state(m, &b->sublayers[i], T, st);
        return;
    }
    case SUBLAYER_N_KINDS: break;
    }
    HYC_UNREACHABLE();
}

SpecState spec_state(const ModelSpec *m, int64_t seq_len)
{
    SpecState st = {0, 0, 0};
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_sublayers; j++) sublayer_state(m, &m->layers[i]->sublayers[j], seq_len, &st);
    return st;
}

int64_t spec_state_bytes(const ModelSpec *m, int64_t seq_len)
{
    SpecState st = spec_state(m, seq_len);
    return sat_add(sat_add(st.kv, st.conv), st.ssm);
}
