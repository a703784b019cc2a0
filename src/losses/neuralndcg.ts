/**
 * `neuralndcg` and `neuralndcg_transposed` — allRank's `neuralNDCG` and `neuralNDCG_transposed`
 * (Pobrotyn & Białobrzeski, "NeuralNDCG: Direct Optimisation of a Ranking Metric via
 * Differentiable Relaxation of Sorting", 2021), on deterministic NeuralSort (Grover et al. 2019).
 *
 * Per list with `nv` valid items (label ≥ 0) and scores s:
 *
 *     P̂[i, :] = softmax(((nv + 1 − 2(i+1))·s − A_s·1) / τ),  A_s[j, k] = |s_j − s_k|,  i < nv
 *     M = Sinkhorn(P̂)   (columns then rows divided by their sums, clamped at 1e-10)
 *     DCG = Σ_{i < k} d_i Σ_j M[i, j]·g_j,  d_i = 1/log2(i + 2),  g = 2^y − 1 (or y)
 *
 * `neuralndcg` sums the expected gain of each rank (`M·g`), `neuralndcg_transposed` the expected
 * discount of each item (`Mᵀ·d`); for the same M the two are equal. Loss = `−(1/N) Σ_l DCG_l /
 * (IDCG_l + 1e-10)` over the N lists whose ideal DCG@k is positive.
 *
 * - Options (allRank's names and defaults where it has them): `temperature` τ (1),
 *   `powered_relevancies` (true: gains 2^y − 1; false: y), `k` (0 = no cutoff, allRank's
 *   `k=None`), `sinkhorn` (true; false skips the scaling — allRank always scales), `tol` (1e-6) and
 *   `maxIter` (50) of the Sinkhorn scaling (allRank's `tol`, `max_iter`), and `fused`:
 *   - `"fused"`: P̂ is never stored; every entry of P̂ and of the Sinkhorn iterates is recomputed
 *     from the scores and per-list vectors. Memory ≈ (20·(maxIter + 1) + 76)·lists·n bytes
 *     (≈ 1.1 GB at 1024 × 1000 with a gradient, 0.2 GB without), time O(n²·maxIter) per list, with
 *     tiles of exact zeros skipped (items are sorted by score inside each list).
 *   - `"plain"`: P̂ and its Sinkhorn result are `[lists, n, n]` tensors (allRank's way), chunked so
 *     one matrix fits a storage binding; ≈ 16·lists·n² bytes. Slower; kept as an independent check.
 *   - `"auto"` (default): `"plain"` when P̂ would hold at most {@link AUTO_PLAIN_ENTRIES} entries
 *     (lists·n²; there the work is tiny, dispatch overhead dominates and plain needs half the
 *     dispatches: 27 vs 46 ms at 4 × 4, 67 vs 81 ms at 16 × 16), else `"fused"` (1.3× faster at
 *     1024 × 8, 5× at 256 × 128, 11× at 64 × 1000, and the only one that fits large batches).
 *   Requests whose estimated memory exceeds 2 GiB are refused with a message naming the estimate,
 *   the budget and what to change.
 * - Reduction: mean NDCG over the lists with a positive IDCG (allRank), negated.
 * - Padding (label −1): no rank row, no column; zero gradient. Padding invariance holds: a list
 *   padded anywhere gives the loss and gradient of the unpadded list.
 * - All-zero labels and all-padding lists: IDCG 0, the list gives 0 and no gradient; all such →
 *   loss 0 (as allRank).
 * - Numerics: `s/τ` is clamped to ±1e37/n (no float32 overflow; gradient 0 where clamped), every
 *   softmax and Sinkhorn step is max-shifted / scaled in log space, so scores of ±1e30 and τ = 1e-4
 *   stay finite. Ties give equal columns (`sign(0) = 0` in the gradient of |s_j − s_k|).
 *
 * Differences from allRank:
 * - Sinkhorn stops per list (each list after its first iteration with all row and column sums
 *   within `tol` of 1); allRank stops the whole batch together, so a list's loss depends on the
 *   other lists of its batch. For a single list the two agree.
 * - The `(n + 1 − 2i)` factor counts valid items (as allRank), and the valid block is rank rows
 *   `0 … nv−1` × valid items wherever the padding sits; allRank masks row i by the padding of item i,
 *   which is the same when padding is at the end (its loaders always pad at the end).
 * - allRank's `neuralNDCG_transposed` with `powered_relevancies=False` divides by the IDCG of
 *   powered gains (its `dcg` call omits the gain function); here both variants use the same gains
 *   for DCG and IDCG.
 * - allRank fills P̂'s padded block with a uniform matrix before Sinkhorn; here it stays 0. Neither
 *   reaches the loss.
 * - The stochastic variant (`stochastic=True`, Gumbel-perturbed scores) is not provided.
 * - No `log_base` option: NDCG's discount base cancels between DCG and IDCG.
 *
 * @example
 * ```ts
 * import { rankingLossWithGrad } from "./mod.ts";
 * const { loss, grad } = await rankingLossWithGrad(
 *   "neuralndcg",
 *   [[0.5, 0.3, 0.5, 1.2]],
 *   [[1, 0, 2, -1]],
 *   { temperature: 0.5, k: 2 },
 * );
 * console.log(loss, grad); // grad[0][3] === 0 (padding)
 * ```
 *
 * @module
 */

