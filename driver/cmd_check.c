/* cmd_check.c — `hyc check`: parse and check a model, print a summary. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <string.h>

static const char CHECK_HELP[] =
    "usage: hyc check FILE.hyb\n\n"
    "Parse and check FILE; print a one-screen summary of the model (layers and\n"
    "their kinds, parameter count, shapes).  Exits 1 with diagnostics on bad input.\n";

int cmd_check(int argc, char **argv)
{
    const Command *self = cli_find_command("check");
    if (cli_wants_help(argc, argv)) {
        fputs(CHECK_HELP, stdout);
        return HYC_EXIT_OK;
    }
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_usage_error(self, "unknown option '%s'", argv[i]);
            return HYC_EXIT_USAGE;
        }
        if (path) {
            cli_usage_error(self, "one file at a time");
            return HYC_EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        cli_usage_error(self, "missing FILE");
        return HYC_EXIT_USAGE;
    }
    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    SrcFile *src = src_load(path, &arena, &diag);
    AstFile *file = src ? parse_source(src, &arena, &in, &diag) : NULL;
    int rc = file ? HYC_EXIT_OK : HYC_EXIT_USER;
    if (file) printf("%s: %d top-level items\n", path, file->items.len);
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
