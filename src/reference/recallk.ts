/**
 * CPU twin of `kernels/recallk.wgsl` (the loss `recallk`), in float64, written the way the
 * reference PyTorch code computes it (a pairwise difference matrix, masks, per-cutoff sigmoids,
 * `minimum`): a different formulation from the kernel's label-order walk. Shared helpers:
 * `./losses.ts`.
 *
 * @module
 */

import { meanOf, type Rows, sigmoid, validIndices } from "./losses.ts";

/** `recallk`'s options (as `recallKOptions` resolves them). */
export interface RecallKRefOptions {
  ks: number[];
  tau1: number;
  tau2: number;
}

/**
 * Recall@k surrogate: per list with relevant items P among valid Ω,
 * r(x) = 1 + Σ_{z∈Ω∖x} σ((s_z − s_x)/τ1), RS@k = min(Σ_{x∈P} σ((k′ − r(x))/τ2), k′) / min(k′, |P|)
 * with k′ = min(k, |Ω|); loss = 1 − mean_k RS@k, averaged over the lists with a relevant item
 * (0 when none has).
 */
export function recallKRef(scores: Rows, labels: Rows, o: RecallKRefOptions): number {
  const losses: number[] = [];
  scores.forEach((row, l) => {
    const y = labels[l];
    const omega = validIndices(y);
    const pos = omega.filter((i) => y[i] > 0);
    if (pos.length === 0) return;
    // diff[a][b] = σ((s_b − s_a)/τ1) over Ω × Ω, diagonal masked
    const diff = omega.map((a) =>
      omega.map((b) => a === b ? 0 : sigmoid((row[b] - row[a]) / o.tau1))
    );
    const rank = new Map(omega.map((a, ia) => [a, 1 + diff[ia].reduce((s, v) => s + v, 0)]));
    const recalls = o.ks.map((k) => {
      const kk = Math.min(k, omega.length);
      const num = pos.reduce((s, x) => s + sigmoid((kk - rank.get(x)!) / o.tau2), 0);
      return Math.min(num, kk) / Math.min(kk, pos.length);
    });
    losses.push(1 - meanOf(recalls));
  });
  return meanOf(losses);
}