import type { Tensor } from "../autodiff/tensor.ts";
import { neuralNdcgFused, type NeuralNdcgOptions, neuralNdcgPlain } from "../ops/neuralsort.ts";
import { neuralNdcgRef } from "../reference/neuralsort.ts";
import { checkLossInputs, intOption, positiveOption } from "./launch.ts";
import { registerLoss, resolveOptions } from "./registry.ts";
import type { LossDefinition, LossOptions } from "./types.ts";

/** How the NeuralNDCG losses run: `auto`, `plain` or `fused` (option `fused`). */
export const NEURALNDCG_PATHS = ["auto", "plain", "fused"] as const;

/** `fused: "auto"` runs the plain path when `lists·n²` is at most this, else the fused one. */
export const AUTO_PLAIN_ENTRIES = 32768;

const DEFAULTS: LossOptions = {
  temperature: 1,
  powered_relevancies: true,
  k: 0,
  sinkhorn: true,
  tol: 1e-6,
  maxIter: 50,
  fused: "auto",
};

function optionsOf(def: LossDefinition, options: LossOptions, transposed: boolean) {
  const o = resolveOptions(def, options);
  const tol = o.tol as number;
  if (!(tol >= 0)) {
    throw new RangeError(`loss '${def.name}': option 'tol' must be ≥ 0, got ${tol}`);
  }
  const resolved: NeuralNdcgOptions = {
    temperature: positiveOption(def.name, "temperature", o.temperature as number),
    poweredRelevancies: o.powered_relevancies as boolean,
    k: intOption(def.name, "k", o.k as number, 0),
    sinkhorn: o.sinkhorn as boolean,
    tol,
    maxIter: intOption(def.name, "maxIter", o.maxIter as number, 0),
    transposed,
  };
  return { resolved, path: o.fused as (typeof NEURALNDCG_PATHS)[number] };
}

function define(name: string, transposed: boolean): LossDefinition {
  const allRank = transposed ? "neuralNDCG_transposed" : "neuralNDCG";
  const def: LossDefinition = {
    name,
    summary: `allRank ${allRank}: −NDCG@k through NeuralSort P̂ and Sinkhorn scaling` +
      (transposed ? " (expected discount per item)" : " (expected gain per rank)"),
    defaults: DEFAULTS,
    choices: { fused: NEURALNDCG_PATHS },
    forward(scores: Tensor, labels: Tensor, options: LossOptions): Tensor {
      const [lists, n] = checkLossInputs(name, scores, labels);
      const { resolved, path } = optionsOf(def, options, transposed);
      const plain = path === "plain" || (path === "auto" && lists * n * n <= AUTO_PLAIN_ENTRIES);
      return plain
        ? neuralNdcgPlain(scores, labels, resolved, name)
        : neuralNdcgFused(scores, labels, resolved, name);
    },
    reference(scores: number[][], labels: number[][], options: LossOptions): number {
      return neuralNdcgRef(scores, labels, optionsOf(def, options, transposed).resolved);
    },
  };
  return def;
}

/** The `neuralndcg` loss definition (allRank `neuralNDCG`). */
export const neuralNdcgDefinition: LossDefinition = registerLoss(define("neuralndcg", false));

/** The `neuralndcg_transposed` loss definition (allRank `neuralNDCG_transposed`). */
export const neuralNdcgTransposedDefinition: LossDefinition = registerLoss(
  define("neuralndcg_transposed", true),
);
