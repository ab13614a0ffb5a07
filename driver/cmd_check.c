/* cmd_check.c — `hyc check`: parse and check a model, print a summary. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <math.h>
#include <string.h>

static const char CHECK_HELP[] =
    "usage: hyc check [--params] FILE.hyb\n"
    "       hyc check --keys\n\n"
    "Parse and check FILE; print a one-screen summary of the model: its layers\n"
    "and their kinds, parameter count (total and per kind) and the inference\n"
    "state of one sequence at max_seq.  Exits 1 with diagnostics on bad input;\n"
    "warnings are printed and do not change the exit status.\n\n"
    "  --params  also list every parameter with its canonical name and shape\n"
    "  --keys    print the reference of every block kind and key, and exit\n";

/* ---- numbers for people ------------------------------------------------------ */

/* 1234567 -> "1,234,567" */
static const char *with_commas(char out[32], int64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
    return out;
}

/* 1234567 -> "1.23M" */
static const char *short_count(char out[32], int64_t v)
{
    static const char *const units[] = {"", "K", "M", "B", "T"};
    double x = (double)v;
    int u = 0;
    while (x >= 1000 && u < 4) x /= 1000, u++;
    if (u == 0)
        snprintf(out, 32, "%lld", (long long)v);
    else
        snprintf(out, 32, "%.3g%s", x, units[u]);
    return out;
}

static const char *bytes_text(char out[32], int64_t v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (v == INT64_MAX) return "overflow";
    double x = (double)v;
    int u = 0;
    while (x >= 1024 && u < 6) x /= 1024, u++;
    if (u == 0)
        snprintf(out, 32, "%lld B", (long long)v);
    else
        snprintf(out, 32, "%.3g %s", x, units[u]);
    return out;
}

/* ---- sublayer descriptions: attention(4q/2kv×16, rope) --------------------- */

static void describe(StrBuf *sb, const ModelSpec *m, const SublayerSpec *sl)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: {
        const AttentionSpec *a = &sl->as.attention;
        sb_printf(sb, "attention(%lldq/%lldkv×%lld", (long long)a->heads, (long long)a->kv_heads, (long long)a->head_dim);
        if (!a->rope)
            sb_puts(sb, ", nope");
        else if (a->rope_dims < a->head_dim)
            sb_printf(sb, ", rope %lld/%lld", (long long)a->rope_dims, (long long)a->head_dim);
        else
            sb_puts(sb, ", rope");
        if (a->rope && a->rope_scaling.kind != ROPE_SCALING_NONE)
            sb_printf(sb, " %s", schema_names_RopeScaling[a->rope_scaling.kind]);
        if (a->window) sb_printf(sb, ", window %lld", (long long)a->window);
        if (a->kv_reader) sb_puts(sb, ", kv_share");
        if (a->qk_norm == QK_NORM_RMS) sb_puts(sb, ", qk_norm");
        if (a->output_gate) sb_puts(sb, ", gated");
        if (a->input_width != m->d_model) sb_printf(sb, ", in %lld", (long long)a->input_width);
        sb_putc(sb, ')');
        return;
    }
    case SUBLAYER_MAMBA1: {
        const Mamba1Spec *p = &sl->as.mamba1;
        sb_printf(sb, "mamba1(E%lld N%lld K%lld R%lld", (long long)p->d_inner, (long long)p->d_state,
                  (long long)p->d_conv, (long long)p->dt_rank);
        if (p->inner_norms != INNER_NORMS_NONE) sb_printf(sb, ", %s", schema_names_InnerNorms[p->inner_norms]);
        sb_putc(sb, ')');
        return;
    }
    case SUBLAYER_MAMBA2: {
        const Mamba2Spec *p = &sl->as.mamba2;
        sb_printf(sb, "mamba2(%lldh×%lld N%lld G%lld K%lld)", (long long)p->heads, (long long)p->head_dim,
                  (long long)p->d_state, (long long)p->groups, (long long)p->d_conv);
        return;
    }
    case SUBLAYER_SHORT_CONV: sb_printf(sb, "short_conv(K%lld)", (long long)sl->as.short_conv.d_conv); return;
    case SUBLAYER_DELTANET: {
        const DeltaNetSpec *p = &sl->as.deltanet;
        sb_printf(sb, "deltanet(%lldk×%lld/%lldv×%lld K%lld)", (long long)p->key_heads, (long long)p->key_dim,
                  (long long)p->value_heads, (long long)p->value_dim, (long long)p->d_conv);
        return;
    }
    case SUBLAYER_MLP:
        sb_printf(sb, "mlp(%s %lld)", schema_names_MlpAct[sl->as.mlp.act], (long long)sl->as.mlp.hidden);
        return;
    case SUBLAYER_MOE: {
        const MoeSpec *p = &sl->as.moe;
        sb_printf(sb, "moe(%lld×%lld top%lld %s", (long long)p->experts, (long long)p->hidden, (long long)p->top_k,
                  schema_names_MlpAct[p->act]);
        if (p->route_groups > 1)
            sb_printf(sb, ", groups %lld of %lld", (long long)p->route_topk_groups, (long long)p->route_groups);
        if (p->latent) sb_printf(sb, ", latent %lld", (long long)p->latent);
        if (p->shared_hidden) sb_printf(sb, " +shared %lld", (long long)p->shared_hidden);
        sb_putc(sb, ')');
        return;
    }
    case SUBLAYER_PARALLEL: {
        const ParallelSpec *p = &sl->as.parallel;
        sb_printf(sb, "parallel[%s", schema_names_CombineOp[p->combine]);
        if (p->out_proj == OUT_PROJ_SHARED) sb_puts(sb, ", shared out");
        if (p->branch_norm != BRANCH_NORM_NONE) sb_printf(sb, ", %s norm", schema_names_BranchNorm[p->branch_norm]);
        if (p->branch_scale != BRANCH_SCALE_NONE) sb_printf(sb, ", %s", schema_names_BranchScale[p->branch_scale]);
        sb_puts(sb, "](");
        for (int i = 0; i < p->n_branches; i++) {
            if (i) sb_puts(sb, " | ");
            describe(sb, m, &p->branches[i]);
        }
        sb_putc(sb, ')');
        return;
    }
    case SUBLAYER_USE: sb_printf(sb, "use(%s)", sl->as.use.name); return;
    case SUBLAYER_N_KINDS: break;
    }
}

