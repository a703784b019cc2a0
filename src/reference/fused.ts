/**
 * CPU twins of `kernels/fused.wgsl`, in float64, over row-major `rows × cols` matrices: each
 * forward entry and each backward entry (given the upstream gradient).
 *
 * @module
 */

import { ELEMENTWISE } from "../gpu/kernels.ts";
import { l2NormalizeRef } from "./reduce.ts";

const { GELU_C } = ELEMENTWISE.constants;

/** An activation of the fused twins. */
export type ActivationRef = "none" | "relu" | "gelu";

function actRef(act: ActivationRef, h: number): number {
  if (act === "relu") return Math.max(h, 0);
  if (act === "gelu") return 0.5 * h * (1 + Math.tanh(GELU_C * (h + 0.044715 * h ** 3)));
  return h;
}

function actDerivativeRef(act: ActivationRef, h: number): number {
  if (act === "relu") return h > 0 ? 1 : 0;
  if (act === "gelu") {
    const t = Math.tanh(GELU_C * (h + 0.044715 * h ** 3));
    return 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * h * h);
  }
  return 1;
}

/** `act(x + bias)`, the bias added to every row. */
export function biasActivationRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number>,
  cols: number,
  act: ActivationRef,
): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => actRef(act, x[i] + bias[i % cols]));
}

/** Backward of {@link biasActivationRef}: `x`'s gradient and the bias gradient. */
export function biasActivationBackwardRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number>,
  g: ArrayLike<number>,
  cols: number,
  act: ActivationRef,
): { gx: Float64Array; gb: Float64Array } {
  const gx = Float64Array.from(
    { length: x.length },
    (_, i) => g[i] * actDerivativeRef(act, x[i] + bias[i % cols]),
  );
  const gb = new Float64Array(cols);
  for (let i = 0; i < gx.length; i++) gb[i % cols] += gx[i];
  return { gx, gb };
}

/** `x + bias[j]` per row (`bias` null: `x`). */
function biasedRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  cols: number,
): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => x[i] + (bias ? bias[i % cols] : 0));
}

/** `h / max(‖h‖, eps)` per row of `h = x + bias` (`bias` null: none). */
export function biasL2NormalizeRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  rows: number,
  cols: number,
  eps = 1e-12,
): Float64Array {
  return l2NormalizeRef(biasedRef(x, bias, cols), rows, cols, eps);
}

/**
 * Backward of {@link biasL2NormalizeRef}: with `n = ‖h‖`, `(g − y (y·g)) / n` where `n > eps`,
 * else `g / eps`; the bias gradient is the column sum of `x`'s.
 */
export function biasL2NormalizeBackwardRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  eps = 1e-12,
): { gx: Float64Array; gb: Float64Array } {
  const gx = new Float64Array(rows * cols);
  const gb = new Float64Array(cols);
  const biased = biasedRef(x, bias, cols);
  for (let i = 0; i < rows; i++) {
    const h = biased.subarray(i * cols, (i + 1) * cols);
    const n = Math.hypot(...h);
    let yg = 0;
    for (let j = 0; j < cols; j++) yg += (h[j] / n) * g[i * cols + j];
    for (let j = 0; j < cols; j++) {
      const v = n > eps ? (g[i * cols + j] - (h[j] / n) * yg) / n : g[i * cols + j] / eps;
      gx[i * cols + j] = v;
      gb[j] += v;
    }
  }
  return { gx, gb };
}

function lseRef(values: number[]): number {
  const m = Math.max(...values);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(values.reduce((s, v) => s + Math.exp(v - m), 0));
}

/** `[rows + cols]`: the log-sum-exp of each row of `alpha · x`, then of each column. */
export function logSumExpRowsColsRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  alpha = 1,
): Float64Array {
  const out = new Float64Array(rows + cols);
  for (let i = 0; i < rows; i++) {
    out[i] = lseRef(Array.from({ length: cols }, (_, j) => alpha * x[i * cols + j]));
  }
  for (let j = 0; j < cols; j++) {
    out[rows + j] = lseRef(Array.from({ length: rows }, (_, i) => alpha * x[i * cols + j]));
  }
  return out;
}

/**
 * Backward of {@link logSumExpRowsColsRef} for the upstream gradient `g` `[rows + cols]`:
 * `alpha (g_i softmax_row(αx)_ij + g_{rows+j} softmax_col(αx)_ij)`.
 */
export function logSumExpRowsColsBackwardRef(
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  alpha = 1,
): Float64Array {
  const lse = logSumExpRowsColsRef(x, rows, cols, alpha);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = alpha * x[i * cols + j];
      out[i * cols + j] = alpha *
        (g[i] * Math.exp(v - lse[i]) + g[rows + j] * Math.exp(v - lse[rows + j]));
    }
  }
  return out;
}

/** Row dot products `alpha Σ_j a_ij b_ij` and, for the upstream gradient `g` `[rows]`, both inputs' gradients. */
export function scaledRowDotRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  alpha = 1,
): { out: Float64Array; ga: Float64Array; gb: Float64Array } {
  const out = new Float64Array(rows);
  const ga = new Float64Array(rows * cols);
  const gb = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const at = i * cols + j;
      out[i] += alpha * a[at] * b[at];
      ga[at] = alpha * g[i] * b[at];
      gb[at] = alpha * g[i] * a[at];
    }
  }
  return { out, ga, gb };
}
