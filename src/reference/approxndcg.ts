/**
 * CPU twin of `kernels/approxndcg.wgsl` (the loss `approxndcg`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { ALLRANK_EPS, gain, meanOf, type Rows, sigmoid, sortedBy, validIndices } from "./losses.ts";

/**
 * allRank `approxNDCGLoss`: approximate positions P_a = 1 + Σ_{b ≠ a} clamp(σ(−α(s_a − s_b)), ε),
 * loss = −mean over lists of Σ_a G_a / log2(1 + P_a), G = (2^y − 1) / clamp(maxDCG, ε).
 */
export function approxNdcgRef(scores: Rows, labels: Rows, alpha: number): number {
  return meanOf(scores.map((row, l) => {
    const y = labels[l];
    const order = sortedBy(y, row);
    const ideal = validIndices(y).map((i) => y[i]).sort((a, b) => b - a);
    const maxDcg = Math.max(
      ideal.reduce((a, v, p) => a + gain(v) / Math.log2(2 + p), 0),
      ALLRANK_EPS,
    );
    let ndcg = 0;
    for (const a of order) {
      let pos = 1;
      for (const b of order) {
        if (b !== a) pos += Math.max(sigmoid(-alpha * (row[a] - row[b])), ALLRANK_EPS);
      }
      ndcg += gain(y[a]) / maxDcg / Math.log2(1 + pos);
    }
    return -ndcg;
  }));
}
