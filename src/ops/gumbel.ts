/**
 * Gumbel perturbation of list scores (`kernels/gumbel.wgsl`), the sampling step of allRank's
 * `stochastic_neural_sort` (stochastic NeuralNDCG; Grover et al. 2019's stochastic NeuralSort):
 *
 *     m = min of the valid scores of the batch,   s⁺ = s + |m|
 *     x = logScores ? log(s⁺ + 1e-10) : s⁺
 *     out[d, l, i] = x[l, i] + beta · G[d, l, i],   G = −log(−log(u + 1e-10) + 1e-10)
 *
 * for `samples` draws d, as a `[samples · lists, n]` tensor (draw-major: row `d·lists + l`), with a
 * backward rule to the scores (through the log and the |m| term, as autodiff of allRank's
 * expression gives: the |m| term sends `sign(m)/ties · Σ_j dL/ds⁺_j` to the valid items at the
 * minimum, split evenly between ties; none at m = 0).
 *
 * - Padding (label −1) is ignored: it neither sets m nor draws noise (its outputs are 0 and its
 *   gradient 0). m is taken over the valid items of the whole batch, as allRank's `s.min()` is over
 *   the batch tensor (whose padded slots hold whatever the model scored there; here they cannot
 *   influence anything).
 * - Noise: u is a counter-based hash of (seed, first + d, list, v), v the rank of the item among its
 *   list's valid items, so the same seed gives the same noise, and masking an item gives the noise
 *   (and loss) of deleting it. u = (hash >> 8)/2^24 ∈ [0, 1), exact in float32; G ∈ [−3.2, 16.7].
 * - Numerics: the log is taken of the half sum (no overflow for scores up to ±3.4e38); an output
 *   beyond the float32 range is clamped to ±3.4e38 and passes no gradient.
 *
 * Float64 twin: `src/reference/gumbel.ts`.
 *
 * @example
 * ```ts
 * import { gumbelPerturb } from "./gumbel.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const s = Tensor.fromRows([[0.5, 0.1, 2]]);
 * const y = Tensor.fromRows([[1, 0, -1]]);
 * const p = gumbelPerturb(s, y, { samples: 4, seed: 7, beta: 0.1, logScores: true }); // [4, 3]
 * ```
 *
 * @module
 */

import { GUMBEL } from "../gpu/kernels.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** Which draws {@link gumbelPerturb} makes and how. */
export interface GumbelOptions {
  /** Draws (≥ 1): the output holds `samples` perturbed copies of the batch. */
  samples: number;
  /** Index of the first draw (default 0): draws `first … first + samples − 1` of the stream. */
  first?: number;
  /** Stream seed (u32). */
  seed: number;
  /** Noise scale β ≥ 0 (allRank's `beta`). */
  beta: number;
  /** Take log(s + |m| + 1e-10) before adding noise (allRank's `log_scores`). */
  logScores: boolean;
}

function checkOptions(o: GumbelOptions): void {
  const u32 = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new RangeError(`gumbelPerturb: ${name} must be a u32, got ${v}`);
    }
  };
  u32("seed", o.seed);
  u32("first", o.first ?? 0);
  if (!Number.isInteger(o.samples) || o.samples < 1) {
    throw new RangeError(`gumbelPerturb: samples must be an integer ≥ 1, got ${o.samples}`);
  }
  if (!(o.beta >= 0 && Number.isFinite(o.beta))) {
    throw new RangeError(`gumbelPerturb: beta must be finite and ≥ 0, got ${o.beta}`);
  }
}

function paramsOf(lists: number, n: number, o: GumbelOptions) {
  return {
    lists,
    n,
    samples: o.samples,
    first: o.first ?? 0,
    seed: o.seed,
    beta: o.beta,
    log_scores: o.logScores ? 1 : 0,
  };
}

/**
 * The minimum of the valid scores (label ≥ 0) of the whole `[lists, n]` batch and its ties, as a
 * `[2]` tensor `[min, ties]` (`[0, 0]` when no item is valid). Not differentiable.
 */
export function validMin(scores: Tensor, labels: Tensor): Tensor {
  const [lists, n] = dims2(scores, "validMin");
  const lstat = new Tensor([lists, 2], { label: "gumbel list min" });
  const stat = new Tensor([2], { label: "gumbel batch min" });
  const params = paramsOf(lists, n, { samples: 1, seed: 0, beta: 0, logScores: false });
  GUMBEL.launch("list_min", { scores, labels, lstat, stat }, params, lists);
  GUMBEL.launch("batch_min", { scores, labels, lstat, stat }, params, 1);
  lstat.dispose();
  return stat;
}

/**
 * `samples` Gumbel-perturbed copies of `[lists, n]` scores (see the module docs), as a
 * `[samples · lists, n]` tensor whose row `d·lists + l` is draw `first + d` of list `l`; padded
 * slots hold 0. Differentiable with respect to `scores`.
 */
export function gumbelPerturb(scores: Tensor, labels: Tensor, o: GumbelOptions): Tensor {
  const [lists, n] = dims2(scores, "gumbelPerturb");
  if (labels.shape.length !== 2 || labels.shape[0] !== lists || labels.shape[1] !== n) {
    throw new RangeError(
      `gumbelPerturb: labels ${shapeString(labels.shape)} do not match scores ` +
        shapeString(scores.shape),
    );
  }
  checkOptions(o);
  const params = paramsOf(lists, n, o);
  const stat = validMin(scores, labels);
  const out = new Tensor([o.samples * lists, n], { label: "gumbel perturbed" });
  GUMBEL.launch("perturb", { scores, labels, stat, out }, params, o.samples * lists);
  const result = record(out, "gumbelPerturb", [scores, labels], (g) => {
    const grad = new Tensor(scores.shape, { label: "d gumbelPerturb" });
    const lstat = new Tensor([lists, 2], { label: "gumbel list sums" });
    const b = { scores, labels, lstat, stat, out: grad, upstream: g, pert: out };
    GUMBEL.launch("grad_items", b, params, lists);
    GUMBEL.launch("grad_min", b, params, lists);
    lstat.dispose();
    return [grad, null];
  });
  if (!result.creator) stat.dispose();
  return result;
}
