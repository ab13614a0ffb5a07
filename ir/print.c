/* print.c — the text form (docs/ir.md).  Unnamed values print as numbers
 * in order of definition, so print -> parse -> print is byte-identical. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool bare_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* `sigil` + name, quoted unless it is [A-Za-z0-9_.]+. */
static void print_name(StrBuf *sb, char sigil, const char *name)
{
    sb_putc(sb, sigil);
    bool bare = *name != 0;
    for (const char *p = name; *p && bare; p++) bare = bare_name_char((unsigned char)*p);
    if (bare) sb_puts(sb, name);
    else sb_put_quoted(sb, name);
}

static void print_loc(StrBuf *sb, SrcLoc loc)
{
    if (!loc.file) return;
    sb_puts(sb, " loc(");
    sb_put_quoted(sb, loc.file->name);
    if (loc.line > 0) sb_printf(sb, ":%d:%d", loc.line, loc.col > 0 ? loc.col : 1);
    sb_putc(sb, ')');
}

/* Number of each unnamed value: its position among the unnamed values in
 * definition order (arguments first).  -1 for named or undefined values. */
static int *number_values(const IrFunc *fn)
{
    int *num = xmalloc(sizeof *num * (size_t)(fn->n_values ? fn->n_values : 1));
    for (int i = 0; i < fn->n_values; i++) num[i] = -1;
    int next = 0;
    for (int i = 0; i < fn->n_args; i++)
        if (!fn->values[fn->args[i]].name) num[fn->args[i]] = next++;
    for (int i = 0; i < fn->n_insts; i++) {
        int r = fn->insts[i].result;
        if (r >= 0 && r < fn->n_values && !fn->values[r].name && num[r] < 0) num[r] = next++;
    }
    return num;
}

static void print_value(StrBuf *sb, const IrFunc *fn, const int *num, int id)
{
    if (id < 0 || id >= fn->n_values) sb_printf(sb, "%%?%d", id);
    else if (fn->values[id].name) print_name(sb, '%', fn->values[id].name);
    else if (num[id] >= 0) sb_printf(sb, "%%%d", num[id]);
    else sb_printf(sb, "%%?%d", id); /* not defined: only in broken IR */
}

const char *ir_value_label(Arena *a, const IrFunc *fn, int value)
{
    int *num = number_values(fn);
    StrBuf sb = {0};
    print_value(&sb, fn, num, value);
    const char *s = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    free(num);
    return s;
}

/* Shortest round-trip text (fmt_f64), except that whole numbers print
 * without an exponent ("10000.0", not "1e+04") while that is exact. */
static void print_float(StrBuf *sb, double x)
{
    char buf[32];
    fmt_f64(buf, x);
    if (strchr(buf, 'e') && x == floor(x) && fabs(x) < 1e15) snprintf(buf, sizeof buf, "%.1f", x);
    sb_puts(sb, buf);
}

void ir_print_attr_value(StrBuf *sb, const IrAttr *a)
{
    switch (a->kind) {
    case IR_ATTR_NONE: sb_puts(sb, "?"); break;
    case IR_ATTR_INT: sb_printf(sb, "%lld", (long long)a->i); break;
    case IR_ATTR_FLOAT: print_float(sb, a->f); break;
    case IR_ATTR_BOOL: sb_puts(sb, a->b ? "true" : "false"); break;
    case IR_ATTR_STRING: sb_put_quoted(sb, a->s); break;
    case IR_ATTR_INTS:
    case IR_ATTR_FLOATS:
        sb_putc(sb, '[');
        for (int i = 0; i < a->len; i++) {
            if (i) sb_puts(sb, ", ");
            if (a->kind == IR_ATTR_INTS) {
                sb_printf(sb, "%lld", (long long)a->ints[i]);
            } else {
                print_float(sb, a->floats[i]);
            }
        }
        sb_putc(sb, ']');
        break;
    }
}

static void print_operand(StrBuf *sb, const IrFunc *fn, const int *num, IrOperand o)
{
    const IrModule *m = fn->mod;
    switch (o.kind) {
    case IR_OPND_NONE: sb_putc(sb, '_'); break;
    case IR_OPND_VALUE: print_value(sb, fn, num, o.id); break;
    case IR_OPND_PARAM:
        if (o.id >= 0 && o.id < m->n_params) print_name(sb, '@', m->params[o.id].name);
        else sb_printf(sb, "@?%d", o.id);
        break;
    case IR_OPND_STATE:
        if (o.id >= 0 && o.id < m->n_states) print_name(sb, '$', m->states[o.id].name);
        else sb_printf(sb, "$?%d", o.id);
        break;
    }
}

