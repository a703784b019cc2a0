/**
 * Shared argument checks of the tensor ops.
 *
 * @module
 */

import { shapeString, type Tensor } from "../autodiff/tensor.ts";

/**
 * The most loop iterations one invocation may run on llvmpipe: Mesa's gallivm stops every loop of
 * an invocation once their iterations together reach 65535 (`LP_MAX_TGSI_LOOP_ITERATIONS`), and the
 * kernel then returns a partial result without any error (measured: `l2Normalize` of a row of
 * 30000 left its last 24467 outputs at 0). Kernels that loop over a line keep it shorter (chunks)
 * or refuse the shape.
 */
export const MAX_LOOP_ITERATIONS = 65535;

/**
 * Throws naming `op`, the tensor, its shape and the limit when one invocation would loop
 * `iterations` times in all ({@link MAX_LOOP_ITERATIONS}); `what` says which loops.
 */
export function checkLoops(op: string, x: Tensor, iterations: number, what: string): void {
  if (iterations >= MAX_LOOP_ITERATIONS) {
    throw new RangeError(
      `${op}: ${x.label} ${shapeString(x.shape)} needs ${iterations} loop iterations per ` +
        `invocation (${what}), over the ${MAX_LOOP_ITERATIONS - 1} llvmpipe runs`,
    );
  }
}

/** Throws unless `t` is 2-D. Returns `[rows, cols]`. */
export function dims2(t: Tensor, op: string): [number, number] {
  if (t.shape.length !== 2) {
    throw new RangeError(`${op}: expected a 2-D tensor, got ${t.label} ${shapeString(t.shape)}`);
  }
  return [t.shape[0], t.shape[1]];
}

/** Throws unless `a` and `b` have the same shape. */
export function sameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(
      `${op}: shapes differ, ${a.label} ${shapeString(a.shape)} vs ${b.label} ${
        shapeString(b.shape)
      }`,
    );
  }
}
