/**
 * Small dense float64 linear algebra on the host: the symmetric eigendecomposition (cyclic Jacobi)
 * behind the final linear CCA of `dcca` runs (`src/losses/dcca.ts`) and the float64 twin of the
 * `dcca` loss. Matrices are arrays of rows.
 *
 * @module
 */

/** A dense matrix as rows. */
export type Mat = number[][];

/** A · B. */
export function matmulHost(a: Mat, b: Mat): Mat {
  const n = b[0].length;
  return a.map((row) => {
    const out = new Array(n).fill(0);
    row.forEach((v, k) => {
      if (v === 0) return;
      const bk = b[k];
      for (let j = 0; j < n; j++) out[j] += v * bk[j];
    });
    return out;
  });
}

/** Aᵀ. */
export function transposeHost(a: Mat): Mat {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

/**
 * Eigenvalues and eigenvectors (the columns of `vectors`) of a symmetric matrix, by cyclic Jacobi
 * sweeps until the off-diagonal squares sum to at most 1e-30 of all squares (at most 100 sweeps).
 */
export function symmetricEigen(a: Mat): { values: number[]; vectors: Mat } {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: Mat = m.map((_, i) => m.map((_, j) => (i === j ? 1 : 0)));
  let scale = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scale += m[i][j] ** 2;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i][j] ** 2;
    if (off <= 1e-30 * Math.max(scale, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const row = m[k];
          const [mkp, mkq] = [row[p], row[q]];
          row[p] = c * mkp - s * mkq;
          row[q] = s * mkp + c * mkq;
        }
        const [rp, rq] = [m[p], m[q]];
        for (let k = 0; k < n; k++) {
          const [mpk, mqk] = [rp[k], rq[k]];
          rp[k] = c * mpk - s * mqk;
          rq[k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const row = v[k];
          const [vkp, vkq] = [row[p], row[q]];
          row[p] = c * vkp - s * vkq;
          row[q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((row, i) => row[i]), vectors: v };
}

/** f(A) = V f(Λ) Vᵀ of a symmetric matrix. */
export function matrixFunction(a: Mat, f: (x: number) => number): Mat {
  const { values, vectors } = symmetricEigen(a);
  const scaled = vectors.map((row) => row.map((x, k) => x * f(values[k])));
  return matmulHost(scaled, transposeHost(vectors));
}
