/**
 * CPU twin of `kernels/smoothap.wgsl` (the loss `smoothap`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import { meanOf, type Rows, sigmoid, validIndices } from "./losses.ts";

/**
 * Smooth-AP (Brown et al. 2020), temperature τ: per list with relevant items P among valid items Ω,
 * AP = mean over i ∈ P of (1 + Σ_{j∈P∖i} σ((s_j − s_i)/τ)) / (1 + Σ_{j∈Ω∖i} σ((s_j − s_i)/τ)).
 * Loss = 1 − mean AP over the lists that have a relevant item (0 when none has).
 */
export function smoothApRef(scores: Rows, labels: Rows, temperature: number): number {
  const aps: number[] = [];
  scores.forEach((row, l) => {
    const y = labels[l];
    const all = validIndices(y);
    const pos = all.filter((i) => y[i] > 0);
    if (pos.length === 0) return;
    let ap = 0;
    for (const i of pos) {
      const soft = (j: number) => j === i ? 0 : sigmoid((row[j] - row[i]) / temperature);
      const rankPos = 1 + pos.reduce((a, j) => a + soft(j), 0);
      const rankAll = 1 + all.reduce((a, j) => a + soft(j), 0);
      ap += rankPos / rankAll;
    }
    aps.push(ap / pos.length);
  });
  return aps.length === 0 ? 0 : 1 - meanOf(aps);
}
