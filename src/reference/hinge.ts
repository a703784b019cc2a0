/**
 * CPU twin of `kernels/hinge.wgsl` (the loss `hinge`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { meanOf, type Rows, validIndices } from "./losses.ts";

/** Options of {@link hingeRef}. */
export interface HingeRefOptions {
  /** The triplet margin. */
  margin: number;
  /** Only the hardest non-relevant item per relevant item (VSE++ max violation). */
  maxViolation: boolean;
}

/**
 * VSE++ hinge: per list, Σ over relevant items i of Σ (or max) over non-relevant valid items j of
 * max(0, margin − s_i + s_j). Mean over all lists.
 */
export function hingeRef(scores: Rows, labels: Rows, options: HingeRefOptions): number {
  return meanOf(scores.map((row, l) => {
    const y = labels[l];
    const negatives = validIndices(y).filter((j) => y[j] === 0).map((j) => row[j]);
    let loss = 0;
    for (const i of validIndices(y).filter((i) => y[i] > 0)) {
      const costs = negatives.map((sj) => Math.max(0, options.margin - row[i] + sj));
      if (costs.length === 0) continue;
      loss += options.maxViolation ? Math.max(...costs) : costs.reduce((a, b) => a + b, 0);
    }
    return loss;
  }));
}