static void describe_layer(StrBuf *sb, const ModelSpec *m, const LayerDef *l)
{
    for (int j = 0; j < l->n_sublayers; j++) {
        if (j) sb_puts(sb, " + ");
        describe(sb, m, &l->sublayers[j]);
    }
}

/* ---- the layer table ------------------------------------------------------------ */

enum { TABLE_MAX_ROWS = 24 };

static void print_layers(const ModelSpec *m)
{
    int width = 5;
    for (int i = 0; i < m->n_layer_defs; i++) {
        int w = (int)strlen(m->layer_defs[i].name);
        if (w > width) width = w;
    }
    if (width > 24) width = 24;
    int rows = 0;
    for (int i = 0; i < m->n_layers; i++) rows += i == 0 || m->layers[i] != m->layers[i - 1];
    StrBuf sb = {0};
    printf("\n%d layers\n", m->n_layers);
    if (rows <= TABLE_MAX_ROWS) {
        /* One row per run of the same layer. */
        printf("  %-9s %-*s  %s\n", "depth", width, "layer", "sublayers");
        for (int i = 0; i < m->n_layers;) {
            int j = i;
            while (j + 1 < m->n_layers && m->layers[j + 1] == m->layers[i]) j++;
            char idx[32];
            if (j == i)
                snprintf(idx, sizeof idx, "%d", i);
            else
                snprintf(idx, sizeof idx, "%d-%d", i, j);
            sb.len = 0;
            describe_layer(&sb, m, m->layers[i]);
            printf("  %-9s %-*.*s  %s\n", idx, width, width, m->layers[i]->name, sb_cstr(&sb));
            i = j + 1;
        }
    } else {
        /* Too many runs for a screen: each layer once, with its depths. */
        printf("  %-*s %6s  %s\n", width, "layer", "count", "sublayers / depths");
        for (int d = 0; d < m->n_layer_defs; d++) {
            const LayerDef *l = &m->layer_defs[d];
            if (!l->n_uses) continue;
            sb.len = 0;
            describe_layer(&sb, m, l);
            printf("  %-*.*s %6d  %s\n", width, width, l->name, l->n_uses, sb_cstr(&sb));
            sb.len = 0;
            int shown = 0;
            for (int i = 0; i < m->n_layers; i++) {
                if (m->layers[i] != l) continue;
                int j = i;
                while (j + 1 < m->n_layers && m->layers[j + 1] == l) j++;
                if (sb.len > 60) {
                    sb_puts(&sb, ", ...");
                    break;
                }
                if (shown++) sb_puts(&sb, ", ");
                if (j == i)
                    sb_printf(&sb, "%d", i);
                else
                    sb_printf(&sb, "%d-%d", i, j);
                i = j;
            }
            printf("  %-*s %6s  at %s\n", width, "", "", sb_cstr(&sb));
        }
    }
    sb_free(&sb);
}

/* ---- parameters ----------------------------------------------------------------- */

typedef struct KindCount {
    char kind[32];
    int64_t n;
} KindCount;

typedef struct ParamStats {
    KindCount kinds[SUBLAYER_N_KINDS + 4];
    int n_kinds;
    bool list;
} ParamStats;

/* The kind a canonical name belongs to: layers.3.mlp1.up -> mlp,
 * shared.blk.attention.q -> attention, embed -> embed. */
