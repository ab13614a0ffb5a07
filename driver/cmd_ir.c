/* cmd_ir.c — `hyc ir`: load a model, run a pass pipeline, print the Graph IR
 * (or, with --level=kernel, the Kernel IR of the C backend). */
#include "driver.h"
#include "../codegen/codegen.h"
#include "../interp/interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"

#include <errno.h>
#include <string.h>

static const char IR_HELP[] =
    "usage: hyc ir MODEL [-O0|-O1|-O2|-O3] [--passes=P,...] [--print-before=P,...]\n"
    "              [--print-after=P,...] [--print-after-all] [--disable-pass=P,...]\n"
    "              [--verify-each] [--time-passes] [--no-print] [-o FILE]\n"
    "              [--level=graph|kernel] [--target=T] [--logits=all|last] [--no-dedup]\n"
    "       hyc ir --list-passes\n\n"
    "Load MODEL (a .hyb file, a .ir file, or a Hugging Face directory or\n"
    "config.json), run the pass pipeline of the optimization level and print\n"
    "the resulting Graph IR in its text form (docs/ir.md), which parses back.\n"
    "With --level=kernel, print the Kernel IR instead (docs/kernel-ir.md): the\n"
    "module after the pipeline (composites expanded) as the distinct kernels\n"
    "the C backend compiles, with their schedules, then each function's calls\n"
    "and memory plan as comments.\n\n"
    "  -O0 .. -O3           the pipeline: -O0 (the default) only verifies, so\n"
    "                       the output is the IR as the frontend built it;\n"
    "                       -O1 and up lower composites into primitives and clean up\n"
    "  --passes=P,...       run exactly these passes instead of a level's pipeline\n"
    "  --print-before=P,... print the IR before each of these passes\n"
    "  --print-after=P,...  print the IR after each of these passes\n"
    "  --print-after-all    print the IR after every pass\n"
    "  --disable-pass=P,... skip these passes\n"
    "  --logits=all|last    all (default): prefill returns every position's logits;\n"
    "                       last: pass last-logits makes it return the last row only\n"
    "  --verify-each        run the verifier after every pass\n"
    "  --time-passes        print the time each pass took (to standard error)\n"
    "  --no-print           do not print the final module (only the dumps)\n"
    "  -o FILE              write the final module to FILE (atomically)\n"
    "  --list-passes        list the passes, one per line: name, then what it does\n"
    "  --level=graph|kernel the IR printed at the end (default graph)\n"
    "  --target=T           with --level=kernel: the target the schedules are for,\n"
    "                       native, x86-64-v3, x86-64-v4 or generic (the default)\n"
    "  --no-dedup           with --level=kernel: one kernel per call, no dedup\n"
    "                       (the header counts distinct kernels and calls; each\n"
    "                       function's plan gives its peak scratch bytes against\n"
    "                       one buffer per value)\n\n"
    "Dumps go to standard output before the final module, each after a comment\n"
    "line `# *** IR after PASS ***`, so every dump is itself IR text.  Options that\n"
    "name passes take a comma-separated list.  Exit status: 0 success, 1 bad\n"
    "input (diagnostics on standard error), 2 bad usage.\n";

/* Append a comma-separated list option to what earlier ones gave. */
static const char *add_list(Arena *a, const char *prev, const char *more)
{
    return prev ? arena_printf(a, "%s,%s", prev, more) : more;
}

