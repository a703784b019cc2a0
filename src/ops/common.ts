/**
 * Shared argument checks of the tensor ops.
 *
 * @module
 */

import { shapeString, type Tensor } from "../autodiff/tensor.ts";

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
