/**
 * CPU twin of the `dcca` batch loss (`src/losses/dcca.ts`), in float64, by eigendecomposition
 * (cyclic Jacobi, `src/util/linalg.ts`) instead of the GPU's Newton–Schulz iterations: exact inverse
 * square roots and exact singular values.
 *
 * @module
 */

import {
  type Mat,
  matmulHost as matmulRef,
  matrixFunction,
  symmetricEigen,
  transposeHost as transposeRef,
} from "../util/linalg.ts";

export { symmetricEigen };

/** The canonical correlations (singular values of T) of paired rows `h1`, `h2` `[m][d]`. */
export function canonicalCorrelationsRef(h1: Mat, h2: Mat, reg: number): number[] {
  const m = h1.length;
  const prep = (h: Mat) => {
    const u = h.map((row) => {
      const norm = Math.max(Math.hypot(...row), 1e-12);
      return row.map((v) => v / norm);
    });
    const mu = u[0].map((_, j) => u.reduce((s, row) => s + row[j], 0) / m);
    return u.map((row) => row.map((v, j) => v - mu[j]));
  };
  const [c1, c2] = [prep(h1), prep(h2)];
  const cov = (a: Mat, b: Mat, r: number) =>
    matmulRef(transposeRef(a), b).map((row, i) =>
      row.map((v, j) => v / (m - 1) + (i === j ? r : 0))
    );
  const w1 = matrixFunction(cov(c1, c1, reg), (x) => 1 / Math.sqrt(x));
  const w2 = matrixFunction(cov(c2, c2, reg), (x) => 1 / Math.sqrt(x));
  const t = matmulRef(matmulRef(w1, cov(c1, c2, 0)), w2);
  return symmetricEigen(matmulRef(transposeRef(t), t)).values.map((x) => Math.sqrt(Math.max(x, 0)));
}

/** The `dcca` loss: −Σ canonical correlations (rows L2-normalised, columns centred, r·I added). */
export function dccaRef(h1: Mat, h2: Mat, reg: number): number {
  return -canonicalCorrelationsRef(h1, h2, reg).reduce((s, v) => s + v, 0);
}