static void name_kind(const char *name, char out[32])
{
    const char *seg = name;
    int skip = strncmp(name, "layers.", 7) == 0 || strncmp(name, "shared.", 7) == 0 ? 2 : 0;
    for (int i = 0; i < skip && seg; i++) {
        seg = strchr(seg, '.');
        if (seg) seg++;
    }
    if (!seg) seg = name;
    size_t n = strcspn(seg, ".");
    /* A kind name followed by the repeat number (mamba1, mamba11, mlp2). */
    int nk;
    const char *const *kinds = schema_sublayer_names(&nk);
    for (int k = 0; k < nk; k++) {
        size_t kl = strlen(kinds[k]);
        if (kl <= n && strncmp(seg, kinds[k], kl) == 0 && strspn(seg + kl, "0123456789") == n - kl) {
            n = kl;
            break;
        }
    }
    if (n > 31) n = 31;
    memcpy(out, seg, n);
    out[n] = 0;
}

static void stats_visit(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    ParamStats *st = ctx;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n = __builtin_mul_overflow(n, shape[i], &n) ? INT64_MAX : n;
    if (st->list) {
        StrBuf shp = {0};
        sb_putc(&shp, '[');
        for (int i = 0; i < ndim; i++) sb_printf(&shp, "%s%lld", i ? ", " : "", (long long)shape[i]);
        sb_putc(&shp, ']');
        char c[32];
        printf("  %-44s %-20s %14s\n", name, sb_cstr(&shp), with_commas(c, n));
        sb_free(&shp);
    }
    char kind[32];
    name_kind(name, kind);
    int k = 0;
    while (k < st->n_kinds && strcmp(st->kinds[k].kind, kind) != 0) k++;
    if (k == st->n_kinds) {
        if (k == (int)(sizeof st->kinds / sizeof *st->kinds)) return;
        strcpy(st->kinds[st->n_kinds++].kind, kind);
        st->kinds[k].n = 0;
    }
    st->kinds[k].n = __builtin_add_overflow(st->kinds[k].n, n, &st->kinds[k].n) ? INT64_MAX : st->kinds[k].n;
}

static void print_summary(const ModelSpec *m, bool list_params)
{
    char a[32], b[32], c[32], d[32];
    printf("model %s\n", m->name);
    printf("  d_model %lld, vocab %lld, %s embeddings, %s (eps %g), max_seq %lld\n", (long long)m->d_model,
           (long long)m->vocab, m->tie_embeddings ? "tied" : "untied", schema_names_NormKind[m->norm], m->norm_eps,
           (long long)m->max_seq);
    if (m->weights.present) {
        printf("  weights %s (naming %s", m->weights.path, m->weights.naming);
        if (m->weights.n_renames) printf(", %d renamed", m->weights.n_renames);
        printf(")\n");
    }
    print_layers(m);

    ParamStats st;
    memset(&st, 0, sizeof st);
    if (list_params) printf("\nparameters\n");
    st.list = list_params;
    spec_params(m, stats_visit, &st);
    int64_t total = spec_param_count(m);
    printf("\nparameters: %s (%s)\n", with_commas(a, total), short_count(b, total));
    for (int k = 0; k < st.n_kinds; k++)
        printf("  %-12s %15s  %5.1f%%\n", st.kinds[k].kind, with_commas(a, st.kinds[k].n),
               total ? 100.0 * (double)st.kinds[k].n / (double)total : 0.0);

    SpecState s = spec_state(m, m->max_seq);
    int64_t all = spec_state_bytes(m, m->max_seq);
    char dts[32];
    if (m->kv_dtype == m->ssm_dtype)
        snprintf(dts, sizeof dts, "%s", schema_names_StateDtype[m->kv_dtype]);
    else
        snprintf(dts, sizeof dts, "KV %s, SSM %s", schema_names_StateDtype[m->kv_dtype],
                 schema_names_StateDtype[m->ssm_dtype]);
    printf("\nstate per sequence at max_seq %lld (%s): %s = KV %s + conv %s + SSM %s\n", (long long)m->max_seq, dts,
           bytes_text(a, all), bytes_text(b, s.kv), bytes_text(c, s.conv), bytes_text(d, s.ssm));
}

int cmd_check(int argc, char **argv)
{
    const Command *self = cli_find_command("check");
    if (cli_wants_help(argc, argv)) {
        fputs(CHECK_HELP, stdout);
        return HYC_EXIT_OK;
    }
    const char *path = NULL;
    bool list_params = false, keys = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--params") == 0) {
            list_params = true;
        } else if (strcmp(argv[i], "--keys") == 0) {
            keys = true;
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
    if (keys) {
        if (path || list_params) {
            cli_usage_error(self, "--keys takes no FILE");
            return HYC_EXIT_USAGE;
        }
        schema_print_reference(stdout);
        return HYC_EXIT_OK;
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
    ModelSpec *spec = file ? sema_check(file, &arena, &in, &diag) : NULL;
    if (spec) print_summary(spec, list_params);
    int rc = spec ? HYC_EXIT_OK : HYC_EXIT_USER;
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
