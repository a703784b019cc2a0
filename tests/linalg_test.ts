// The host eigendecomposition behind dcca's final CCA and its twin (src/util/linalg.ts): A·V = V·Λ,
// VᵀV = I and ascending values, on random, degenerate and edge matrices.

import { assertEquals, assertOk, assertThrows, rng } from "./util.ts";
import { type Mat, matrixFunction, symmetricEigen } from "../src/util/linalg.ts";

/** The largest |A·V − V·Λ|, |VᵀV − I| and whether the values ascend. */
function check(a: Mat): { residual: number; orthogonality: number; ascending: boolean } {
  const n = a.length;
  const { values, vectors: v } = symmetricEigen(a);
  let residual = 0;
  let orthogonality = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      let av = 0;
      let vtv = 0;
      for (let j = 0; j < n; j++) {
        av += a[i][j] * v[j][k];
        vtv += v[j][i] * v[j][k];
      }
      residual = Math.max(residual, Math.abs(av - values[k] * v[i][k]));
      orthogonality = Math.max(orthogonality, Math.abs(vtv - (i === k ? 1 : 0)));
    }
  }
  return {
    residual,
    orthogonality,
    ascending: values.every((x, k) => k === 0 || values[k - 1] <= x),
  };
}

function symmetric(n: number, seed: number, scale = 1): Mat {
  const r = rng(seed);
  const a: Mat = Array.from({ length: n }, () => new Array(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i][j] = a[j][i] = (r() * 2 - 1) * scale;
  }
  return a;
}

Deno.test("symmetricEigen: A·V = V·Λ and VᵀV = I on random matrices (1 to 200), values ascending", () => {
  for (const [n, scale] of [[1, 1], [2, 1], [3, 1e-8], [17, 1], [64, 1e6], [200, 1]]) {
    const a = symmetric(n, n + 1, scale);
    const { residual, orthogonality, ascending } = check(a);
    assertOk(residual <= 1e-12 * scale * n, `n ${n}: residual ${residual}`);
    assertOk(orthogonality <= 1e-12 * n, `n ${n}: VᵀV − I ${orthogonality}`);
    assertOk(ascending, `n ${n}: values not ascending`);
  }
});

Deno.test("symmetricEigen: degenerate matrices (zero, identity, ties, rank 1, diagonal, tridiagonal)", () => {
  const n = 9;
  const eye = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => +(i === j)));
  const zero = Array.from({ length: n }, () => new Array(n).fill(0));
  const ties = eye.map((row, i) => row.map((x) => x * (i % 3)));
  const u = Array.from({ length: n }, (_, i) => i - 4);
  const rank1 = u.map((x) => u.map((y) => x * y));
  const tri = eye.map((row, i) =>
    row.map((_, j) => (i === j ? 2 : Math.abs(i - j) === 1 ? -1 : 0))
  );
  for (
    const [name, a] of [["zero", zero], ["identity", eye], ["ties", ties], ["rank 1", rank1], [
      "tridiagonal",
      tri,
    ]] as [string, Mat][]
  ) {
    const { residual, orthogonality, ascending } = check(a);
    assertOk(residual <= 1e-12 * 100 && orthogonality <= 1e-12 * 10 && ascending, name);
  }
  // Known spectra: the identity's values are all 1; ties give 0, 1, 2 three times each; rank 1
  // gives ‖u‖² once; the (2, −1) tridiagonal gives 2 − 2cos(kπ/(n+1)).
  assertEquals(symmetricEigen(eye).values, new Array(n).fill(1));
  const tieValues = symmetricEigen(ties).values.map((x) => Math.round(x * 1e9) / 1e9);
  assertEquals(tieValues, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  const top = symmetricEigen(rank1).values[n - 1];
  assertOk(Math.abs(top - u.reduce((s, x) => s + x * x, 0)) < 1e-10, `rank 1: ${top}`);
  const triValues = symmetricEigen(tri).values;
  triValues.forEach((x, k) => {
    const want = 2 - 2 * Math.cos((k + 1) * Math.PI / (n + 1));
    assertOk(Math.abs(x - want) < 1e-12, `tridiagonal value ${k}: ${x} vs ${want}`);
  });
  assertEquals(symmetricEigen([]), { values: [], vectors: [] });
});

Deno.test("matrixFunction: the inverse square root whitens; non-finite input is refused", () => {
  const a = symmetric(12, 5);
  for (let i = 0; i < 12; i++) a[i][i] += 13; // positive definite
  const w = matrixFunction(a, (x) => 1 / Math.sqrt(x));
  // W·A·W = I
  const wa = w.map((row) => a[0].map((_, j) => row.reduce((s, x, k) => s + x * a[k][j], 0)));
  const waw = wa.map((row) => w[0].map((_, j) => row.reduce((s, x, k) => s + x * w[k][j], 0)));
  waw.forEach((row, i) =>
    row.forEach((x, j) => assertOk(Math.abs(x - +(i === j)) < 1e-12, `WAW[${i}][${j}] ${x}`))
  );
  const bad = symmetric(4, 6);
  bad[1][2] = bad[2][1] = NaN;
  assertThrows(() => symmetricEigen(bad), /entry \[1\]\[2\] is NaN, not finite/);
  assertThrows(() => symmetricEigen([[1, 2], [3]]), /row 1 has 1 entries, expected 2/);
});
