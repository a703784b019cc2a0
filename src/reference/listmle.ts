/**
 * CPU twin of `kernels/listmle.wgsl` (the loss `listmle`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { ALLRANK_EPS, labelOrderRef, meanOf, type Rows } from "./losses.ts";

/**
 * allRank `listMLE` with deterministic ties: items in descending label order (ties by index), then
 * Σ_i log(Σ_{j at or after i} exp(s_j − m) + ε) − (s_i − m), m the list's maximum score. Mean over
 * all lists (all-padding lists give 0).
 */
export function listMleRef(scores: Rows, labels: Rows, tieSeed = 0): number {
  return meanOf(scores.map((row, l) => {
    const order = labelOrderRef(labels[l], tieSeed, l);
    if (order.length === 0) return 0;
    const m = Math.max(...order.map((i) => row[i]));
    const shifted = order.map((i) => row[i] - m);
    let loss = 0;
    let cumsum = 0;
    for (let r = shifted.length - 1; r >= 0; r--) {
      cumsum += Math.exp(shifted[r]);
      loss += Math.log(cumsum + ALLRANK_EPS) - shifted[r];
    }
    return loss;
  }));
}
