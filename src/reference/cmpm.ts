/**
 * CPU twin of `kernels/cmpm.wgsl` (the loss `cmpm`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { CMPM } from "../gpu/kernels.ts";
import { logSoftmax, meanOf, type Rows, validIndices } from "./losses.ts";

/** The epsilon of CMPM's `log(q + ε)` (Zhang & Lu 2018), as declared with its kernel. */
const { CMPM_EPS } = CMPM.constants;

/**
 * CMPM: KL(p ‖ q) per list, p = softmax(s), q = relevance mask / #relevant, with `log(q + 1e-8)`.
 * Lists without a relevant item give 0. Mean over all lists.
 */
export function cmpmRef(scores: Rows, labels: Rows): number {
  return meanOf(scores.map((row, l) => {
    const idx = validIndices(labels[l]);
    const npos = idx.filter((i) => labels[l][i] > 0).length;
    if (npos === 0) return 0;
    const logp = logSoftmax(idx.map((i) => row[i]));
    return idx.reduce((a, i, r) => {
      const q = labels[l][i] > 0 ? 1 / npos : 0;
      return a + Math.exp(logp[r]) * (logp[r] - Math.log(q + CMPM_EPS));
    }, 0);
  }));
}
