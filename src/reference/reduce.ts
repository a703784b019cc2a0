/**
 * CPU twins of `kernels/reduce.wgsl`, in float64, over row-major `rows × cols` matrices.
 *
 * @module
 */

/** Row sums. */
export function rowSumRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i] += x[i * cols + j];
  return out;
}

/** Column sums. */
export function colSumRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += x[i * cols + j];
  return out;
}

/** Sum of all elements. */
export function sumRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

/** Row-wise log-sum-exp (max-shifted). */
export function logSumExpRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[i * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[i * cols + j] - m);
    out[i] = m + Math.log(s);
  }
  return out;
}

/** Row-wise softmax. */
export function softmaxRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const lse = logSumExpRef(x, rows, cols);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = Math.exp(x[i * cols + j] - lse[i]);
  }
  return out;
}

/** Row-wise `x / max(‖x‖, eps)`. */
export function l2NormalizeRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  eps = 1e-12,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[i * cols + j] ** 2;
    const d = Math.max(Math.sqrt(s), eps);
    for (let j = 0; j < cols; j++) out[i * cols + j] = x[i * cols + j] / d;
  }
  return out;
}
