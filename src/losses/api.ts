/**
 * The public ranking-loss API: plain arrays in, numbers out ({@link rankingLoss},
 * {@link rankingLossWithGrad}), and the tensor form training uses ({@link rankingLossTensor}).
 *
 * Everything is computed on the GPU by the kernels of `kernels/losses.wgsl` (and the NeuralSort
 * kernels). The losses register themselves when their modules are imported: import this API from
 * `src/losses/mod.ts`, which loads every loss.
 *
 * Input: `scores[l][i]` and `labels[l][i]` for list `l` and item `i`; labels are graded relevance
 * ≥ 0, or −1 for a padded item. Bad input is refused with an error naming the loss, the row and the
 * column: unknown loss names or options, ragged rows, mismatched shapes, empty input, NaN or ±Inf
 * scores (or scores outside the float32 range; ±1e30 is fine), labels that are NaN, infinite,
 * or negative other than −1.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";
import { initGpu, rt } from "../gpu/runtime.ts";
import { backward, noGrad } from "../autodiff/tape.ts";
import { scope, Tensor } from "../autodiff/tensor.ts";
import { getLoss, resolveOptions } from "./registry.ts";
import { checkLossInputs } from "./launch.ts";

/** Largest finite float32. */
const { F32_MAX } = PRELUDE;

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value) ?? String(value);
}

/**
 * Checks `[lists][n]` scores and labels; returns `[lists, n]`. Throws a `RangeError` (or a
 * `TypeError` for non-arrays) whose message starts with `what`.
 */
export function checkRankingInput(
  what: string,
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
): [number, number] {
  if (!Array.isArray(scores)) throw new TypeError(`${what}: scores must be an array of rows`);
  if (!Array.isArray(labels)) throw new TypeError(`${what}: labels must be an array of rows`);
  if (scores.length === 0) throw new RangeError(`${what}: empty input, scores have no rows`);
  if (labels.length !== scores.length) {
    throw new RangeError(
      `${what}: scores have ${scores.length} rows, labels have ${labels.length}`,
    );
  }
  for (const [rows, kind] of [[scores, "scores"], [labels, "labels"]] as const) {
    rows.forEach((row, r) => {
      if (!Array.isArray(row)) throw new TypeError(`${what}: ${kind} row ${r} is not an array`);
    });
  }
  const n = scores[0].length;
  if (n === 0) throw new RangeError(`${what}: empty input, scores row 0 has no items`);
  scores.forEach((row, r) => {
    if (row.length !== n) {
      throw new RangeError(`${what}: scores row ${r} has ${row.length} items, row 0 has ${n}`);
    }
    if (labels[r].length !== n) {
      throw new RangeError(
        `${what}: labels row ${r} has ${labels[r].length} items, scores row ${r} has ${n}`,
      );
    }
    row.forEach((v: unknown, c: number) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new RangeError(
          `${what}: scores[${r}][${c}] is ${describe(v)}; scores must be finite numbers`,
        );
      }
      if (Math.abs(v) > F32_MAX) {
        throw new RangeError(
          `${what}: scores[${r}][${c}] = ${v} is outside the float32 range (±${F32_MAX})`,
        );
      }
    });
    labels[r].forEach((v: unknown, c: number) => {
      if (typeof v !== "number" || !Number.isFinite(v) || (v < 0 && v !== -1) || v > F32_MAX) {
        throw new RangeError(
          `${what}: labels[${r}][${c}] is ${describe(v)}; labels must be finite and ≥ 0 ` +
            `(relevance) or −1 (padding)`,
        );
      }
    });
  });
  return [scores.length, n];
}

function flatten(rows: readonly (readonly number[])[], n: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rows.length * n);
  rows.forEach((row, r) => out.set(row, r * n));
  return out;
}

