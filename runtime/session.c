/* session.c — a loaded model (descriptor + mapped weights + pool) and its
 * sessions: per-sequence state and scratch, prefill, decode, profile.
 *
 * A session is one aligned allocation, made and zeroed at creation:
 *
 *   [hycrt_session][prof: n_kernels entries][state: state_bytes][scratch]
 *
 * each part starting on a multiple of HYCRT_ALIGN.  prefill and decode only
 * check their arguments and call the generated forward(): no allocation, no
 * locks, no system calls (a test wraps malloc to prove it).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct hycrt_model {
    const hycrt_model_desc *desc;
    hycrt_weights *weights;
    hycrt_pool *pool;
    int max_batch; /* desc->max_batch, or max_seq when that is 0 */
};

struct hycrt_session {
    hycrt_ctx ctx;
    hycrt_model *model;
    hycrt_prof_entry *prof; /* [desc->n_kernels] in the block, or NULL */
    char err[256];
};

/* ---- model ---------------------------------------------------------------- */

/* The descriptor comes from generated code: a bad one is a compiler bug or a
 * header/library version skew, and deserves a message, not a crash. */
bool rt_check_desc(const hycrt_model_desc *d, char *err, size_t errlen)
{
    if (!d) {
        rt_errf(err, errlen, "no model descriptor");
        return false;
    }
    if (d->abi_version != HYCRT_ABI_VERSION) {
        rt_errf(err, errlen, "model '%s' was generated for runtime ABI %u, this "
                "libhycrt implements ABI %u: rebuild the model with a matching hyc",
                d->name ? d->name : "?", d->abi_version, HYCRT_ABI_VERSION);
        return false;
    }
    const char *name = d->name ? d->name : "?";
    const char *bad = NULL;
    if (!d->name)
        bad = "no name";
    else if (d->vocab <= 0)
        bad = "vocab <= 0";
    else if (d->max_seq <= 0)
        bad = "max_seq <= 0";
    else if (d->max_batch < 0 || d->max_batch > d->max_seq)
        bad = "max_batch not in [0, max_seq]";
    else if (!d->forward)
        bad = "no forward function";
    else if (d->n_kernels < 0 || (d->n_kernels > 0 && !d->kernel_names))
        bad = "bad kernel table";
    else if (d->weights_bytes % HYCRT_ALIGN != 0)
        bad = "weights_bytes is not a multiple of 64";
    else if (d->state_bytes > SIZE_MAX / 4 || d->scratch_bytes > SIZE_MAX / 4)
        bad = "state or scratch too large";
    if (bad) {
        rt_errf(err, errlen, "model descriptor '%s' is invalid: %s", name, bad);
        return false;
    }
    char what[300];
    snprintf(what, sizeof what, "model descriptor '%s' is invalid", name);
    return rt_check_table(d->tensors, d->n_tensors, d->weights_bytes, what, err,
                          errlen) == 0;
}

hycrt_model *hycrt_model_open(const hycrt_model_desc *desc, const char *weights_path,
                              int n_threads, unsigned flags, char *err, size_t errlen)
{
    if (!rt_check_desc(desc, err, errlen))
        return NULL;
    hycrt_model *m = calloc(1, sizeof *m);
    if (!m) {
        rt_errf(err, errlen, "out of memory");
        return NULL;
    }
    m->desc = desc;
    m->max_batch = desc->max_batch ? desc->max_batch : desc->max_seq;
    m->weights = hycrt_weights_open(weights_path, desc, flags, err, errlen);
    if (!m->weights) {
        free(m);
        return NULL;
    }
    m->pool = hycrt_pool_new(n_threads);
    if (!m->pool) {
        rt_errf(err, errlen, "cannot start %d threads", n_threads);
        hycrt_model_close(m);
        return NULL;
    }
    return m;
}

void hycrt_model_close(hycrt_model *m)
{
    if (!m)
        return;
    hycrt_pool_free(m->pool);
    hycrt_weights_close(m->weights);
    free(m);
}

