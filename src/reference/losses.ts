/**
 * CPU twins of `kernels/losses.wgsl`, in float64: every ranking loss written the way allRank's
 * PyTorch code computes it (sort, gather, pairwise matrices, masks), so the tests compare two
 * different formulations. A list is one row; label −1 (any negative label) marks padding.
 *
 * Ties in sorts are broken by ascending item index (a stable sort), as in the kernels.
 *
 * @module
 */

import { CMPM } from "../gpu/kernels.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { lowbias32 } from "../util/random.ts";

/** allRank's `DEFAULT_EPS` (the prelude's `EPS`). */
const ALLRANK_EPS = PRELUDE.EPS;
/** The epsilon of CMPM's `log(q + ε)` (Zhang & Lu 2018), as declared with its kernel. */
const { CMPM_EPS } = CMPM.constants;

type Rows = readonly (readonly number[])[];

const isValid = (label: number) => label >= 0;
const gain = (label: number) => 2 ** label - 1;
const sigmoid = (x: number) => x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Indices of a row's valid items. */
function validIndices(labels: readonly number[]): number[] {
  return labels.flatMap((y, i) => isValid(y) ? [i] : []);
}

/** Valid indices sorted by descending `key`, ties by ascending index. */
function sortedBy(labels: readonly number[], key: readonly number[]): number[] {
  return validIndices(labels).sort((a, b) => key[b] - key[a] || a - b);
}

function meanOf(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** log softmax, computed as (v − max) − log Σ exp(v − max): exact at ±1e30, where max + log Σ … is not. */
function logSoftmax(values: number[]): number[] {
  const m = Math.max(...values);
  const lz = Math.log(values.reduce((acc, v) => acc + Math.exp(v - m), 0));
  return values.map((v) => (v - m) - lz);
}

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

/** Pair weighting of {@link rankNetRef} (allRank's `rankNet`, `_weightByGTDiff`, `_pow`). */
export type RankNetWeighting = "none" | "gtDiff" | "gtDiffPow";

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

/** LambdaLoss weighing schemes (allRank's `*_scheme` without the suffix). */
export type LambdaScheme = "ndcgLoss1" | "ndcgLoss2" | "lambdaRank" | "ndcgLoss2PP" | "rankNet";

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

function gcdRef(x: number, y: number): number {
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** `tie_slot` of `kernels/losses.wgsl`: the k-th of m tied items' slot (identity when h is 0). */
export function tieSlotRef(k: number, m: number, h: number): number {
  if (h === 0 || m < 2 || m > 65535) return k;
  let a = 1 + (h % m);
  while (gcdRef(a, m) !== 1) a = (a % m) + 1;
  const b = lowbias32(h) % m;
  return (a * k + b) % m;
}

/**
 * The label order of one list as `sort_labels` builds it: valid items by descending label, each
 * tie class in index order (`tieSeed` 0) or in the seeded affine order of the kernel.
 */
export function labelOrderRef(labels: readonly number[], tieSeed: number, list: number): number[] {
  const rel = labels.flatMap((v, i) => (v > 0 ? [i] : []));
  const zero = labels.flatMap((v, i) => (v === 0 ? [i] : []));
  let hr = 0;
  let hz = 0;
  if (tieSeed !== 0) {
    hr = (lowbias32((tieSeed ^ lowbias32((list + 0x9e3779b9) >>> 0)) >>> 0) | 1) >>> 0;
    hz = (lowbias32((hr ^ 0x85ebca6b) >>> 0) | 1) >>> 0;
  }
  const relSlots: number[] = new Array(rel.length);
  rel.forEach((i, k) => relSlots[tieSlotRef(k, rel.length, hr)] = i);
  const zeroSlots: number[] = new Array(zero.length);
  zero.forEach((i, k) => zeroSlots[tieSlotRef(k, zero.length, hz)] = i);
  // stable sort of the relevant items by descending label keeps each tie class's slot order
  const relSorted = relSlots.map((i, slot) => ({ i, slot }))
    .sort((a, b) => labels[b.i] - labels[a.i] || a.slot - b.slot).map((e) => e.i);
  return [...relSorted, ...zeroSlots];
}

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
