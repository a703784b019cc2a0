/**
 * SiMix, the similarity mixup of Patel, Tolias, Matas (CVPR 2022, with the Recall@k surrogate): a
 * training option (`--simix`) that adds virtual candidates to every in-batch list.
 *
 * A virtual item mixes two candidates a, b that are both relevant to a query of the batch (the
 * paper mixes pairs of positives of the same class): its embedding would be α·e_a + (1 − α)·e_b
 * with α ~ U(0, 1) per pair, so its similarity to every query q is the convex mix
 * α·s(q, a) + (1 − α)·s(q, b) — no embedding is formed. Every relevant pair of every list of the
 * batch is mixed once (duplicates across lists once), at most `maxMixed` pairs (a seeded subset
 * beyond; default: as many as the list has candidates). Its label in list q: padding if a or b is
 * padding there, relevant with grade min(y_a, y_b) if both are relevant to q, else 0 (a negative:
 * in the paper's classes, another class's mix). Virtual items are candidates only, never queries.
 *
 * On the GPU the mix is one product: scores `[lists, n]` × M `[n, n + m]`, M = [I | mixing
 * columns], so the original scores pass through exactly and the gradient reaches both sources of
 * every mix (α and 1 − α of it) through the matmul's backward. Only the plan (pairs, α, labels) is
 * built on the host, from the batch's labels, which the host has.
 *
 * @module
 */

import { Tensor } from "../autodiff/tensor.ts";
import { matmul } from "../ops/matmul.ts";
import { dims2 } from "../ops/common.ts";

/** Which candidates a SiMix step mixes, how, and the extended labels. */
export interface SimixPlan {
  /** Lists (queries). */
  lists: number;
  /** Original candidates per list. */
  n: number;
  /** The mixed pairs `[a, b, α]` (a < b, α the weight of a). */
  pairs: [number, number, number][];
  /** The mixing matrix M `[n, n + pairs.length]` = [I | mixing columns], row-major. */
  mix: Float32Array;
  /** The labels of the extended lists `[lists, n + pairs.length]`, row-major. */
  labels: Float32Array;
}

/**
 * Plans one SiMix step for `[lists, n]` labels (row-major; −1 padding): the relevant pairs of
 * every list, deduplicated in list order, a seeded subset of `maxMixed` when there are more, one
 * α ~ U(0, 1) each from `random`.
 */
export function simixPlan(
  labels: ArrayLike<number>,
  lists: number,
  n: number,
  random: () => number,
  maxMixed = n,
): SimixPlan {
  if (labels.length !== lists * n) {
    throw new RangeError(`simix: ${labels.length} labels for ${lists} lists of ${n} candidates`);
  }
  const seen = new Set<number>();
  let candidates: [number, number][] = [];
  for (let l = 0; l < lists; l++) {
    const rel: number[] = [];
    for (let i = 0; i < n; i++) if (labels[l * n + i] > 0) rel.push(i);
    for (let x = 0; x < rel.length; x++) {
      for (let z = x + 1; z < rel.length; z++) {
        const key = rel[x] * n + rel[z];
        if (!seen.has(key)) {
          seen.add(key);
          candidates.push([rel[x], rel[z]]);
        }
      }
    }
  }
  if (candidates.length > maxMixed) {
    // a seeded partial Fisher–Yates: the first maxMixed of a random order
    for (let i = 0; i < maxMixed; i++) {
      const j = i + Math.floor(random() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
    }
    candidates = candidates.slice(0, maxMixed);
  }
  const pairs = candidates.map(([a, b]) => [a, b, random()] as [number, number, number]);
  const width = n + pairs.length;
  const mix = new Float32Array(n * width);
  for (let i = 0; i < n; i++) mix[i * width + i] = 1;
  pairs.forEach(([a, b, alpha], p) => {
    mix[a * width + n + p] = alpha;
    mix[b * width + n + p] = 1 - alpha;
  });
  const out = new Float32Array(lists * width);
  for (let l = 0; l < lists; l++) {
    for (let i = 0; i < n; i++) out[l * width + i] = labels[l * n + i];
    pairs.forEach(([a, b], p) => {
      const ya = labels[l * n + a];
      const yb = labels[l * n + b];
      out[l * width + n + p] = ya < 0 || yb < 0 ? -1 : ya > 0 && yb > 0 ? Math.min(ya, yb) : 0;
    });
  }
  return { lists, n, pairs, mix, labels: out };
}

/**
 * Records the SiMix-extended scores `[lists, n + m]` = scores · M and returns them with their
 * labels (a constant `[lists, n + m]` tensor).
 */
export function simix(scores: Tensor, plan: SimixPlan): { scores: Tensor; labels: Tensor } {
  const [lists, n] = dims2(scores, "simix scores");
  if (lists !== plan.lists || n !== plan.n) {
    throw new RangeError(
      `simix: scores [${lists}, ${n}] do not match the plan's [${plan.lists}, ${plan.n}]`,
    );
  }
  const width = n + plan.pairs.length;
  const m = Tensor.from(plan.mix, [n, width], { label: "simix mixing matrix" });
  return {
    scores: plan.pairs.length === 0 ? scores : matmul(scores, m),
    labels: Tensor.from(plan.labels, [lists, width], { label: "simix labels" }),
  };
}
