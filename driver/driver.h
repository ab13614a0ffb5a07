/* driver.h — the internal header of driver/: the subcommand table and the
 * helpers the commands share (option parsing, loading a model). */
#ifndef HYC_DRIVER_H
#define HYC_DRIVER_H

#include "../util/util.h"

/* A subcommand: run(argc, argv) gets argv[0] == its name. */
typedef struct Command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;
} Command;

/* ==== commands (one file each: cmd_NAME.c) ================================= */

int cmd_check(int argc, char **argv);
int cmd_fmt(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* X(name, function, one-line summary, usage line) */
#define HYC_COMMANDS(X)                                                                   \
    X(check, cmd_check, "parse and check a model; print a summary", "hyc check FILE.hyb") \
    X(fmt, cmd_fmt, "print a model in canonical format", "hyc fmt [--check] FILE.hyb") \
    X(ir, cmd_ir, "print the Graph IR (or Kernel IR) of a model after a pass pipeline", "hyc ir MODEL [-O0..-O3] [--print-after=P] [--level=graph|kernel] [-o FILE]") \
    X(run, cmd_run, "run a model on tokens (reference interpreter, or compiled by C or LLVM); write the logits", "hyc run MODEL (--tokens 1,2,3 | --tokens-file F.i32) [--prefill K] [--logits-out F.f32] [--random-weights[=SEED]] [-O0..-O3] [--backend c|llvm [--threads N]]") \
    X(build, cmd_build, "compile a model to an executable, a static library or C, with its weights file", "hyc build MODEL [-o OUT] [--emit exe|lib|c|llvm|bc|obj] [--backend c|llvm] [-O0..-O3] [--target T] [--random-weights[=SEED]]") \
    X(bench, cmd_bench, "time a compiled model: prefill and decode tokens/s (llama-bench style)", "hyc bench MODEL [-p 512] [-n 128] [-t 1,2] [-r 5] [-o md|json] [--random-weights[=SEED]] | --ceilings") \
    X(tune, cmd_tune, "measure schedule variants of a model's kernels; keep the fastest in a tuning database", "hyc tune MODEL [--budget 5m|N] [--db FILE] [--threads N] [--kernels PATTERN] [--logits last|all] | --report [--db FILE] [--svg FILE]") \
    X(import, cmd_import, "write the .hyb model of a Hugging Face config.json", "hyc import DIR|config.json [-o MODEL.hyb]")

/* ==== model.c: loading a model, for every command ========================== */

struct IrModule;
struct ModelSpec;
struct ImportHfModel;

typedef enum ModelFormat {
    MODEL_HYB, /* a .hyb file: parse, sema, lower */
    MODEL_IR,  /* a .ir file: the Graph IR text */
    MODEL_HF,  /* a Hugging Face directory or config.json: import, then as .hyb */
} ModelFormat;

typedef struct LoadedModel {
    ModelFormat format;
    struct IrModule *module;             /* verified */
    const struct ModelSpec *spec;        /* NULL for a .ir file */
    const SrcFile *src;                  /* the .hyb text (generated for MODEL_HF) or the .ir text */
    const struct ImportHfModel *hf;      /* MODEL_HF: what the importer read (its weight naming) */
} LoadedModel;

/* Load PATH as the Graph IR module of a model: a .hyb file, a .ir file, or a
 * Hugging Face directory / config.json.  Reports every problem through diag;
 * false when there was an error.  Everything lives in the arena. */
bool model_load(const char *path, Arena *arena, Interner *in, Diag *diag, LoadedModel *out);

/* ==== cmd_build.c: the C backend, for hyc build and hyc run --backend c ===== */

struct Weights;
struct hycrt_model_desc;

/* Bind the weights a loaded model names to MOD (LM's module after a
 * pipeline: the same params); imported models through the importer's
 * naming.  False with diagnostics. */
bool model_bind_weights(const LoadedModel *lm, const struct IrModule *mod, struct Weights *w, Diag *diag);

typedef struct CompiledModel {
    void *so;                             /* the loaded shared object */
    const struct hycrt_model_desc *desc;  /* its descriptor */
    const char *weights_path;             /* its packed weights, in the cache */
    const char *entry;                    /* the cache folder */
    const char *target;                   /* the target it was compiled for */
    bool cache_hit;
    double build_s;                       /* lowering, key, and (on a miss) compiling */
} CompiledModel;

/* hyc run --backend c: LM's module (through the pipeline of LEVEL and
 * lowered) as C, compiled for the native target into a shared object in the
 * cache ($HYC_CACHE_DIR, $XDG_CACHE_HOME/hyc or ~/.cache/hyc) with its
 * weights file (random from SEED, or bound), keyed by the model text, the
 * weights' identity, the flags, the compiler and hyc; then dlopen'ed.
 * HYC_EXIT_OK, or the exit status of a failure (messages printed). */
int compiled_load(const LoadedModel *lm, const char *model_path, int level, bool llvm, bool random, uint64_t seed,
                  Arena *a, Diag *diag, CompiledModel *out);
void compiled_unload(CompiledModel *cm);

/* The shell command that compiles generated C for target t into a shared
 * object with the build's compiler and flags (CC, -std=gnu11 -O2 -march,
 * HYC_CFLAGS, -fPIC -shared -I<hycrt.h>); append "-o OUT SRC -lm".  NULL
 * after printing why (no runtime found). */
struct CgTarget;
const char *compile_so_command(Arena *a, const struct CgTarget *t, const char *cmd);

/* ==== cmd_tune.c: --tuning-db FILE of hyc build / run / bench =============== */

/* Load the database (errors: malformed lines, a missing file) for the
 * programs this command lowers; records of `threads` (0: the CPUs online)
 * are applied. */
bool tuning_prepare(const char *path, int threads, Diag *diag);
/* Apply the prepared database to p (nothing when none was prepared);
 * prints what was applied and what is stale to stderr. */
struct CgProgram;
void tuning_apply(struct CgProgram *p, Arena *a, const char *cmd);

/* ==== main.c =============================================================== */

const Command *cli_find_command(const char *name);
/* Print "hyc NAME: message", the usage line and a pointer to --help. */
void cli_usage_error(const Command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --disable-pass and friends: every comma-separated name in LIST must be a
 * pass; else a usage error for OPTION naming it (with a suggestion). */
bool cli_check_passes(const Command *self, const char *option, const char *list);
bool cli_wants_help(int argc, char **argv);
/* The value of option NAME at argv[*i]: "NAME VALUE" (advancing *i past
 * VALUE) or, for a long option, "NAME=VALUE"; NULL when argv[*i] is not NAME,
 * with *missing set when NAME ends the command line without its value. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing);
/* mkdir -p: every missing folder of PATH (a failure shows when a file in it is written). */
void cli_mkdir_p(const char *path);

#endif
