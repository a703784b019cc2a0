/**
 * CPU twin of `kernels/listnet.wgsl` (the loss `listnet`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { ALLRANK_EPS, logSoftmax, meanOf, type Rows, validIndices } from "./losses.ts";

/** allRank `listNet`: −Σ softmax(y) · log(softmax(s) + 1e-10) per list, mean over lists. */
export function listNetRef(scores: Rows, labels: Rows): number {
  return meanOf(scores.map((row, l) => {
    const idx = validIndices(labels[l]);
    if (idx.length === 0) return 0;
    const logp = logSoftmax(idx.map((i) => row[i]));
    const logt = logSoftmax(idx.map((i) => labels[l][i]));
    return -logp.reduce(
      (a, lp, r) => a + Math.exp(logt[r]) * Math.log(Math.exp(lp) + ALLRANK_EPS),
      0,
    );
  }));
}
