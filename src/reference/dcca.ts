/**
 * CPU twin of the `dcca` batch loss (`src/losses/dcca.ts`), in float64, by eigendecomposition
 * (cyclic Jacobi) instead of the GPU's Newton–Schulz iterations: exact inverse square roots and
 * exact singular values.
 *
 * @module
 */

type Mat = number[][];

const matmulRef = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transposeRef = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric matrix, by cyclic Jacobi. */
export function symmetricEigen(a: Mat): { values: number[]; vectors: Mat } {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: Mat = m.map((_, i) => m.map((_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i][j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [mkp, mkq] = [m[k][p], m[k][q]];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const [mpk, mqk] = [m[p][k], m[q][k]];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const [vkp, vkq] = [v[k][p], v[k][q]];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((row, i) => row[i]), vectors: v };
}

/** f(A) = V f(Λ) Vᵀ of a symmetric matrix. */
function matrixFunction(a: Mat, f: (x: number) => number): Mat {
  const { values, vectors } = symmetricEigen(a);
  return a.map((_, i) =>
    a.map((_, j) => values.reduce((s, l, k) => s + vectors[i][k] * f(l) * vectors[j][k], 0))
  );
}

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
