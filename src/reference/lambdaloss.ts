/**
 * CPU twin of `kernels/lambdaloss.wgsl` (the loss `lambdaloss`), in float64, written the way allRank's PyTorch
 * code computes it (sort, gather, pairwise matrices, masks): a different formulation from the
 * kernel's. Shared helpers: `./losses.ts`.
 *
 * @module
 */

import type { LambdaScheme } from "../gpu/kernels.ts";
import { ALLRANK_EPS, gain, type Rows, sigmoid, sortedBy, validIndices } from "./losses.ts";

/** Options of {@link lambdaLossRef}. */
export interface LambdaRefOptions {
  /** Weighing scheme. */
  scheme: LambdaScheme;
  /** Cutoff rank; 0 = none. */
  k: number;
  /** Sigmoid scale. */
  sigma: number;
  /** ndcgLoss2PP's weight of ndcgLoss2. */
  mu: number;
  /** Batch reduction over the selected pairs. */
  reduction: "sum" | "mean";
  /** Logarithm base. */
  log: "binary" | "natural";
}

/**
 * allRank `lambdaLoss`: items sorted by descending score (ties by index), D_p = log2(1 + p),
 * G = (2^y − 1) / maxDCG@k, pair losses −log(clamp(clamp(σ(σ·Δs), ε)^w, ε)) over the pairs within
 * the cutoff (all valid pairs for ndcgLoss1, pairs with y_a > y_b otherwise). Sum or mean over the
 * batch's pairs (mean of none = 0).
 */
export function lambdaLossRef(scores: Rows, labels: Rows, options: LambdaRefOptions): number {
  const { scheme, sigma, mu } = options;
  let total = 0;
  let count = 0;
  const logOf = options.log === "binary" ? Math.log2 : Math.log;
  scores.forEach((row, l) => {
    const y = labels[l];
    const n = row.length;
    const k = options.k === 0 ? n : Math.min(options.k, n);
    const order = sortedBy(y, row);
    const m = order.length;
    const idealLabels = validIndices(y).map((i) => y[i]).sort((a, b) => b - a);
    const D = (p: number) => Math.log2(2 + p); // p is the 0-based position
    let maxDcg = 0;
    for (let p = 0; p < Math.min(k, m); p++) maxDcg += gain(idealLabels[p]) / D(p);
    maxDcg = Math.max(maxDcg, ALLRANK_EPS);
    const G = order.map((i) => gain(y[i]) / maxDcg);
    const weight = (a: number, b: number): number => {
      const dG = Math.abs(G[a] - G[b]);
      const delta = Math.abs(a - b);
      const ndcg2 = delta === 0
        ? 0
        : Math.abs(1 / Math.log2(1 + delta) - 1 / Math.log2(2 + delta)) * dG;
      const lambdaRank = Math.abs(1 / D(a) - 1 / D(b)) * dG;
      switch (scheme) {
        case "ndcgLoss1":
          return G[a] / D(a);
        case "ndcgLoss2":
          return ndcg2;
        case "lambdaRank":
          return lambdaRank;
        case "ndcgLoss2PP":
          return mu * ndcg2 + lambdaRank;
        case "rankNet":
          return 1;
      }
    };
    for (let a = 0; a < Math.min(k, m); a++) {
      for (let b = 0; b < Math.min(k, m); b++) {
        const ya = y[order[a]];
        const yb = y[order[b]];
        if (scheme !== "ndcgLoss1" && !(ya > yb)) continue;
        const diff = Math.min(Math.max(row[order[a]] - row[order[b]], -1e8), 1e8);
        const p = Math.max(
          Math.max(sigmoid(sigma * diff), ALLRANK_EPS) ** weight(a, b),
          ALLRANK_EPS,
        );
        total -= logOf(p);
        count++;
      }
    }
  });
  if (options.reduction === "sum") return total;
  return count === 0 ? 0 : total / count;
}
