import { assertAllClose, assertFinite, assertThrows, gpuTest, gradCheck, randn } from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import { layerNormBackwardRef, layerNormRef } from "../src/reference/layernorm.ts";

// Edge shapes: 1×1 (a constant row: y = β), one row, rows not a multiple of the 64-row workgroup
// or of the 64-row chunk of the parameter-gradient sums, wide rows, and many chunks.
const SHAPES: [number, number][] = [[1, 1], [1, 7], [3, 64], [65, 5], [130, 33], [700, 64]];

// f32 two-pass statistics over `cols` values: error ~ sqrt(cols)·ε relative to the output scale.
const TOL = (cols: number) => ({ atol: 2e-6 * Math.sqrt(cols) * 4, rtol: 1e-4 });

gpuTest("layerNorm forward matches the CPU reference on random and edge shapes", async () => {
  for (const [rows, cols] of SHAPES) {
    // Rows with an offset and a scale, so centring and normalising both matter.
    const x = randn(rows * cols, rows * 13 + cols, 3).map((v, i) => v + (i % 5) - 2);
    const gamma = randn(cols, cols + 1);
    const beta = randn(cols, cols + 2);
    const y = scope(() =>
      layerNorm(Tensor.from(x, [rows, cols]), Tensor.from(gamma), Tensor.from(beta))
    );
    assertAllClose(
      await y.read(),
      layerNormRef(x, gamma, beta, rows, cols),
      TOL(cols),
      `layerNorm ${rows}x${cols}`,
    );
    y.dispose();
  }
});

gpuTest("layerNorm backward (dx, dγ, dβ) matches the CPU reference", async () => {
  for (const [rows, cols] of SHAPES) {
    const x = randn(rows * cols, rows * 17 + cols, 2);
    const gamma = randn(cols, cols + 3);
    const beta = randn(cols, cols + 4);
    const w = randn(rows * cols, rows + cols + 5);
    const tx = Tensor.param(x, [rows, cols], "x");
    const tg = Tensor.param(gamma, [cols], "gamma");
    const tb = Tensor.param(beta, [cols], "beta");
    scope(() => backward(sumAll(mul(layerNorm(tx, tg, tb), Tensor.from(w, [rows, cols])))));
    const ref = layerNormBackwardRef(x, gamma, w, rows, cols);
    // dγ, dβ sum `rows` terms.
    const sumTol = { atol: 1e-5 * Math.sqrt(rows) * 4, rtol: 1e-4 };
    assertAllClose(
      await tx.grad!.read(),
      ref.dx,
      { atol: 2e-5 * Math.sqrt(cols), rtol: 1e-3 },
      "dx",
    );
    assertAllClose(await tg.grad!.read(), ref.dgamma, sumTol, `dγ ${rows}x${cols}`);
    assertAllClose(await tb.grad!.read(), ref.dbeta, sumTol, `dβ ${rows}x${cols}`);
    for (const t of [tx, tg, tb]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
});

gpuTest("layerNorm gradient (x, γ, β) matches finite differences", async () => {
  for (const [rows, cols] of [[1, 1], [3, 5], [70, 8]] as const) {
    const x = randn(rows * cols, 41 + rows, 1.5);
    const gamma = randn(cols, 42 + cols);
    const beta = randn(cols, 43 + cols);
    await gradCheck(
      [
        { shape: [rows, cols], data: x },
        { shape: [cols], data: gamma },
        { shape: [cols], data: beta },
      ],
      (a, g, b) => layerNorm(a, g, b),
      (a, g, b) => layerNormRef(a, g, b, rows, cols),
    );
  }
});

gpuTest("layerNorm of a constant row gives β and finite gradients", async () => {
  const x = Tensor.param(new Float32Array(12).fill(3.5), [2, 6], "x");
  const gamma = Tensor.param(randn(6, 1), [6], "gamma");
  const beta = Tensor.param(randn(6, 2), [6], "beta");
  const y = scope(() => {
    const out = layerNorm(x, gamma, beta);
    backward(sumAll(mul(out, Tensor.from(randn(12, 3), [2, 6]))));
    return out;
  });
  const expected = await beta.read();
  assertAllClose(await y.read(), [...expected, ...expected], { atol: 1e-6 }, "constant rows");
  for (const t of [x, gamma, beta]) assertFinite(await t.grad!.read(), `${t.label} grad`);
  for (const t of [y, x, gamma, beta]) {
    t.grad?.dispose();
    t.dispose();
  }
});

gpuTest("layerNorm rejects mismatched γ/β and empty rows with clear errors", () => {
  scope(() => {
    const x = Tensor.zeros([2, 3]);
    assertThrows(
      () => layerNorm(x, Tensor.zeros([4]), Tensor.zeros([3])),
      /gamma \[4\] does not match the 3 columns/,
    );
    assertThrows(
      () => layerNorm(x, Tensor.zeros([3]), Tensor.zeros([2])),
      /beta \[2\] does not match/,
    );
    assertThrows(() => layerNorm(Tensor.zeros([6]), x, x), /expected a 2-D tensor/);
    assertThrows(
      () => layerNorm(Tensor.zeros([2, 0]), Tensor.zeros([0]), Tensor.zeros([0])),
      /rows of length 0/,
    );
  });
});
