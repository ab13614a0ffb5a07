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

/* X(name, function, one-line summary, usage line) */
#define HYC_COMMANDS(X)                                                                   \
    X(check, cmd_check, "parse and check a model; print a summary", "hyc check FILE.hyb") \
    X(fmt, cmd_fmt, "print a model in canonical format", "hyc fmt [--check] FILE.hyb") \
    X(import, cmd_import, "write the .hyb model of a Hugging Face config.json", "hyc import DIR|config.json [-o MODEL.hyb]")

/* ==== main.c =============================================================== */

const Command *cli_find_command(const char *name);
/* Print "hyc NAME: message", the usage line and a pointer to --help. */
void cli_usage_error(const Command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_wants_help(int argc, char **argv);

#endif
