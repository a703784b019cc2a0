/**
 * Elementwise ops (`kernels/elementwise.wgsl`): add, scale, multiply, bias, ReLU, GELU, exp and
 * broadcasts. Each is a forward dispatch plus a backward rule.
 *
 * @module
 */

import { groups1d, Params, rt } from "../gpu/runtime.ts";
import { record, setGradAccumulators } from "../autodiff/tape.ts";
import { type Shape, shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2, dummy, sameShape } from "./common.ts";
import { colSum, rowSum, sumAll } from "./reduce.ts";

type Entry =
  | "axpby"
  | "mul"
  | "affine"
  | "mul_scalar"
  | "add_row_bias"
  | "exp_scaled"
  | "relu"
  | "relu_backward"
  | "gelu"
  | "gelu_backward"
  | "broadcast_scalar"
  | "broadcast_rows"
  | "broadcast_cols";

/** Records one elementwise kernel writing a new tensor of `shape`. */
function launch(
  entry: Entry,
  shape: Shape,
  a: Tensor,
  b: Tensor | null,
  { cols = 1, alpha = 1, beta = 0 }: { cols?: number; alpha?: number; beta?: number },
  label = entry,
): Tensor {
  const out = new Tensor(shape, { label });
  const n = out.size;
  rt().dispatch(
    { file: "elementwise", entry, storage: ["read", "read", "read_write"], uniform: true },
    [a.buffer, b ? b.buffer : dummy(), out.buffer],
    new Params().u32(n).u32(cols).f32(alpha).f32(beta),
    groups1d(Math.ceil(n / 256)),
  );
  return out;
}

/** `alpha * a + beta * b` (same shapes). */
export function axpby(alpha: number, a: Tensor, beta: number, b: Tensor): Tensor {
  sameShape(a, b, "axpby");
  const out = launch("axpby", a.shape, a, b, { alpha, beta });
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
  const out = launch("affine", a.shape, a, null, { alpha, beta });
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
  const out = launch("mul", a.shape, a, b, {});
  return record(out, "mul", [a, b], (g) => [
    a.requiresGrad ? mul(g, b) : null,
    b.requiresGrad ? mul(g, a) : null,
  ]);
}

/** `a * s[0]`: scales every element by a one-element tensor (e.g. a learnable temperature). */
export function mulScalar(a: Tensor, s: Tensor): Tensor {
  if (s.size !== 1) {
    throw new RangeError(`mulScalar: ${s.label} ${shapeString(s.shape)} is not a scalar`);
  }
  const out = launch("mul_scalar", a.shape, a, s, {});
  return record(out, "mulScalar", [a, s], (g) => [
    a.requiresGrad ? mulScalar(g, s) : null,
    s.requiresGrad ? sumAll(mul(g, a)) : null,
  ]);
}

/** `x + bias` with `bias` of shape `[cols]` added to every row of the 2-D `x`. */
export function addBias(x: Tensor, bias: Tensor): Tensor {
  const [, cols] = dims2(x, "addBias");
  if (bias.size !== cols) {
    throw new RangeError(
      `addBias: bias ${shapeString(bias.shape)} does not match ${cols} columns of ${x.label}`,
    );
  }
  const out = launch("add_row_bias", x.shape, x, bias, { cols });
  return record(out, "addBias", [x, bias], (g) => [g, bias.requiresGrad ? colSum(g) : null]);
}

/** `exp(a)`. */
export function exp(a: Tensor): Tensor {
  const out = launch("exp_scaled", a.shape, a, null, { alpha: 1 });
  return record(out, "exp", [a], (g) => [mul(g, out)]);
}

/** `max(a, 0)`. */
export function relu(a: Tensor): Tensor {
  const out = launch("relu", a.shape, a, null, {});
  return record(out, "relu", [a], (g) => [launch("relu_backward", a.shape, a, g, {})]);
}

/**
 * GELU with the tanh approximation, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (as GPT-2 and
 * PyTorch's `approximate="tanh"`): WGSL has no `erf`.
 */
export function gelu(a: Tensor): Tensor {
  const out = launch("gelu", a.shape, a, null, {});
  return record(out, "gelu", [a], (g) => [launch("gelu_backward", a.shape, a, g, {})]);
}

/** A tensor of `shape` filled with `alpha * s[0]` (s has one element). */
export function broadcastScalar(s: Tensor, shape: Shape, alpha = 1): Tensor {
  const out = launch("broadcast_scalar", shape, s, null, { alpha });
  return record(out, "broadcastScalar", [s], (g) => [scale(sumAll(g), alpha)]);
}

/** `[rows, cols]` with row i filled with `alpha * v[i]` (v has `rows` elements). */
export function broadcastRows(v: Tensor, rows: number, cols: number, alpha = 1): Tensor {
  if (v.size !== rows) {
    throw new RangeError(`broadcastRows: ${v.size} values for ${rows} rows`);
  }
  const out = launch("broadcast_rows", [rows, cols], v, null, { cols, alpha });
  return record(out, "broadcastRows", [v], (g) => [rowSum(g, alpha)]);
}

/** `[rows, cols]` with every row equal to `alpha * v` (v has `cols` elements). */
export function broadcastCols(v: Tensor, rows: number, cols: number, alpha = 1): Tensor {
  if (v.size !== cols) {
    throw new RangeError(`broadcastCols: ${v.size} values for ${cols} columns`);
  }
  const out = launch("broadcast_cols", [rows, cols], v, null, { cols, alpha });
  return record(out, "broadcastCols", [v], (g) => [colSum(g, alpha)]);
}

setGradAccumulators(add, (t) => {
  const out = new Tensor(t.shape, { label: "grad" });
  rt().copy(t.buffer, 0, out.buffer, 0, t.bytes);
  return out;
});