const hycrt_model_desc *hycrt_model_get_desc(const hycrt_model *m) { return m->desc; }
hycrt_pool *hycrt_model_pool(const hycrt_model *m) { return m->pool; }
const hycrt_weights *hycrt_model_weights(const hycrt_model *m) { return m->weights; }

/* ---- sessions ------------------------------------------------------------- */

hycrt_session *hycrt_session_new(hycrt_model *m)
{
    if (!m)
        return NULL;
    const hycrt_model_desc *d = m->desc;
    uint64_t at = rt_round_up(sizeof(hycrt_session), HYCRT_ALIGN);
    uint64_t prof_at = at;
    at += rt_round_up((uint64_t)d->n_kernels * sizeof(hycrt_prof_entry), HYCRT_ALIGN);
    uint64_t state_at = at;
    at += rt_round_up(d->state_bytes, HYCRT_ALIGN);
    uint64_t scratch_at = at;
    at += rt_round_up(d->scratch_bytes, HYCRT_ALIGN);
    if (at > SIZE_MAX)
        return NULL;

    uint8_t *block = rt_alloc_aligned((size_t)at);
    if (!block)
        return NULL;
    /* Zero all of it: the state must start at zero, and touching every page
     * now keeps page faults out of the first forward call. */
    memset(block, 0, (size_t)at);
    hycrt_session *s = (hycrt_session *)block;
    s->model = m;
    s->prof = d->n_kernels > 0 ? (hycrt_prof_entry *)(block + prof_at) : NULL;
    s->ctx.desc = d;
    s->ctx.weights = hycrt_weights_data(m->weights);
    s->ctx.state = block + state_at;
    s->ctx.scratch = block + scratch_at;
    s->ctx.pos = 0;
    s->ctx.pool = m->pool;
    s->ctx.prof = NULL;
    return s;
}

void hycrt_session_free(hycrt_session *s)
{
    free(s);
}

void hycrt_session_reset(hycrt_session *s)
{
    memset(s->ctx.state, 0, (size_t)s->model->desc->state_bytes);
    s->ctx.pos = 0;
    s->err[0] = 0;
}

int hycrt_session_pos(const hycrt_session *s) { return s->ctx.pos; }
const char *hycrt_session_error(const hycrt_session *s) { return s->err; }
hycrt_ctx *hycrt_session_ctx(hycrt_session *s) { return &s->ctx; }

void hycrt_session_set_pool(hycrt_session *s, hycrt_pool *pool)
{
    s->ctx.pool = pool ? pool : s->model->pool;
}

/* Checks, then calls forward() in chunks of at most max_batch tokens.
 * `mode` is what the caller wants; each chunk gets what it must produce. */
static int run(hycrt_session *s, const int32_t *tokens, int n, float *logits,
               int mode, const char *what)
{
    const hycrt_model_desc *d = s->model->desc;
    s->err[0] = 0;
    if (n <= 0 || !tokens) {
        rt_errf(s->err, sizeof s->err, "%s: %s", what, n <= 0 ? "no tokens" : "tokens is NULL");
        return HYCRT_E_INVALID;
    }
    if (mode == HYCRT_LOGITS_ALL && !logits) {
        rt_errf(s->err, sizeof s->err, "%s: logits is NULL", what);
        return HYCRT_E_INVALID;
    }
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= d->vocab) {
            rt_errf(s->err, sizeof s->err, "%s: token %" PRId32 " (index %d) is "
                    "not in [0, %d)", what, tokens[i], i, (int)d->vocab);
            return HYCRT_E_INVALID;
        }
    }
    if (n > d->max_seq - s->ctx.pos) {
        rt_errf(s->err, sizeof s->err, "%s: %d tokens at position %d would pass "
                "the context of %d", what, n, (int)s->ctx.pos, (int)d->max_seq);
        return HYCRT_E_FULL;
    }
    int max_batch = s->model->max_batch;
    for (int at = 0; at < n;) {
        int chunk = n - at < max_batch ? n - at : max_batch;
        int m = HYCRT_LOGITS_NONE;
        float *out = NULL;
        if (mode == HYCRT_LOGITS_ALL) {
            m = HYCRT_LOGITS_ALL;
            out = logits + (size_t)at * (size_t)d->vocab;
        } else if (mode == HYCRT_LOGITS_LAST && at + chunk == n) {
            m = HYCRT_LOGITS_LAST;
            out = logits;
        }
        int32_t before = s->ctx.pos;
        int rc = d->forward(&s->ctx, tokens + at, chunk, out, m);
        if (rc == HYCRT_FORWARD_NO_ALL_LOGITS && m == HYCRT_LOGITS_ALL) {
            rt_errf(s->err, sizeof s->err, "%s: model '%s' was built with --logits last: "
                    "its prefill computes the logits of the last position only, not of "
                    "every position (build it with --logits all)", what, d->name);
            return HYCRT_E_INVALID;
        }
        if (rc != 0) {
            rt_errf(s->err, sizeof s->err, "%s: the forward pass of '%s' failed "
                    "(code %d) at position %d; reset the session", what, d->name,
                    rc, (int)before);
            return HYCRT_E_FORWARD;
        }
        if (s->ctx.pos != before + chunk) {
            rt_errf(s->err, sizeof s->err, "%s: internal error: the forward pass "
                    "of '%s' moved pos from %d to %d, not by %d", what, d->name,
                    (int)before, (int)s->ctx.pos, chunk);
            return HYCRT_E_FORWARD;
        }
        at += chunk;
    }
    return HYCRT_OK;
}

