/**
 * Shared fixtures of the NeuralSort, Sinkhorn and NeuralNDCG tests: seeded lists with padding
 * anywhere, the loss defaults, and one-readback loss (and gradient) helpers.
 *
 * @module
 */

import { rng } from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward, noGrad } from "../src/autodiff/tape.ts";
import type { neuralNdcgFused, NeuralNdcgOptions } from "../src/losses/neuralndcg.ts";
import { neuralNdcgRef } from "../src/reference/neuralndcg.ts";

/** The loss defaults (allRank's), resolved. */
export const BASE: NeuralNdcgOptions = {
  temperature: 1,
  poweredRelevancies: true,
  k: 0,
  sinkhorn: true,
  tol: 1e-6,
  maxIter: 50,
  transposed: false,
};

/** A batch of lists, one row per list. */
export type Rows = number[][];

/**
 * Seeded lists: scores ~ U(−spread, spread) (float32 values), labels graded 0…maxLabel (or
 * binary), and about `padding` of the slots padded (−1), anywhere in the list.
 */
export function lists(
  count: number,
  n: number,
  seed: number,
  { spread = 2, maxLabel = 3, padding = 0.2 } = {},
): { scores: Rows; labels: Rows } {
  const u = rng(seed);
  const scores: Rows = [];
  const labels: Rows = [];
  for (let l = 0; l < count; l++) {
    scores.push(Array.from({ length: n }, () => Math.fround((2 * u() - 1) * spread)));
    labels.push(
      Array.from({ length: n }, () => u() < padding ? -1 : Math.floor(u() * (maxLabel + 1))),
    );
  }
  return { scores, labels };
}

/** Row-major flattening. */
export function flat(rows: Rows): number[] {
  return rows.flat();
}

/** Score (optionally a parameter) and label tensors of a batch. */
export function tensors(scores: Rows, labels: Rows, param = false) {
  const shape = [scores.length, scores[0].length];
  const s = param ? Tensor.param(flat(scores), shape, "scores") : Tensor.fromRows(scores);
  return { s, y: Tensor.fromRows(labels) };
}

/** A NeuralNDCG path. */
export type LossFn = typeof neuralNdcgFused;

/** Loss and gradient of a GPU path (one readback each). */
export async function lossAndGrad(fn: LossFn, scores: Rows, labels: Rows, o: NeuralNdcgOptions) {
  const { s, y } = tensors(scores, labels, true);
  const loss = scope(() => {
    const l = fn(s, y, o);
    backward(l);
    return l;
  });
  const value = await loss.item();
  const grad = await s.grad!.read();
  [loss, s.grad!, s, y].forEach((t) => t.dispose());
  return { value, grad };
}

/** The loss of a GPU path, without a gradient. */
export async function lossOnly(fn: LossFn, scores: Rows, labels: Rows, o: NeuralNdcgOptions) {
  const { s, y } = tensors(scores, labels);
  const loss = noGrad(() => fn(s, y, o));
  const value = await loss.item();
  [loss, s, y].forEach((t) => t.dispose());
  return value;
}

/** Central finite differences of the float64 reference loss. */
export function fdGrad(scores: Rows, labels: Rows, o: NeuralNdcgOptions, h = 1e-6): number[] {
  return fdGradOf((s) => neuralNdcgRef(s, labels, o), scores, h);
}

/** Central finite differences of `loss` with respect to every score, row-major. */
export function fdGradOf(loss: (scores: Rows) => number, scores: Rows, h = 1e-6): number[] {
  const out: number[] = [];
  scores.forEach((row, l) =>
    row.forEach((_, j) => {
      const up = scores.map((r) => [...r]);
      const down = scores.map((r) => [...r]);
      up[l][j] += h;
      down[l][j] -= h;
      out.push((loss(up) - loss(down)) / (2 * h));
    })
  );
  return out;
}
