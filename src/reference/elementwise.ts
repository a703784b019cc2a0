/**
 * CPU twins of `kernels/elementwise.wgsl`, in float64.
 *
 * @module
 */

import { ELEMENTWISE } from "../gpu/kernels.ts";

const { GELU_C } = ELEMENTWISE.constants;

/** Applies `f` to every element. */
export function mapRef(a: ArrayLike<number>, f: (x: number, i: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], i);
  return out;
}

/** `max(x, 0)`. */
export function reluRef(a: ArrayLike<number>): Float64Array {
  return mapRef(a, (x) => Math.max(x, 0));
}

/** GELU, tanh approximation (as the kernel). */
export function geluRef(a: ArrayLike<number>): Float64Array {
  return mapRef(a, (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3))));
}

/** `x + bias[j]` for each row of a `rows × cols` matrix. */
export function addBiasRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number>,
  cols: number,
): Float64Array {
  return mapRef(x, (v, i) => v + bias[i % cols]);
}
