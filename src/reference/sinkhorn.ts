/**
 * CPU twin of `kernels/sinkhorn.wgsl`, in float64: Sinkhorn scaling of one list's valid block, as
 * allRank's `sinkhorn_scaling`. Columns then rows are divided by their sums (clamped below at the
 * prelude's `EPS`); it stops after the first iteration whose row and column sums are all within
 * `tol` of 1, or after `maxIter` iterations; each list stops on its own.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";

/** allRank's `DEFAULT_EPS` (the prelude's `EPS`): the clamp of Sinkhorn sums and the IDCG guard. */
const EPS = PRELUDE.EPS;

/** Result of {@link sinkhornRef}. */
export interface SinkhornRefResult {
  /** The scaled matrix, `n × n` row-major. */
  matrix: Float64Array;
  /** Iterations performed (each: one column and one row normalisation). */
  iterations: number;
}

/**
 * Sinkhorn scaling of the valid block (rows `0 … nv−1`, the columns in `valid`) of an `n × n`
 * matrix, as allRank's `sinkhorn_scaling` for one list: columns then rows are divided by their sums
 * (clamped at `EPS`, see `src/gpu/prelude.ts`); stop once every row and column sum is within `tol` of 1.
 */
export function sinkhornRef(
  p: ArrayLike<number>,
  n: number,
  valid: readonly number[],
  tol: number,
  maxIter: number,
): SinkhornRefResult {
  const nv = valid.length;
  const m = Float64Array.from(p);
  let iterations = 0;
  for (let t = 0; t < maxIter; t++) {
    for (const j of valid) {
      let cs = 0;
      for (let i = 0; i < nv; i++) cs += m[i * n + j];
      const q = Math.max(cs, EPS);
      for (let i = 0; i < nv; i++) m[i * n + j] /= q;
    }
    let err = 0;
    for (let i = 0; i < nv; i++) {
      let rs = 0;
      for (const j of valid) rs += m[i * n + j];
      const r = Math.max(rs, EPS);
      rs = 0;
      for (const j of valid) rs += m[i * n + j] /= r;
      err = Math.max(err, Math.abs(rs - 1));
    }
    iterations = t + 1;
    for (const j of valid) {
      let cs = 0;
      for (let i = 0; i < nv; i++) cs += m[i * n + j];
      err = Math.max(err, Math.abs(cs - 1));
    }
    if (err < tol) break;
  }
  return { matrix: m, iterations };
}
