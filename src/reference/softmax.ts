/**
 * CPU twin of `kernels/softmax.wgsl` (the loss `softmax`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { logSoftmax, meanOf, type Rows, validIndices } from "./losses.ts";

/**
 * `softmax`: per list, q = labels / Σ labels over valid items, loss = Σ_j q_j (logsumexp(s) − s_j)
 * (InfoNCE with one relevant item). Lists whose labels sum to 0 give 0. Mean over all lists.
 */
export function softmaxLossRef(scores: Rows, labels: Rows): number {
  return meanOf(scores.map((row, l) => {
    const idx = validIndices(labels[l]);
    const ysum = idx.reduce((a, i) => a + labels[l][i], 0);
    if (!(ysum > 0)) return 0;
    const logp = logSoftmax(idx.map((i) => row[i]));
    return idx.reduce((a, i, r) => a - labels[l][i] / ysum * logp[r], 0);
  }));
}