int hycrt_prefill(hycrt_session *s, const int32_t *tokens, int n, float *logits)
{
    return run(s, tokens, n, logits, logits ? HYCRT_LOGITS_LAST : HYCRT_LOGITS_NONE,
               "prefill");
}

int hycrt_prefill_all(hycrt_session *s, const int32_t *tokens, int n, float *logits)
{
    return run(s, tokens, n, logits, HYCRT_LOGITS_ALL, "prefill");
}

int hycrt_decode(hycrt_session *s, int32_t token, float *logits)
{
    return run(s, &token, 1, logits, logits ? HYCRT_LOGITS_LAST : HYCRT_LOGITS_NONE,
               "decode");
}

/* ---- profile -------------------------------------------------------------- */

int hycrt_session_profile(hycrt_session *s, int on)
{
    if (!s->prof)
        return on ? HYCRT_E_INVALID : HYCRT_OK;
    if (on && !s->ctx.prof)
        memset(s->prof, 0, (size_t)s->model->desc->n_kernels * sizeof *s->prof);
    s->ctx.prof = on ? s->prof : NULL;
    return HYCRT_OK;
}

const hycrt_prof_entry *hycrt_session_profile_entries(const hycrt_session *s)
{
    return s->ctx.prof;
}

void hycrt_session_profile_print(const hycrt_session *s, FILE *out)
{
    const hycrt_model_desc *d = s->model->desc;
    const hycrt_prof_entry *p = s->ctx.prof;
    if (!p) {
        fprintf(out, "profile: off\n");
        return;
    }
    int n = d->n_kernels;
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += p[i].ns;
    fprintf(out, "%10s %10s %10s %6s  %s\n", "ms", "calls", "us/call", "%", "kernel");
    /* Largest first, by repeated selection: no allocation, and n is small. */
    uint64_t prev_ns = UINT64_MAX;
    int prev_i = -1;
    for (int k = 0; k < n; k++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            /* After (prev_ns, prev_i) in the order (ns desc, index asc). */
            bool after = p[i].ns < prev_ns || (p[i].ns == prev_ns && i > prev_i);
            bool better = best < 0 || p[i].ns > p[best].ns;
            if (after && better)
                best = i;
        }
        if (best < 0)
            break;
        const hycrt_prof_entry *e = &p[best];
        if (e->calls > 0)
            fprintf(out, "%10.3f %10" PRIu64 " %10.2f %6.1f  %s\n", e->ns / 1e6,
                    e->calls, e->ns / 1e3 / (double)e->calls,
                    total ? 100.0 * (double)e->ns / (double)total : 0.0,
                    d->kernel_names[best] ? d->kernel_names[best] : "?");
        prev_ns = e->ns;
        prev_i = best;
    }
    fprintf(out, "%10.3f %10s %10s %6s  total\n", total / 1e6, "", "", "");
}