/*   %3 = op(%1, @w, _, $s) {a = 1, b = 2.0} : f32[T, 64] loc("f":1:2) */
static void print_inst(StrBuf *sb, const IrFunc *fn, const int *num, const IrInst *in)
{
    const IrOpInfo *info = ir_op_info(in->op);
    sb_puts(sb, "    ");
    if (in->result >= 0) {
        print_value(sb, fn, num, in->result);
        sb_puts(sb, " = ");
    }
    sb_puts(sb, info->name);
    sb_putc(sb, '(');
    int n = in->n_operands;
    while (n > 0 && in->operands[n - 1].kind == IR_OPND_NONE) n--;
    for (int i = 0; i < n; i++) {
        if (i) sb_puts(sb, ", ");
        print_operand(sb, fn, num, in->operands[i]);
    }
    sb_putc(sb, ')');
    bool first = true;
    for (int i = 0; i < info->n_attrs; i++) {
        if (!in->attrs || in->attrs[i].kind == IR_ATTR_NONE) continue;
        sb_puts(sb, first ? " {" : ", ");
        first = false;
        sb_printf(sb, "%s = ", info->attrs[i].name);
        ir_print_attr_value(sb, &in->attrs[i]);
    }
    if (!first) sb_putc(sb, '}');
    if (in->result >= 0 && in->result < fn->n_values) {
        sb_puts(sb, " : ");
        ir_type_print(sb, &fn->values[in->result].type);
    }
    print_loc(sb, in->loc);
    sb_putc(sb, '\n');
}

static void print_func_with(StrBuf *sb, const IrFunc *fn)
{
    int *num = number_values(fn);
    sb_puts(sb, "  func ");
    print_name(sb, '@', fn->name);
    sb_putc(sb, '(');
    for (int i = 0; i < fn->n_args; i++) {
        if (i) sb_puts(sb, ", ");
        print_value(sb, fn, num, fn->args[i]);
        sb_puts(sb, ": ");
        ir_type_print(sb, &fn->values[fn->args[i]].type);
    }
    sb_putc(sb, ')');
    if (fn->has_ret_type) {
        sb_puts(sb, " -> ");
        ir_type_print(sb, &fn->ret_type);
    }
    print_loc(sb, fn->loc);
    sb_puts(sb, " {\n");
    for (int i = 0; i < fn->n_insts; i++) print_inst(sb, fn, num, &fn->insts[i]);
    if (fn->ret >= 0) {
        sb_puts(sb, "    return ");
        print_value(sb, fn, num, fn->ret);
        print_loc(sb, fn->ret_loc);
        sb_putc(sb, '\n');
    }
    sb_puts(sb, "  }\n");
    free(num);
}

void ir_print_func(StrBuf *sb, const IrFunc *fn) { print_func_with(sb, fn); }

void ir_pexpr_print(StrBuf *sb, const IrPExpr *e)
{
    switch (e->kind) {
    case IR_PEXPR_PARAM:
        print_name(sb, '@', e->name);
        sb_puts(sb, " : ");
        ir_type_print(sb, &e->type);
        return;
    case IR_PEXPR_ZEROS:
        sb_puts(sb, "zeros(");
        ir_type_print(sb, &e->type);
        sb_putc(sb, ')');
        return;
    case IR_PEXPR_SCALE:
        sb_puts(sb, "scale(");
        ir_pexpr_print(sb, e->args[0]);
        sb_puts(sb, ", ");
        print_float(sb, e->factor);
        sb_putc(sb, ')');
        return;
    case IR_PEXPR_OP:
        sb_puts(sb, ir_op_name((IrOp)e->op));
        sb_putc(sb, '(');
        for (int i = 0; i < e->n_args; i++) {
            if (i) sb_puts(sb, ", ");
            ir_pexpr_print(sb, e->args[i]);
        }
        sb_putc(sb, ')');
        return;
    case IR_PEXPR_SCALE_COLS:
        /* the offset is printed only when it is not 0 */
        sb_puts(sb, "scale_cols(");
        ir_pexpr_print(sb, e->args[0]);
        sb_puts(sb, ", ");
        ir_pexpr_print(sb, e->args[1]);
        if (e->factor != 0.0) {
            sb_puts(sb, ", ");
            print_float(sb, e->factor);
        }
        sb_putc(sb, ')');
        return;
    case IR_PEXPR_CONCAT:
        sb_puts(sb, "concat(");
        for (int i = 0; i < e->n_args; i++) {
            if (i) sb_puts(sb, ", ");
            ir_pexpr_print(sb, e->args[i]);
        }
        sb_putc(sb, ')');
        return;
    }
    HYC_UNREACHABLE();
}

void ir_print(StrBuf *sb, const IrModule *m)
{
    sb_puts(sb, "module ");
    print_name(sb, '@', m->name);
    print_loc(sb, m->loc);
    sb_puts(sb, " {\n");
    sb_printf(sb, "  max_seq = %lld\n", (long long)m->max_seq);
    if (m->n_params) sb_putc(sb, '\n');
    for (int i = 0; i < m->n_params; i++) {
        const IrParamDecl *p = &m->params[i];
        sb_puts(sb, "  param ");
        print_name(sb, '@', p->name);
        sb_puts(sb, " : ");
        ir_type_print(sb, &p->type);
        if (p->derive) {
            sb_puts(sb, " = ");
            ir_pexpr_print(sb, p->derive);
        }
        print_loc(sb, p->loc);
        sb_putc(sb, '\n');
    }
    if (m->n_states) sb_putc(sb, '\n');
    for (int i = 0; i < m->n_states; i++) {
        const IrStateDecl *s = &m->states[i];
        sb_puts(sb, "  state ");
        print_name(sb, '$', s->name);
        sb_printf(sb, " : %s ", ir_state_kind_name(s->kind));
        ir_type_print(sb, &s->type);
        print_loc(sb, s->loc);
        sb_putc(sb, '\n');
    }
    for (int i = 0; i < m->n_funcs; i++) {
        sb_putc(sb, '\n');
        print_func_with(sb, m->funcs[i]);
    }
    sb_puts(sb, "}\n");
}
