/**
 * Seeded GPU dropout (`kernels/dropout.wgsl`): inverted dropout whose mask is an integer hash of
 * (seed, step, element index), so a run is reproducible and the backward recomputes the mask
 * instead of storing it.
 *
 * @module
 */

import { DROPOUT } from "../gpu/kernels.ts";
import { record } from "../autodiff/tape.ts";
import { Tensor } from "../autodiff/tensor.ts";

/** Which random mask {@link dropout} draws: one stream per (seed, step). */
export interface DropoutOptions {
  /** Stream seed (u32), e.g. the model seed mixed with the dropout site. */
  seed: number;
  /** Training step (u32): a new mask every step. */
  step: number;
}

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`dropout: ${name} must be a u32, got ${value}`);
  }
}

/** `x` with the mask of (seed, step) applied and kept items scaled by 1 / (1 − p). */
function applyMask(x: Tensor, p: number, { seed, step }: DropoutOptions): Tensor {
  const out = new Tensor(x.shape, { label: "dropout" });
  const threshold = Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
  const params = { n: x.size, seed, step, threshold, scale: 1 / (1 - p) };
  DROPOUT.launch("dropout", { x, out }, params, x.size);
  return out;
}

/**
 * Zeroes each element of `x` with probability `p` and scales the rest by `1/(1 − p)`. The mask is a
 * pure function of (seed, step, index): the same call gives the same mask, and the backward applies
 * it to the gradient. `p = 0` returns `x` itself (no dispatch).
 *
 * @example
 * ```ts
 * import { dropout } from "./dropout.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const x = Tensor.full([4, 8], 1);
 * const y = dropout(x, 0.1, { seed: 7, step: 0 }); // entries 0 or 1/0.9
 * ```
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  checkU32("seed", options.seed);
  checkU32("step", options.step);
  if (p === 0) return x;
  const opts = { seed: options.seed, step: options.step };
  const out = applyMask(x, p, opts);
  return record(out, "dropout", [x], (g) => [applyMask(g, p, opts)]);
}