int cmd_ir(int argc, char **argv)
{
    const Command *self = cli_find_command("ir");
    if (cli_wants_help(argc, argv)) {
        fputs(IR_HELP, stdout);
        return HYC_EXIT_OK;
    }
    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);

    PassOptions opts = {0};
    int level = 0, rc = HYC_EXIT_USAGE;
    bool list = false, print = true;
    const char *path = NULL, *out_path = NULL, *target = NULL;
    bool kernel = false, no_dedup = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (strlen(a) == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
            level = a[2] - '0';
        } else if ((v = cli_opt_value(argc, argv, &i, "--passes", &missing))) {
            opts.pipeline = add_list(&arena, opts.pipeline, v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--print-before", &missing))) {
            opts.print_before = add_list(&arena, opts.print_before, v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--print-after", &missing))) {
            opts.print_after = add_list(&arena, opts.print_after, v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--disable-pass", &missing))) {
            opts.disable_pass = add_list(&arena, opts.disable_pass, v);
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits", &missing))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "last") != 0) {
                cli_usage_error(self, "--logits is all or last, not '%s'", v);
                goto done;
            }
            opts.logits_last = strcmp(v, "last") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--level", &missing))) {
            if (strcmp(v, "graph") != 0 && strcmp(v, "kernel") != 0) {
                cli_usage_error(self, "--level is graph or kernel, not '%s'", v);
                goto done;
            }
            kernel = strcmp(v, "kernel") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--target", &missing))) {
            CgTarget t;
            if (!cg_target_lookup(v, &t)) {
                cli_usage_error(self, "--target is native, x86-64-v3, x86-64-v4 or generic, not '%s'", v);
                goto done;
            }
            target = v;
        } else if (missing) {
            cli_usage_error(self, "%s needs a %s", a,
                            strcmp(a, "--level") == 0 || strcmp(a, "--target") == 0 || strcmp(a, "--logits") == 0 ? "value" : "pass name");
            goto done;
        } else if (strcmp(a, "--print-after-all") == 0) {
            opts.print_after_all = true;
        } else if (strcmp(a, "--verify-each") == 0) {
            opts.verify_each = true;
        } else if (strcmp(a, "--time-passes") == 0) {
            opts.time_passes = true;
        } else if (strcmp(a, "--no-dedup") == 0) {
            no_dedup = true;
        } else if (strcmp(a, "--no-print") == 0) {
            print = false;
        } else if (strcmp(a, "--list-passes") == 0) {
            list = true;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                cli_usage_error(self, "-o needs a file name");
                goto done;
            }
            if (out_path) {
                cli_usage_error(self, "-o given twice");
                goto done;
            }
            out_path = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            cli_usage_error(self, "unknown option '%s'", a);
            goto done;
        } else if (path) {
            cli_usage_error(self, "one model at a time");
            goto done;
        } else {
            path = a;
        }
    }
    if (list) {
        if (path || out_path) {
            cli_usage_error(self, "--list-passes takes no MODEL");
            goto done;
        }
        pass_list(stdout);
        rc = HYC_EXIT_OK;
        goto done;
    }
    if (!path) {
        cli_usage_error(self, "missing MODEL");
        goto done;
    }
    if (no_dedup && !kernel) {
        cli_usage_error(self, "--no-dedup is for --level=kernel");
        goto done;
    }
    if (target && !kernel) {
        cli_usage_error(self, "--target is for --level=kernel");
        goto done;
    }
    if (!cli_check_passes(self, "--passes", opts.pipeline) || !cli_check_passes(self, "--print-before", opts.print_before) ||
        !cli_check_passes(self, "--print-after", opts.print_after) ||
        !cli_check_passes(self, "--disable-pass", opts.disable_pass))
        goto done;

    /* Dumps and the final module share standard output, in order. */
    opts.dump_out = stdout;
    rc = HYC_EXIT_USER;
    LoadedModel lm;
    if (!model_load(path, &arena, &in, &diag, &lm)) goto done;
    IrModule *m = lm.module;
    if (!pass_run_pipeline(&m, level, &opts, &diag)) goto done;
    if (!print) {
        rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
        goto done;
    }
    StrBuf sb = {0};
    if (kernel) {
        /* The backend takes primitives only: expand what the pipeline kept. */
        if (!interp_module_is_lowered(m) && !interp_lower(m, &diag)) goto done;
        CgOptions co = {0};
        co.no_dedup = no_dedup;
        HYC_ASSERT(cg_target_lookup(target ? target : "generic", &co.target));
        CgProgram *p = cg_lower_module(&arena, m, &co, &diag);
        if (!p) HYC_DIE("the Kernel IR lowering of module '%s' failed (diagnostics above)", m->name);
        cg_print_program(&sb, p);
    } else {
        ir_print(&sb, m);
    }
    if (!out_path) {
        fwrite(sb_cstr(&sb), 1, sb.len, stdout);
        rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
    } else if (write_file_atomic(out_path, sb_cstr(&sb), sb.len)) {
        rc = HYC_EXIT_OK;
    } else {
        fprintf(stderr, "%s: error: cannot write: %s\n", out_path, strerror(errno));
    }
    sb_free(&sb);
done:
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
