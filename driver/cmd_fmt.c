/* cmd_fmt.c — `hyc fmt`: canonical formatting of a .hyb file. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <string.h>

static const char FMT_HELP[] =
    "usage: hyc fmt [--check] FILE.hyb\n\n"
    "Print FILE in canonical format to standard output: two-space indentation,\n"
    "one setting per line, comments kept.  The output means the same model and\n"
    "formatting it again changes nothing.\n\n"
    "  --check   print nothing; exit 1 if FILE is not already canonical\n";

int cmd_fmt(int argc, char **argv)
{
    const Command *self = cli_find_command("fmt");
    if (cli_wants_help(argc, argv)) {
        fputs(FMT_HELP, stdout);
        return HYC_EXIT_OK;
    }
    const char *path = NULL;
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            check_only = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_usage_error(self, "unknown option '%s'", argv[i]);
            return HYC_EXIT_USAGE;
        } else if (path) {
            cli_usage_error(self, "one file at a time");
            return HYC_EXIT_USAGE;
        } else {
            path = argv[i];
        }
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
    int rc = HYC_EXIT_USER;
    SrcFile *src = src_load(path, &arena, &diag);
    AstFile *file = src ? parse_source(src, &arena, &in, &diag) : NULL;
    if (file) {
        StrBuf out = {0};
        fmt_file(&out, file);
        if (check_only) {
            rc = out.len == src->len && memcmp(out.data ? out.data : "", src->text, src->len) == 0
                     ? HYC_EXIT_OK
                     : HYC_EXIT_USER;
            if (rc) fprintf(stderr, "%s: not in canonical format\n", path);
        } else {
            fwrite(sb_cstr(&out), 1, out.len, stdout);
            rc = HYC_EXIT_OK;
        }
        sb_free(&out);
    }
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
