/**
 * Elementwise ops (`kernels/elementwise.wgsl`): add, scale, multiply, ReLU, GELU and exp, each a
 * forward dispatch plus a backward rule. The broadcasts and the ops whose gradient is a reduction
 * (row bias, scalar scale) live with the reductions in `./reduce.ts`.
 *
 * @module
 */

import type { EntryOf } from "../gpu/declare.ts";
import { ELEMENTWISE } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { type Shape, shapeString, Tensor } from "../autodiff/tensor.ts";
import { sameShape } from "./common.ts";

/** Parameters of an elementwise entry besides the element count. */
export interface ElementwiseParams {
  /** Row length of row-broadcast entries. */
  cols?: number;
  alpha?: number;
  beta?: number;
}

/**
 * A new tensor of `shape` written by the elementwise entry `entry` from `a` (and `b`): one
 * invocation per element. Exported for the broadcasts of `./reduce.ts`.
 */
export function elementwise(
  entry: EntryOf<typeof ELEMENTWISE.decl>,
  shape: Shape,
  a: Tensor,
  b: Tensor | null,
  { cols = 1, alpha = 1, beta = 0 }: ElementwiseParams = {},
): Tensor {
  const out = new Tensor(shape, { label: entry });
  const n = out.size;
  ELEMENTWISE.launch(entry, { a, b: b ?? undefined, out }, { n, cols, alpha, beta }, n);
  return out;
}

/** `alpha * a + beta * b` (same shapes). */
export function axpby(alpha: number, a: Tensor, beta: number, b: Tensor): Tensor {
  sameShape(a, b, "axpby");
  const out = elementwise("axpby", a.shape, a, b, { alpha, beta });
  return record(out, "axpby", [a, b], (g) => [scale(g, alpha), scale(g, beta)]);
}

/** `a + b` (same shapes). */
export function add(a: Tensor, b: Tensor): Tensor {
  return axpby(1, a, 1, b);
}

/** `a - b` (same shapes). */
export function sub(a: Tensor, b: Tensor): Tensor {
  return axpby(1, a, -1, b);
}

/** `alpha * a + beta`. */
export function affine(a: Tensor, alpha: number, beta = 0): Tensor {
  const out = elementwise("affine", a.shape, a, null, { alpha, beta });
  return record(out, "affine", [a], (g) => [scale(g, alpha)]);
}

/** `alpha * a`. */
export function scale(a: Tensor, alpha: number): Tensor {
  return affine(a, alpha, 0);
}

/** A copy of `a` (no gradient link beyond identity). */
export function copy(a: Tensor): Tensor {
  const out = new Tensor(a.shape, { label: a.label });
  rt().copy(a.buffer, 0, out.buffer, 0, a.bytes);
  return record(out, "copy", [a], (g) => [g]);
}

/** A copy of `a` with a new shape of the same size. */
export function reshape(a: Tensor, shape: Shape): Tensor {
  const out = new Tensor(shape, { label: a.label });
  if (out.size !== a.size) {
    out.dispose();
    throw new RangeError(
      `reshape: ${a.label} ${shapeString(a.shape)} cannot become ${shapeString(shape)}`,
    );
  }
  rt().copy(a.buffer, 0, out.buffer, 0, a.bytes);
  return record(out, "reshape", [a], (g) => [reshape(g, a.shape)]);
}

/** Elementwise product `a * b` (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, "mul");
  const out = elementwise("mul", a.shape, a, b, {});
  return record(out, "mul", [a, b], (g) => [
    a.requiresGrad ? mul(g, b) : null,
    b.requiresGrad ? mul(g, a) : null,
  ]);
}

/** `exp(a)`. */
export function exp(a: Tensor): Tensor {
  const out = elementwise("exp_scaled", a.shape, a, null, { alpha: 1 });
  return record(out, "exp", [a], (g) => [mul(g, out)]);
}

/** `max(a, 0)`. */
export function relu(a: Tensor): Tensor {
  const out = elementwise("relu", a.shape, a, null, {});
  return record(out, "relu", [a], (g) => [elementwise("relu_backward", a.shape, a, g, {})]);
}

/**
 * GELU with the tanh approximation, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (as GPT-2 and
 * PyTorch's `approximate="tanh"`): WGSL has no `erf`.
 */
export function gelu(a: Tensor): Tensor {
  const out = elementwise("gelu", a.shape, a, null, {});
  return record(out, "gelu", [a], (g) => [elementwise("gelu_backward", a.shape, a, g, {})]);
}
