/* toy_model.h — two hand-written "compiled models" for the runtime's tests,
 * in the shape that hyc's C backend will generate (model.c + model.h): a
 * const descriptor, offsets baked in, a forward pass that allocates nothing.
 *
 *   toy_bigram: logits = w[token]; no state.
 *   toy_sum:    a running sum h += emb[token] * scale(pos) kept in the
 *               session state; logits = bigram[token] + out @ h, computed in
 *               parallel over vocabulary rows.  Stateful and position
 *               dependent, with max_batch < max_seq so prefills are split.
 */
#ifndef TOY_MODEL_H
#define TOY_MODEL_H

#include "runtime/hycrt.h"

enum {
    TOY_V = 16,    /* vocab */
    TOY_D = 8,     /* d_model of toy_sum */
    TOY_SEQ = 32,  /* max_seq of toy_sum */
    TOY_BATCH = 4  /* max_batch of toy_sum */
};

extern const hycrt_model_desc toy_bigram_desc;
extern const hycrt_model_desc toy_sum_desc;

#endif
