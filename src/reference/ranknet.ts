/**
 * CPU twin of `kernels/ranknet.wgsl` (the loss `ranknet`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import type { RankNetWeighting } from "../gpu/kernels.ts";
import { type Rows, softplus, validIndices } from "./losses.ts";

/**
 * allRank `rankNet`: BCE-with-logits (target 1) of s_i − s_j over every pair of valid items with
 * y_i > y_j, optionally weighted, averaged over all pairs of the batch (0 when there are none).
 */
export function rankNetRef(scores: Rows, labels: Rows, weighting: RankNetWeighting): number {
  let total = 0;
  let count = 0;
  scores.forEach((row, l) => {
    const y = labels[l];
    for (const i of validIndices(y)) {
      for (const j of validIndices(y)) {
        if (!(y[i] > y[j])) continue;
        const w = weighting === "gtDiff"
          ? Math.abs(y[i] - y[j])
          : weighting === "gtDiffPow"
          ? Math.abs(y[i] ** 2 - y[j] ** 2)
          : 1;
        total += w * softplus(-(row[i] - row[j]));
        count++;
      }
    }
  });
  return count === 0 ? 0 : total / count;
}
