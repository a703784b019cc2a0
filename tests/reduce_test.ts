import { assertAllClose, assertFinite, assertThrows, gpuTest, gradCheck, randn } from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { mul } from "../src/ops/elementwise.ts";
import {
  colSum,
  l2Normalize,
  logSumExp,
  mean,
  rowDot,
  rowSum,
  softmax,
  sumAll,
} from "../src/ops/reduce.ts";
import {
  colSumRef,
  l2NormalizeRef,
  logSumExpRef,
  rowSumRef,
  softmaxRef,
  sumRef,
} from "../src/reference/reduce.ts";

const SHAPES: [number, number][] = [[1, 1], [1, 300], [65, 1], [7, 13], [130, 64]];

gpuTest("row and column reductions match the CPU reference", async () => {
  for (const [rows, cols] of SHAPES) {
    const x = randn(rows * cols, rows * 7 + cols, 3);
    const y = randn(rows * cols, rows + cols);
    const tx = Tensor.from(x, [rows, cols]);
    const ty = Tensor.from(y, [rows, cols]);
    const dots = Array.from({ length: rows }, (_, i) => {
      let s = 0;
      for (let j = 0; j < cols; j++) s += x[i * cols + j] * y[i * cols + j];
      return s;
    });
    const tol = { atol: 1e-5 * Math.sqrt(cols) * 3, rtol: 1e-5 };
    const cases: [string, Tensor, ArrayLike<number>][] = [
      ["rowSum", rowSum(tx), rowSumRef(x, rows, cols)],
      ["colSum", colSum(tx), colSumRef(x, rows, cols)],
      ["rowDot", rowDot(tx, ty), dots],
      ["rowDot × 2.5", rowDot(tx, ty, 2.5), dots.map((d) => 2.5 * d)],
      ["logSumExp", logSumExp(tx), logSumExpRef(x, rows, cols)],
      ["softmax", softmax(tx), softmaxRef(x, rows, cols)],
      ["l2Normalize", l2Normalize(tx), l2NormalizeRef(x, rows, cols)],
    ];
    for (const [name, t, ref] of cases) {
      assertAllClose(await t.read(), ref, tol, `${name} ${rows}x${cols}`);
      t.dispose();
    }
    tx.dispose();
    ty.dispose();
  }
});

gpuTest("sumAll and mean over sizes that need several chunk passes", async () => {
  for (const n of [1, 255, 256, 257, 65536 + 3, 300000]) {
    const x = randn(n, n);
    const t = Tensor.from(x);
    const s = sumAll(t);
    const m = mean(t);
    const tol = { atol: 1e-5 * Math.sqrt(n), rtol: 1e-5 };
    assertAllClose(await s.read(), [sumRef(x)], tol, `sum n=${n}`);
    assertAllClose(await m.read(), [sumRef(x) / n], tol, `mean n=${n}`);
    [t, s, m].forEach((v) => v.dispose());
  }
});

gpuTest("logSumExp and softmax stay finite at ±1e30 and with -inf-like rows", async () => {
  const t = Tensor.from([1e30, -1e30, 0, -1e30, -1e30, -1e30], [2, 3]);
  const l = logSumExp(t);
  const s = softmax(t);
  const lv = await l.read();
  const sv = await s.read();
  assertFinite(lv, "lse");
  assertFinite(sv, "softmax");
  assertAllClose(sv, [1, 0, 0, 1 / 3, 1 / 3, 1 / 3], { atol: 1e-6 }, "softmax extremes");
  [t, l, s].forEach((v) => v.dispose());
});

gpuTest("l2Normalize leaves a zero row at zero and its gradient finite", async () => {
  const x = Tensor.param([0, 0, 0, 1, 2, 3], [2, 3]);
  scope(() => {
    const y = l2Normalize(x);
    backward(sumAll(mul(y, Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]))));
  });
  const g = await x.grad!.read();
  assertFinite(g, "gradient");
  // zero row: y = x / eps, so dy/dx = 1/eps (finite, huge); the real row follows the formula.
  assertAllClose(Array.from(g.subarray(0, 3)), [1e12, 2e12, 3e12], { rtol: 1e-5 }, "zero row");
  const y2 = l2NormalizeRef([1, 2, 3], 1, 3);
  const w = [4, 5, 6];
  const dot = y2[0] * w[0] + y2[1] * w[1] + y2[2] * w[2];
  const expected = [0, 1, 2].map((j) => (w[j] - y2[j] * dot) / Math.sqrt(14));
  assertAllClose(Array.from(g.subarray(3)), expected, { atol: 1e-6, rtol: 1e-5 }, "real row");
  x.grad!.dispose();
  x.dispose();
});

