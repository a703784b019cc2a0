/**
 * The stochastic variant of a list loss, allRank's `stochastic=True` of `neuralNDCG` (Grover et
 * al. 2019's stochastic NeuralSort): the mean, over `samples` Gumbel draws, of the loss of the
 * perturbed scores ({@link gumbelPerturb}), with the gradient of that mean.
 *
 * Draws run in groups: one group is one call of the deterministic loss on the `[group · lists, n]`
 * perturbed batch (labels repeated), as many draws per group as fit {@link STOCHASTIC_GROUP_BYTES}
 * of the loss's estimated memory and one storage binding. With a gradient, each group's forward and
 * backward run at once (its gradient accumulated, its memory released before the next group, a GPU
 * submission between groups; no readback), so memory stays that of one group however many draws
 * are asked for; the cost grows with `samples`. The loss records one backward rule that scales the
 * accumulated gradient by the upstream one. Draw d's noise does not depend on the grouping.
 *
 * @module
 */

import { backward, isGradEnabled, noGrad, record } from "../autodiff/tape.ts";
import { scope, Tensor } from "../autodiff/tensor.ts";
import { rt } from "../gpu/runtime.ts";
import { formatBytes } from "../gpu/device.ts";
import { lowbias32 } from "../util/random.ts";
import { add, copy, scale } from "../ops/elementwise.ts";
import { gumbelPerturb } from "../ops/gumbel.ts";
import { mulScalar } from "../ops/reduce.ts";

/**
 * Estimated memory of the draws of one group (bytes); at least one draw per group. Small on
 * purpose: grouping saves dispatches on small lists, but on llvmpipe a group's larger buffers cost
 * more per draw than they save (bench/README.md, "Stochastic NeuralNDCG": 32 draws at 128 × 256 in
 * one group took 63.9 s, in groups of 3 41.3 s).
 */
export const STOCHASTIC_GROUP_BYTES = 32 * 2 ** 20;

/** How the draws are made (the resolved options). */
export interface StochasticOptions {
  /** Draws per call (allRank's `n_samples`). */
  samples: number;
  /** Noise scale (allRank's `beta`). */
  beta: number;
  /** log(s + |min| + 1e-10) before the noise (allRank's `log_scores`). */
  logScores: boolean;
  /** Noise seed (u32); 0: each call takes the next value of a per-process counter. */
  seed: number;
}

let calls = 0;

/** The noise seed of one call: `seed` when set, else the next value of the per-process counter. */
export function callSeed(seed: number): number {
  if (seed !== 0) return seed >>> 0;
  calls = (calls % 0xfffffffe) + 1;
  return lowbias32(calls ^ 0x5bd1e995) || 1;
}

/**
 * The seed of one training step's draws: the option `seed` mixed with the trainer's step seed (a
 * resumed run draws what an uninterrupted one would), never 0.
 */
export function stepSeed(seed: number, step: number): number {
  return lowbias32((Math.imul(seed >>> 0, 0x9e3779b1) ^ step) >>> 0) || 1;
}

/** Draws per group for `[lists, n]` lists with `drawBytes` of loss memory per draw. */
export function drawsPerGroup(
  lists: number,
  n: number,
  drawBytes: number,
  samples: number,
  budget = STOCHASTIC_GROUP_BYTES,
): number {
  const byBinding = Math.floor(rt().pool.maxBinding / (4 * lists * n));
  return Math.max(1, Math.min(samples, Math.floor(budget / drawBytes), byBinding));
}

/**
 * The mean over `o.samples` Gumbel draws of `loss(perturbed, labels)` (see the module docs);
 * `loss` is the deterministic loss of a `[rows, n]` batch, which must be the mean over lists of a
 * per-list term so that one call on `g` draws of the batch is the mean of the `g` draws' losses.
 * `drawBytes` estimates the memory of one draw's call. Differentiable with respect to `scores`.
 */
export function stochasticLoss(
  name: string,
  scores: Tensor,
  labels: Tensor,
  o: StochasticOptions,
  loss: (scores: Tensor, labels: Tensor) => Tensor,
  drawBytes: number,
  budget = STOCHASTIC_GROUP_BYTES,
): Tensor {
  const [lists, n] = scores.shape;
  if (4 * lists * n > rt().pool.maxBinding) {
    throw new RangeError(
      `loss '${name}' (stochastic): one draw of ${lists} × ${n} scores needs ` +
        `${formatBytes(4 * lists * n)}, over one storage binding of ` +
        `${formatBytes(rt().pool.maxBinding)}; use fewer lists or stochastic=false`,
    );
  }
  const seed = callSeed(o.seed);
  const per = drawsPerGroup(lists, n, drawBytes, o.samples, budget);
  const withGrad = isGradEnabled() && scores.requiresGrad;
  const leaf = withGrad
    ? new Tensor(scores.shape, { requiresGrad: true, label: "draw scores" })
    : scores;
  if (withGrad) rt().copy(scores.buffer, 0, leaf.buffer, 0, scores.bytes);
  let total: Tensor | null = null;
  for (let first = 0; first < o.samples; first += per) {
    const count = Math.min(per, o.samples - first);
    const weight = count / o.samples;
    if (first > 0) rt().submit(); // the previous group's buffers become reusable
    const part = scope(() => {
      const draws = { samples: count, first, seed, beta: o.beta, logScores: o.logScores };
      const repeated = new Tensor([count * lists, n], { label: "draw labels" });
      for (let d = 0; d < count; d++) {
        rt().copy(labels.buffer, 0, repeated.buffer, d * labels.bytes, labels.bytes);
      }
      if (!withGrad) {
        return noGrad(() => scale(loss(gumbelPerturb(leaf, labels, draws), repeated), weight));
      }
      const value = loss(gumbelPerturb(leaf, labels, draws), repeated);
      backward(value, { grad: Tensor.full([1], weight, { label: "draw weight" }) });
      return noGrad(() => scale(value, weight));
    });
    if (total === null) total = part;
    else {
      const sum: Tensor = noGrad(() => add(total!, part));
      total.dispose();
      part.dispose();
      total = sum;
    }
  }
  if (!withGrad) return total!;
  const grad = noGrad(() => copy(leaf.grad!));
  leaf.grad!.dispose();
  leaf.dispose();
  return record(total!, name, [scores, labels], (g) => [mulScalar(grad, g), null]);
}
