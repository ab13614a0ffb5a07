/* kir_print.c — the Kernel IR text form (docs/kernel-ir.md).  What it
 * prints, kir_parse reads back into a kernel that prints the same bytes. */
#include "codegen.h"

#include <string.h>

static void indent(StrBuf *sb, int depth)
{
    for (int i = 0; i < depth; i++) sb_puts(sb, "  ");
}

static void print_const(StrBuf *sb, const KirExpr *e)
{
    char buf[32];
    switch (e->type) {
    case KIR_F32:
        fmt_f32(buf, (float)e->f);
        sb_puts(sb, buf);
        return;
    case KIR_F64:
        fmt_f64(buf, e->f);
        sb_printf(sb, "%s:f64", buf);
        return;
    case KIR_I32: sb_printf(sb, "%lld:i32", (long long)e->i); return;
    case KIR_I64: sb_printf(sb, "%lld", (long long)e->i); return;
    default: HYC_UNREACHABLE();
    }
}

void kir_print_expr(StrBuf *sb, const KirKernel *k, const KirExpr *e)
{
    switch (e->kind) {
    case KIR_E_CONST: print_const(sb, e); return;
    case KIR_E_VAR: sb_puts(sb, k->vars[e->id].name); return;
    case KIR_E_LOAD:
        sb_printf(sb, "%%%s[", k->bufs[e->id].name);
        for (int i = 0; i < e->n_args; i++) {
            if (i) sb_puts(sb, ", ");
            kir_print_expr(sb, k, e->args[i]);
        }
        sb_putc(sb, ']');
        return;
    case KIR_E_OP:
        sb_printf(sb, "%s(", kir_op_info(e->op)->name);
        for (int i = 0; i < e->n_args; i++) {
            if (i) sb_puts(sb, ", ");
            kir_print_expr(sb, k, e->args[i]);
        }
        sb_putc(sb, ')');
        return;
    }
    HYC_UNREACHABLE();
}

static void print_dims(StrBuf *sb, const KirBuf *b)
{
    sb_putc(sb, '[');
    for (int i = 0; i < b->rank; i++) {
        if (i) sb_puts(sb, ", ");
        if (b->dims[i] == IR_DIM_T) sb_putc(sb, 'T');
        else sb_printf(sb, "%lld", (long long)b->dims[i]);
    }
    sb_putc(sb, ']');
}

void kir_print_buf_type(StrBuf *sb, const KirBuf *b)
{
    sb_puts(sb, kir_type_name(b->type));
    print_dims(sb, b);
}

static void print_buf(StrBuf *sb, const KirBuf *b, unsigned flags)
{
    sb_printf(sb, "  %s %%%s : ", kir_role_name(b->role), b->name);
    kir_print_buf_type(sb, b);
    if (b->role == KIR_ROLE_CONST) {
        sb_puts(sb, " = [");
        char buf[32];
        for (int64_t i = 0; i < b->n_data; i++) {
            if (i) sb_puts(sb, ", ");
            if (b->type == KIR_F32) fmt_f32(buf, (float)b->data[i]);
            else if (b->type == KIR_F64) fmt_f64(buf, b->data[i]);
            else snprintf(buf, sizeof buf, "%lld", (long long)b->data[i]);
            sb_puts(sb, buf);
        }
        sb_putc(sb, ']');
    }
    if (!(flags & KIR_PRINT_CANONICAL) && b->comment && *b->comment) {
        sb_putc(sb, ' ');
        sb_put_quoted(sb, b->comment);
    }
    sb_putc(sb, '\n');
}

static void print_block(StrBuf *sb, const KirKernel *k, const KirBlock *b, int depth);