gpuTest(
  "l2Normalize: no overflow or underflow for rows of norm above eps (1e-10 to 1e30)",
  async () => {
    // Squares of 1e19 overflow float32; the kernel scales each row by its largest |x| first. (Rows
    // whose norm is under eps are divided by eps by design: see the zero-row test.)
    const base = randn(3 * 16, 7);
    for (const scale of [1e-10, 1, 1e19, 1e30]) {
      const x = Tensor.param(Float32Array.from(base, (v) => v * scale), [3, 16]);
      const w = Tensor.from(Float32Array.from(randn(48, 8)), [3, 16]);
      const got = await scope(() => {
        const y = l2Normalize(x);
        backward(sumAll(mul(y, w)));
        return y.read();
      });
      const expected = l2NormalizeRef(base, 3, 16);
      assertAllClose(got, expected, { atol: 1e-6, rtol: 1e-5 }, `y at scale ${scale}`);
      // The gradient scales as 1/scale: compare it times the scale with the unscaled one.
      const g = Float64Array.from(await x.grad!.read(), (v) => v * scale);
      assertFinite(g, `gradient at scale ${scale}`);
      const y0 = l2NormalizeRef(base, 3, 16);
      const wv = await w.read();
      const expectedGrad = new Float64Array(48);
      for (let r = 0; r < 3; r++) {
        let n = 0;
        let dot = 0;
        for (let c = 0; c < 16; c++) {
          n += base[r * 16 + c] ** 2;
          dot += y0[r * 16 + c] * wv[r * 16 + c];
        }
        for (let c = 0; c < 16; c++) {
          expectedGrad[r * 16 + c] = (wv[r * 16 + c] - y0[r * 16 + c] * dot) / Math.sqrt(n);
        }
      }
      assertAllClose(g, expectedGrad, { atol: 1e-5, rtol: 1e-4 }, `gradient at scale ${scale}`);
      x.grad!.dispose();
      x.dispose();
      w.dispose();
    }
  },
);

const [R, C] = [5, 4];
const gradCases: [
  string,
  (x: Tensor, y: Tensor) => Tensor,
  (x: Float64Array, y: Float64Array) => ArrayLike<number>,
][] = [
  ["rowSum", (x) => rowSum(x, 2), (x) => rowSumRef(x, R, C).map((v) => 2 * v)],
  ["colSum", (x) => colSum(x), (x) => colSumRef(x, R, C)],
  ["sumAll", (x) => sumAll(x), (x) => [sumRef(x)]],
  ["mean", (x) => mean(x), (x) => [sumRef(x) / (R * C)]],
  ["logSumExp", (x) => logSumExp(x), (x) => logSumExpRef(x, R, C)],
  ["softmax", (x) => softmax(x), (x) => softmaxRef(x, R, C)],
  ["l2Normalize", (x) => l2Normalize(x), (x) => l2NormalizeRef(x, R, C)],
  [
    "rowDot",
    (x, y) => rowDot(x, y),
    (x, y) =>
      Array.from({ length: R }, (_, i) => {
        let s = 0;
        for (let j = 0; j < C; j++) s += x[i * C + j] * y[i * C + j];
        return s;
      }),
  ],
];
for (const [name, gpu, cpu] of gradCases) {
  gpuTest(`${name} gradient matches finite differences`, async () => {
    await gradCheck(
      [{ shape: [R, C], data: randn(R * C, 11) }, { shape: [R, C], data: randn(R * C, 12) }],
      gpu,
      cpu,
    );
  });
}

gpuTest("reductions refuse lines past llvmpipe's loop limit, and run right up to it", async () => {
  // l2Normalize walks a row 3 times: a row of 30000 once came back with its last 24467 outputs 0.
  const wide = Tensor.from(randn(30000, 31), [1, 30000]);
  assertThrows(() => l2Normalize(wide), /row_l2norm: .*\[1, 30000\] needs 90000 loop iterations/);
  assertThrows(() => softmax(wide), /row_softmax: .*\(3 passes over a row of 30000\)/);
  // Two passes of 30000 are under the limit: the log-sum-exp is exact.
  const lseT = logSumExp(wide);
  const lse = await lseT.read();
  const ref = logSumExpRef(await wide.read(), 1, 30000);
  assertAllClose(lse, ref, { atol: 1e-4, rtol: 1e-5 }, "logSumExp of a row of 30000");
  const tall = Tensor.from(new Float32Array(65535 * 2).fill(1), [65535, 2]);
  assertThrows(() => colSum(tall), /col_sum: .*\(1 pass over a column of 65535\)/);
  const under = Tensor.from(new Float32Array(65534 * 2).fill(1), [65534, 2]);
  const sums = colSum(under);
  assertAllClose(await sums.read(), [65534, 65534], { atol: 0 }, "colSum of 65534 rows");
  for (const t of [wide, tall, under, lseT, sums]) t.dispose();
});
