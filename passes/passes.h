/* passes.h — the internal header of passes/: the pass manager and the
 * Graph IR passes, one per file.
 *
 * A pass declares what it needs and what it establishes as properties of
 * the module (`requires`, `provides`, `invalidates`); the manager checks
 * them while it runs a pipeline, so that a disabled or misplaced pass is
 * reported instead of producing wrong code. */
#ifndef HYC_PASSES_H
#define HYC_PASSES_H

#include "../ir/ir.h"

/* ==== manager.c ============================================================ */

#define PASS_PROPS(X)                                                           \
    X(LOWERED, "lowered", "no composite ops remain")                            \
    X(CANONICAL, "canonical", "trivial scales, reshapes and slices are folded") \
    X(NO_DEAD_CODE, "no-dead-code", "every instruction contributes to the result or writes state")

enum {
#define X(id, name, desc) PASS_PROP_BIT_##id,
    PASS_PROPS(X)
#undef X
    PASS_PROP_COUNT
};
enum {
#define X(id, name, desc) PASS_PROP_##id = 1u << PASS_PROP_BIT_##id,
    PASS_PROPS(X)
#undef X
};

typedef struct PassOptions {
    const char *pipeline;     /* comma-separated pass names run instead of the -O level's */
    const char *print_before; /* comma-separated pass names: dump the IR before each */
    const char *print_after;  /* ... and after each */
    bool print_after_all;
    const char *disable_pass; /* comma-separated pass names to skip */
    bool verify_each;         /* run the verifier after every pass */
    bool time_passes;         /* per-pass timing report */
    FILE *dump_out;           /* IR dumps; stderr when NULL */
    FILE *time_out;           /* timing report; stderr when NULL */
    bool logits_last;         /* --logits last: prefill returns the last row only (last-logits) */
} PassOptions;

typedef struct PassCtx {
    Diag *diag;
    const PassOptions *opts;
    int opt_level;
    int changes; /* what the pass changed (instructions added/removed/folded) */
} PassCtx;

typedef struct Pass {
    const char *name;
    const char *description;
    unsigned requires, provides, invalidates; /* PASS_PROP_* */
    /* false: the pass failed and reported why through ctx->diag. */
    bool (*run)(IrModule *m, PassCtx *ctx);
} Pass;

/* Every registered pass, one per line: `name  description`. */
void pass_list(FILE *out);
const Pass *pass_lookup(const char *name);
/* The pass names of an optimization level's pipeline (0..3). */
const char *const *pass_pipeline(int opt_level, int *n);
const char *pass_prop_name(unsigned bit_index);

/* Verify the module, run the level's pipeline (or opts->pipeline) with the
 * options, verify the result.  *m stays valid (passes rewrite in place;
 * the double pointer leaves room for passes that build a new module).
 * false: diagnostics were reported. */
bool pass_run_pipeline(IrModule **m, int opt_level, const PassOptions *opts, Diag *diag);
/* The same over an explicit list of passes (tests use their own). */
bool pass_run_passes(IrModule **m, const Pass *const *passes, int n, const PassOptions *opts,
                     Diag *diag);

/* ==== fuse_scan.c ========================================================== */

extern const Pass pass_fuse_scan;

/* ==== lower_composites.c =================================================== */

extern const Pass pass_lower_composites;

/* ==== canonicalize.c ======================================================= */

extern const Pass pass_canonicalize;

/* ==== dce.c ================================================================ */

extern const Pass pass_dce;

/* ==== last_logits.c ======================================================== */

extern const Pass pass_last_logits;

/* ==== fold_scales.c ======================================================== */

extern const Pass pass_fold_scales;

/* ==== merge_projections.c ================================================== */

extern const Pass pass_merge_projections;

/* ==== fold_params.c ======================================================== */

extern const Pass pass_fold_params;

/* ==== fuse_prologue.c ====================================================== */

extern const Pass pass_fuse_prologue;

/* ==== fuse_epilogue.c ====================================================== */

extern const Pass pass_fuse_epilogue;

#endif