static void print_stmt(StrBuf *sb, const KirKernel *k, const KirStmt *s, int depth)
{
    indent(sb, depth);
    switch (s->kind) {
    case KIR_S_FOR:
        sb_printf(sb, "for %s = ", k->vars[s->var].name);
        kir_print_expr(sb, k, s->lo);
        sb_puts(sb, ", ");
        kir_print_expr(sb, k, s->hi);
        if (s->step != 1) sb_printf(sb, " step %lld", (long long)s->step);
        sb_printf(sb, " @L%d {\n", s->loop);
        print_block(sb, k, &s->body, depth + 1);
        indent(sb, depth);
        sb_puts(sb, "}\n");
        return;
    case KIR_S_VAR:
        sb_printf(sb, "var %s : %s = ", k->vars[s->var].name, kir_type_name(k->vars[s->var].type));
        kir_print_expr(sb, k, s->value);
        sb_putc(sb, '\n');
        return;
    case KIR_S_ASSIGN:
        sb_printf(sb, "%s = ", k->vars[s->var].name);
        kir_print_expr(sb, k, s->value);
        sb_putc(sb, '\n');
        return;
    case KIR_S_STORE:
        sb_printf(sb, "store %%%s[", k->bufs[s->buf].name);
        for (int i = 0; i < s->n_idx; i++) {
            if (i) sb_puts(sb, ", ");
            kir_print_expr(sb, k, s->idx[i]);
        }
        sb_puts(sb, "] = ");
        kir_print_expr(sb, k, s->value);
        sb_putc(sb, '\n');
        return;
    case KIR_S_IF:
        sb_puts(sb, "if ");
        kir_print_expr(sb, k, s->value);
        sb_puts(sb, " {\n");
        print_block(sb, k, &s->body, depth + 1);
        indent(sb, depth);
        if (s->els.n > 0) {
            sb_puts(sb, "} else {\n");
            print_block(sb, k, &s->els, depth + 1);
            indent(sb, depth);
        }
        sb_puts(sb, "}\n");
        return;
    }
    HYC_UNREACHABLE();
}

static void print_block(StrBuf *sb, const KirKernel *k, const KirBlock *b, int depth)
{
    for (int i = 0; i < b->n; i++) print_stmt(sb, k, b->stmts[i], depth);
}

static bool loop_sched_is_none(const KirLoopSched *l)
{
    return !l->parallel && l->vec <= 1 && l->unroll <= 1 && l->tile <= 0 && l->jam <= 1;
}

void kir_print_schedule(StrBuf *sb, const KirKernel *k)
{
    bool any = k->sched.chunk > 0;
    for (int i = 0; i < k->sched.n_loops; i++) any |= !loop_sched_is_none(&k->sched.loops[i]);
    if (!any) return;
    sb_puts(sb, "  schedule {\n");
    if (k->sched.chunk > 0) sb_printf(sb, "    chunk %d\n", k->sched.chunk);
    for (int i = 0; i < k->sched.n_loops; i++) {
        const KirLoopSched *l = &k->sched.loops[i];
        if (loop_sched_is_none(l)) continue;
        sb_printf(sb, "    L%d", i);
        if (l->parallel) sb_puts(sb, " parallel");
        if (l->vec > 1) sb_printf(sb, " vec %d", l->vec);
        if (l->unroll > 1) sb_printf(sb, " unroll %d", l->unroll);
        if (l->tile > 0) sb_printf(sb, " tile %d", l->tile);
        if (l->jam > 1) sb_printf(sb, " jam %d", l->jam);
        sb_putc(sb, '\n');
    }
    sb_puts(sb, "  }\n");
}

void kir_print_kernel(StrBuf *sb, const KirKernel *k, unsigned flags)
{
    if (flags & KIR_PRINT_CANONICAL) {
        sb_puts(sb, "kernel op ");
        sb_put_quoted(sb, k->op);
    } else {
        sb_printf(sb, "kernel @%s op ", k->name);
        sb_put_quoted(sb, k->op);
        if (k->loc.file) {
            sb_puts(sb, " loc(");
            sb_put_quoted(sb, k->loc.file->name);
            if (k->loc.line > 0) sb_printf(sb, ":%d:%d", k->loc.line, k->loc.col > 0 ? k->loc.col : 1);
            sb_putc(sb, ')');
        }
    }
    sb_puts(sb, " {\n");
    for (int i = 0; i < k->n_bufs; i++) print_buf(sb, &k->bufs[i], flags);
    print_block(sb, k, &k->body, 1);
    if (!(flags & KIR_PRINT_NO_SCHEDULE)) kir_print_schedule(sb, k);
    sb_puts(sb, "}\n");
}