/**
 * The loss `name` of `[lists, n]` score and label tensors, as a `[1]` tensor joined to the autodiff
 * tape (its backward rule gives d loss / d scores, zero at padded items; labels get no gradient).
 * Checks names, options and shapes only: no readback, so values are not checked.
 *
 * Training calls it on the in-batch similarity matrix S `[B, B]` with the relevance matrix R, and on
 * Sᵀ with Rᵀ for the other direction; lists may have several relevant items.
 *
 * @example
 * ```ts
 * import { backward, initGpu, Tensor } from "../../mod.ts";
 * import { rankingLossTensor } from "./mod.ts";
 * await initGpu();
 * const s = Tensor.param([2, 1, 0, 0, 1, 2], [2, 3], "scores");
 * const r = Tensor.fromRows([[1, 0, 0], [0, 0, 1]]);
 * backward(rankingLossTensor("softmax", s, r));
 * console.log(await s.grad!.toRows());
 * ```
 */
export function rankingLossTensor(
  name: string,
  scores: Tensor,
  labels: Tensor,
  options: Record<string, unknown> = {},
): Tensor {
  const def = getLoss(name);
  const resolved = resolveOptions(def, options);
  checkLossInputs(name, scores, labels);
  return def.forward(scores, labels, resolved);
}

/**
 * The loss `name` of score and label rows, computed on the GPU.
 *
 * @example
 * ```ts
 * import { rankingLoss } from "./mod.ts";
 * const loss = await rankingLoss("listmle", [[0.5, 0.3, 0.5]], [[1, 0, -1]]);
 * console.log(loss); // 0.5981389…
 * ```
 */
export async function rankingLoss(
  name: string,
  scores: number[][],
  labels: number[][],
  options: Record<string, unknown> = {},
): Promise<number> {
  const what = `rankingLoss('${name}')`;
  const def = getLoss(name);
  const resolved = resolveOptions(def, options);
  const [lists, n] = checkRankingInput(what, scores, labels);
  await initGpu();
  const loss = scope(() =>
    noGrad(() => {
      const s = Tensor.from(flatten(scores, n), [lists, n], { label: "scores" });
      const y = Tensor.from(flatten(labels, n), [lists, n], { label: "labels" });
      return def.forward(s, y, resolved);
    })
  );
  try {
    return await loss.item();
  } finally {
    loss.dispose();
  }
}

/**
 * The loss `name` and its gradient d loss / d scores (zero at padded items), computed on the GPU
 * with one readback.
 *
 * @example
 * ```ts
 * import { rankingLossWithGrad } from "./mod.ts";
 * const { loss, grad } = await rankingLossWithGrad("softmax", [[2, 1, 0]], [[1, 0, -1]]);
 * console.log(loss, grad); // grad[0][2] === 0 (padding)
 * ```
 */
export async function rankingLossWithGrad(
  name: string,
  scores: number[][],
  labels: number[][],
  options: Record<string, unknown> = {},
): Promise<{ loss: number; grad: number[][] }> {
  const what = `rankingLossWithGrad('${name}')`;
  const def = getLoss(name);
  const resolved = resolveOptions(def, options);
  const [lists, n] = checkRankingInput(what, scores, labels);
  await initGpu();
  const size = lists * n;
  const s = Tensor.param(flatten(scores, n), [lists, n], "scores");
  try {
    const packed = scope(() => {
      const y = Tensor.from(flatten(labels, n), [lists, n], { label: "labels" });
      const loss = def.forward(s, y, resolved);
      backward(loss);
      const out = new Tensor([size + 1], { label: "loss and gradient" });
      rt().copy(s.grad!.buffer, 0, out.buffer, 0, size * 4);
      rt().copy(loss.buffer, 0, out.buffer, size * 4, 4);
      return out;
    });
    const data = await packed.read();
    packed.dispose();
    const grad = Array.from(
      { length: lists },
      (_, r) => Array.from(data.subarray(r * n, r * n + n)),
    );
    return { loss: data[size], grad };
  } finally {
    s.grad?.dispose();
    s.dispose();
  }
}
