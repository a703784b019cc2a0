/**
 * CPU twin of `kernels/layernorm.wgsl`, in float64, over row-major `rows × cols` matrices.
 *
 * @module
 */

/** Mean and `1/√(σ² + eps)` of each row (biased variance). */
function rowStats(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  eps: number,
): { mean: Float64Array; rstd: Float64Array } {
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[i * cols + j];
    const m = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[i * cols + j] - m) ** 2;
    mean[i] = m;
    rstd[i] = 1 / Math.sqrt(v / cols + eps);
  }
  return { mean, rstd };
}

/** `y = (x − μ)/√(σ² + eps) · γ + β` per row. */
export function layerNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rows: number,
  cols: number,
  eps = 1e-5,
): Float64Array {
  const { mean, rstd } = rowStats(x, rows, cols, eps);
  const y = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      y[k] = (x[k] - mean[i]) * rstd[i] * gamma[j] + beta[j];
    }
  }
  return y;
}

/** Gradients of `Σ g ⊙ layerNorm(x, γ, β)` with respect to x, γ and β. */
export function layerNormBackwardRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  eps = 1e-5,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, rstd } = rowStats(x, rows, cols, eps);
  const dx = new Float64Array(rows * cols);
  const dgamma = new Float64Array(cols);
  const dbeta = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const xh = (x[k] - mean[i]) * rstd[i];
      const gh = g[k] * gamma[j];
      sg += gh;
      sgx += gh * xh;
      dgamma[j] += g[k] * xh;
      dbeta[j] += g[k];
    }
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const xh = (x[k] - mean[i]) * rstd[i];
      dx[k] = rstd[i] * (g[k] * gamma[j] - sg / cols - xh * sgx / cols);
    }
  }
  return { dx, dgamma, dbeta };
}
