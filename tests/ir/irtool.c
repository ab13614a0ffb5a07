/* irtool.c — a small driver for the IR golden tests until `hyc ir` exists:
 * parse + verify a .ir file, optionally run passes, print the result.
 *
 *   irtool [options] FILE.ir
 *     -O0 .. -O3             run that level's pipeline
 *     --passes=a,b           run exactly these passes
 *     --print-before=a,b     dump the IR before these passes (to stdout)
 *     --print-after=a,b      ... after these passes
 *     --print-after-all      ... after every pass
 *     --disable-pass=a,b     skip these passes
 *     --logits=last          PassOptions.logits_last (the last-logits pass)
 *     --verify-each          verify after every pass
 *     --time-passes          timing report on stderr
 *     --no-print             do not print the final module
 *     --state-bytes          print the state bytes per sequence
 *     --list-passes          list the passes and exit
 *     --ops-md               print the op table (markdown, for docs/ir.md) and exit
 *
 * Build (from the repository root):
 *   cc -std=c11 -D_GNU_SOURCE -O1 -g -I. tests/ir/irtool.c ir/[a-z]*.c passes/[a-z]*.c util/[a-z]*.c -lm -o irtool
 */
#include "../../ir/ir.h"
#include "../../passes/passes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: irtool [-O0..-O3] [--passes=P,..] [--print-before=P,..] [--print-after=P,..]\n"
          "              [--print-after-all] [--disable-pass=P,..] [--verify-each] [--time-passes]\n"
          "              [--no-print] [--state-bytes] FILE.ir\n"
          "       irtool --list-passes | --ops-md\n",
          stderr);
}

static const char *opt_value(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static const char *class_letter(IrOperandClass c)
{
    switch (c) {
    case IR_OC_VALUE: return "value";
    case IR_OC_INT_VALUE: return "i32 value";
    case IR_OC_TENSOR: return "value or param";
    case IR_OC_PARAM: return "param";
    case IR_OC_KV: return "kv_cache";
    case IR_OC_CONV: return "conv_state";
    case IR_OC_SSM: return "ssm_state";
    }
    return "?";
}

/* The op table as markdown: what docs/ir.md's op reference is made from. */
static void print_ops_md(void)
{
    puts("| op | operands | attributes | flags |\n|---|---|---|---|");
    for (int i = 0; i < IR_OP_COUNT; i++) {
        const IrOpInfo *info = ir_op_info((IrOp)i);
        StrBuf sb = {0};
        sb_printf(&sb, "| `%s` | ", info->name);
        for (int s = 0; s < info->n_slots; s++)
            sb_printf(&sb, "%s`%s`%s: %s", s ? ", " : "", info->slots[s].name,
                      info->slots[s].optional ? "?" : info->slots[s].variadic ? "…" : "",
                      class_letter(info->slots[s].cls));
        sb_puts(&sb, " | ");
        for (int a = 0; a < info->n_attrs; a++) {
            const IrAttrSpec *at = &info->attrs[a];
            sb_printf(&sb, "%s`%s`", a ? ", " : "", at->name);
            if (at->required) sb_puts(&sb, " (required)");
            else if (at->has_default) {
                sb_puts(&sb, " = ");
                ir_print_attr_value(&sb, &at->def);
            }
        }
        sb_puts(&sb, " | ");
        unsigned f = info->flags;
        sb_printf(&sb, "%s%s%s%s%s%s", f & IR_OPF_COMPOSITE ? "composite " : "",
                  f & IR_OPF_ELEMENTWISE ? "elementwise " : "", f & IR_OPF_READS_STATE ? "reads-state " : "",
                  f & IR_OPF_WRITES_STATE ? "writes-state " : "", f & IR_OPF_USES_POS ? "pos " : "",
                  info->n_results ? "" : "no-result");
        sb_puts(&sb, " |");
        puts(sb_cstr(&sb));
        sb_free(&sb);
    }
}

int main(int argc, char **argv)
{
    PassOptions opts = {0};
    int level = -1;
    bool print = true, state_bytes = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strlen(a) == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') level = a[2] - '0';
        else if ((v = opt_value(a, "--passes"))) opts.pipeline = v;
        else if ((v = opt_value(a, "--print-before"))) opts.print_before = v;
        else if ((v = opt_value(a, "--print-after"))) opts.print_after = v;
        else if (strcmp(a, "--print-after-all") == 0) opts.print_after_all = true;
        else if ((v = opt_value(a, "--disable-pass"))) opts.disable_pass = v;
        else if ((v = opt_value(a, "--logits")) && (strcmp(v, "last") == 0 || strcmp(v, "all") == 0))
            opts.logits_last = strcmp(v, "last") == 0;
        else if (strcmp(a, "--verify-each") == 0) opts.verify_each = true;
        else if (strcmp(a, "--time-passes") == 0) opts.time_passes = true;
        else if (strcmp(a, "--no-print") == 0) print = false;
        else if (strcmp(a, "--state-bytes") == 0) state_bytes = true;
        else if (strcmp(a, "--list-passes") == 0) {
            pass_list(stdout);
            return HYC_EXIT_OK;
        } else if (strcmp(a, "--ops-md") == 0) {
            print_ops_md();
            return HYC_EXIT_OK;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "irtool: unknown option '%s'\n", a);
            usage();
            return HYC_EXIT_USAGE;
        } else if (!path) path = a;
        else {
            usage();
            return HYC_EXIT_USAGE;
        }
    }
    if (!path) {
        usage();
        return HYC_EXIT_USAGE;
    }
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "%s: error: cannot read: %s\n", path, strerror(errno));
        return HYC_EXIT_USER;
    }
    SrcFile src = {path, text, len};
    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    opts.dump_out = stdout;
    int rc = HYC_EXIT_OK;
    IrModule *m = ir_parse(&src, &arena, &in, &diag);
    if (!m) rc = HYC_EXIT_USER;
    else if ((level >= 0 || opts.pipeline) && !pass_run_pipeline(&m, level < 0 ? 0 : level, &opts, &diag))
        rc = HYC_EXIT_USER;
    if (rc == HYC_EXIT_OK) {
        if (state_bytes)
            printf("# state bytes per sequence: %llu\n", (unsigned long long)ir_module_state_bytes(m));
        if (print) {
            StrBuf sb = {0};
            ir_print(&sb, m);
            fputs(sb_cstr(&sb), stdout);
            sb_free(&sb);
        }
    }
    intern_free(&in);
    arena_free(&arena);
    free(text);
    return rc;
}
