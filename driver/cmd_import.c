/* cmd_import.c — `hyc import`: a Hugging Face config.json as a .hyb model. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <errno.h>
#include <string.h>

static const char IMPORT_HELP[] =
    "usage: hyc import DIR|config.json [-o MODEL.hyb]\n\n"
    "Read a Hugging Face config.json (DIR/config.json when given a directory) and\n"
    "print the equivalent .hyb model: its layers, how they are stacked, and a\n"
    "weights block naming the checkpoint next to config.json with the family's\n"
    "Hugging Face tensor names.  Supported model_type values: llama, mamba,\n"
    "falcon_mamba, mamba2, jamba, falcon_h1, bamba, nemotron_h, zamba2,\n"
    "granitemoehybrid, lfm2, qwen3_next (docs/families.md describes each).\n\n"
    "Every key of config.json that changes the computation is honoured or\n"
    "reported as an error at that key; keys hyc does not know are warnings.\n\n"
    "  -o FILE   write to FILE (atomically) instead of standard output; the\n"
    "            weights path is then relative to FILE's directory\n\n"
    "Exit status: 0 imported, 1 the config could not be imported, 2 bad usage.\n";

/* The directory part of PATH ("." when it has none). */
static const char *dir_of(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return ".";
    return arena_strndup(a, path, (size_t)(slash - path) + (slash == path));
}

int cmd_import(int argc, char **argv)
{
    const Command *self = cli_find_command("import");
    if (cli_wants_help(argc, argv)) {
        fputs(IMPORT_HELP, stdout);
        return HYC_EXIT_OK;
    }
    const char *path = NULL, *out_path = NULL;
    bool no_more_options = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!no_more_options && strcmp(a, "--") == 0) {
            no_more_options = true;
        } else if (!no_more_options && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                cli_usage_error(self, "-o needs a file name");
                return HYC_EXIT_USAGE;
            }
            if (out_path) {
                cli_usage_error(self, "-o given twice");
                return HYC_EXIT_USAGE;
            }
            out_path = argv[++i];
        } else if (!no_more_options && a[0] == '-' && a[1]) {
            cli_usage_error(self, "unknown option '%s'", a);
            return HYC_EXIT_USAGE;
        } else if (path) {
            cli_usage_error(self, "one model at a time");
            return HYC_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        cli_usage_error(self, "missing DIR or config.json");
        return HYC_EXIT_USAGE;
    }

    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    ImportHfOptions opt = {NULL, out_path ? dir_of(&arena, out_path) : NULL};
    StrBuf text = {0};
    int rc = HYC_EXIT_USER;
    if (import_hf_config_ex(path, &opt, &text, &arena, &in, &diag)) {
        if (!out_path) {
            fwrite(sb_cstr(&text), 1, text.len, stdout);
            rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
        } else if (write_file_atomic(out_path, sb_cstr(&text), text.len)) {
            rc = HYC_EXIT_OK;
        } else {
            fprintf(stderr, "%s: error: cannot write: %s\n", out_path, strerror(errno));
        }
    }
    sb_free(&text);
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
