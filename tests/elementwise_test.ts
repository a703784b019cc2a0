import { assertAllClose, gpuTest, gradCheck, randn } from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import {
  addBias,
  broadcastCols,
  broadcastRows,
  broadcastScalar,
  mulScalar,
} from "../src/ops/reduce.ts";
import { affine, axpby, exp, gelu, mul, relu, reshape } from "../src/ops/elementwise.ts";
import { addBiasRef, geluRef, mapRef, reluRef } from "../src/reference/elementwise.ts";

const SIZES = [1, 7, 256, 257, 1000];

gpuTest("elementwise kernels match the CPU reference (sizes around the workgroup)", async () => {
  for (const n of SIZES) {
    const a = randn(n, n, 2);
    const b = randn(n, n + 1, 2);
    const ta = Tensor.from(a);
    const tb = Tensor.from(b);
    const cases: [string, Tensor, ArrayLike<number>][] = [
      ["axpby", axpby(0.5, ta, -2, tb), mapRef(a, (x, i) => 0.5 * x - 2 * b[i])],
      ["mul", mul(ta, tb), mapRef(a, (x, i) => x * b[i])],
      ["affine", affine(ta, 3, 1), mapRef(a, (x) => 3 * x + 1)],
      ["relu", relu(ta), reluRef(a)],
      ["gelu", gelu(ta), geluRef(a)],
      ["exp", exp(ta), mapRef(a, Math.exp)],
    ];
    for (const [name, t, ref] of cases) {
      assertAllClose(await t.read(), ref, { atol: 1e-6, rtol: 1e-5 }, `${name} n=${n}`);
      t.dispose();
    }
    ta.dispose();
    tb.dispose();
  }
});

gpuTest("broadcasts, bias and scalar scaling match the CPU reference", async () => {
  const [rows, cols] = [5, 3];
  const x = randn(rows * cols, 1);
  const bias = randn(cols, 2);
  const s = [1.7];
  const tx = Tensor.from(x, [rows, cols]);
  const tb = Tensor.from(bias);
  const ts = Tensor.from(s);
  const tr = Tensor.from(randn(rows, 3));
  const r = await tr.read();
  const cases: [string, Tensor, ArrayLike<number>][] = [
    ["addBias", addBias(tx, tb), addBiasRef(x, bias, cols)],
    ["mulScalar", mulScalar(tx, ts), mapRef(x, (v) => v * 1.7)],
    ["broadcastScalar", broadcastScalar(ts, [2, 2], 2), [3.4, 3.4, 3.4, 3.4]],
    [
      "broadcastRows",
      broadcastRows(tr, rows, 2),
      Array.from({ length: rows * 2 }, (_, i) => r[i >> 1]),
    ],
    ["broadcastCols", broadcastCols(tb, 2, cols), [...bias, ...bias]],
  ];
  for (const [name, t, ref] of cases) {
    assertAllClose(await t.read(), ref, { atol: 1e-6, rtol: 1e-5 }, name);
    t.dispose();
  }
  [tx, tb, ts, tr].forEach((t) => t.dispose());
});

gpuTest("gelu stays finite at extreme inputs", async () => {
  const t = Tensor.from([-1e30, -100, 0, 100, 1e30]);
  const g = gelu(t);
  assertAllClose(await g.read(), [0, 0, 0, 100, 1e30], { atol: 1e-6, rtol: 1e-6 }, "gelu extremes");
  t.dispose();
  g.dispose();
});

const grads: [string, (t: Tensor[]) => Tensor, (x: Float64Array[]) => ArrayLike<number>, number][] =
  [
    [
      "axpby",
      ([a, b]) => axpby(0.5, a, -2, b),
      ([a, b]) => mapRef(a, (x, i) => 0.5 * x - 2 * b[i]),
      2,
    ],
    ["mul", ([a, b]) => mul(a, b), ([a, b]) => mapRef(a, (x, i) => x * b[i]), 2],
    ["affine", ([a]) => affine(a, 3, 1), ([a]) => mapRef(a, (x) => 3 * x + 1), 1],
    ["relu", ([a]) => relu(a), ([a]) => reluRef(a), 1],
    ["gelu", ([a]) => gelu(a), ([a]) => geluRef(a), 1],
    ["exp", ([a]) => exp(a), ([a]) => mapRef(a, Math.exp), 1],
  ];
for (const [name, gpu, cpu, arity] of grads) {
  gpuTest(`${name} gradient matches finite differences`, async () => {
    const inputs = Array.from(
      { length: arity },
      (_, i) => ({ shape: [12], data: randn(12, 40 + i) }),
    );
    await gradCheck(inputs, (...t) => gpu(t), (...x) => cpu(x));
  });
}

gpuTest("addBias, mulScalar and broadcast gradients match finite differences", async () => {
  const [rows, cols] = [4, 3];
  await gradCheck(
    [{ shape: [rows, cols], data: randn(12, 1) }, { shape: [cols], data: randn(cols, 2) }],
    (x, b) => addBias(x, b),
    (x, b) => addBiasRef(x, b, cols),
  );
  await gradCheck(
    [{ shape: [rows, cols], data: randn(12, 3) }, { shape: [1], data: [0.7] }],
    (x, s) => mulScalar(x, s),
    (x, s) => mapRef(x, (v) => v * s[0]),
  );
  await gradCheck(
    [{ shape: [rows], data: randn(rows, 4) }],
    (v) => broadcastRows(v, rows, cols, 2),
    (v) => Array.from({ length: rows * cols }, (_, i) => 2 * v[Math.floor(i / cols)]),
  );
  await gradCheck(
    [{ shape: [cols], data: randn(cols, 5) }],
    (v) => broadcastCols(v, rows, cols, 3),
    (v) => Array.from({ length: rows * cols }, (_, i) => 3 * v[i % cols]),
  );
  await gradCheck(
    [{ shape: [rows, cols], data: randn(12, 6) }],
    (x) => reshape(x, [cols, rows]),
    (x) => x,
  );
});
