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

/* X(name, function, one-line summary, usage line) */
#define HYC_COMMANDS(X)                                                                   \
    X(check, cmd_check, "parse and check a model; print a summary", "hyc check FILE.hyb") \
    X(fmt, cmd_fmt, "print a model in canonical format", "hyc fmt [--check] FILE.hyb") \
    X(ir, cmd_ir, "print the Graph IR of a model after a pass pipeline", "hyc ir MODEL [-O0..-O3] [--print-after=P] [-o FILE]") \
    X(run, cmd_run, "run a model on tokens (reference interpreter); write the logits", "hyc run MODEL (--tokens 1,2,3 | --tokens-file F.i32) [--prefill K] [--logits-out F.f32] [--random-weights[=SEED]] [-O0..-O3]") \
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

/* ==== main.c =============================================================== */

const Command *cli_find_command(const char *name);
/* Print "hyc NAME: message", the usage line and a pointer to --help. */
void cli_usage_error(const Command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_wants_help(int argc, char **argv);

#endif
