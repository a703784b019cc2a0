/**
 * CPU twin of `kernels/matmul.wgsl`, `kernels/matmul_tex.wgsl` and `kernels/matmul_naive.wgsl`:
 * the test oracle, in float64.
 *
 * @module
 */

/**
 * `C[M, N] = op(A) · op(B)`, row-major; A is M×K (K×M when `transA`), B is K×N (N×K when
 * `transB`).
 *
 * @example
 * ```ts
 * import { matmulRef } from "./matmul.ts";
 * matmulRef([1, 2, 3, 4], [1, 0, 0, 1], 2, 2, 2); // Float64Array [1, 2, 3, 4]
 * ```
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  transA = false,
  transB = false,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < k; t++) {
      const av = transA ? a[t * m + i] : a[i * k + t];
      if (av === 0) continue;
      for (let j = 0; j < n; j++) {
        c[i * n + j] += av * (transB ? b[j * k + t] : b[t * n + j]);
      }
    }
  }
  return c;
}
