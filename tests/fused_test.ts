import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
} from "./util.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby, gelu, relu, scale } from "../src/ops/elementwise.ts";
import {
  biasActivation,
  biasL2Normalize,
  type FusedActivation,
  logSumExpRowsCols,
  scaledRowDot,
} from "../src/ops/fused.ts";
import { addBias, l2Normalize, logSumExp, rowDot, sumAll } from "../src/ops/reduce.ts";
import { transpose } from "../src/ops/transpose.ts";
import { FUSED } from "../src/gpu/kernels.ts";
import {
  biasActivationBackwardRef,
  biasActivationRef,
  biasL2NormalizeBackwardRef,
  biasL2NormalizeRef,
  logSumExpRowsColsBackwardRef,
  logSumExpRowsColsRef,
  scaledRowDotRef,
} from "../src/reference/fused.ts";
import { DualEncoder, modelConfig } from "../src/model/dual_encoder.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { softmaxLoss } from "../src/losses/softmax.ts";
import { gatherRows } from "../src/ops/gather.ts";

// 1×1, a row, a column, sizes off the workgroup (64), and a large one.
// Shapes whose columns are whole quads (1×300, 5×4, 256×512) run the `…4` entries of
// biasActivation and biasL2Normalize's forward.
const SHAPES: [number, number][] = [
  [1, 1],
  [5, 4],
  [1, 300],
  [65, 1],
  [7, 13],
  [9, 65],
  [130, 129],
  [256, 512],
];
const ACTS: FusedActivation[] = ["none", "relu", "gelu"];

/** Runs `op` on parameter copies of `inputs` and back-propagates `g`; returns output and grads. */
async function forwardBackward(
  inputs: { data: ArrayLike<number>; shape: number[] }[],
  op: (...t: Tensor[]) => Tensor,
  g: ArrayLike<number>,
): Promise<{ out: Float32Array; grads: Float32Array[] }> {
  const params = inputs.map((inp, i) => Tensor.param(inp.data, inp.shape, `in${i}`));
  const y = scope(() => {
    const y = op(...params);
    backward(y, { grad: Tensor.from(g, y.shape) });
    return y;
  });
  const out = await y.read();
  const grads = await Promise.all(params.map((p) => p.grad!.read()));
  zeroGrad(params);
  [y, ...params].forEach((p) => p.dispose());
  return { out, grads };
}

const tolFor = (n: number) => ({ atol: 2e-6 * Math.sqrt(n) + 1e-5, rtol: 1e-4 });

gpuTest(
  "biasActivation and its backward match the CPU twins (every activation, edge shapes)",
  async () => {
    for (const [rows, cols] of SHAPES) {
      for (const act of ACTS) {
        const x = randn(rows * cols, rows * 3 + cols, 2);
        const b = randn(cols, cols + 5);
        const g = randn(rows * cols, rows + 11);
        const { out, grads } = await forwardBackward(
          [{ data: x, shape: [rows, cols] }, { data: b, shape: [cols] }],
          (xt, bt) => biasActivation(xt, bt, act),
          g,
        );
        const what = `${act} ${rows}x${cols}`;
        assertAllClose(out, biasActivationRef(x, b, cols, act), tolFor(1), `${what} forward`);
        const ref = biasActivationBackwardRef(x, b, g, cols, act);
        assertAllClose(grads[0], ref.gx, tolFor(1), `${what} dx`);
        assertAllClose(grads[1], ref.gb, tolFor(rows), `${what} dbias`);
      }
    }
  },
);

gpuTest(
  "biasL2Normalize and its backward match the CPU twins (with and without bias)",
  async () => {
    for (const [rows, cols] of SHAPES) {
      for (const withBias of [true, false]) {
        const x = randn(rows * cols, rows * 5 + cols, 3);
        const b = randn(cols, cols + 7);
        const g = randn(rows * cols, rows + 13);
        const inputs = [{ data: x, shape: [rows, cols] }];
        if (withBias) inputs.push({ data: b, shape: [cols] });
        const { out, grads } = await forwardBackward(
          inputs,
          (xt, bt) => biasL2Normalize(xt, withBias ? bt : null),
          g,
        );
        const what = `${withBias ? "bias" : "no bias"} ${rows}x${cols}`;
        const bias = withBias ? b : null;
        assertAllClose(out, biasL2NormalizeRef(x, bias, rows, cols), tolFor(1), `${what} forward`);
        const ref = biasL2NormalizeBackwardRef(x, bias, g, rows, cols);
        assertAllClose(grads[0], ref.gx, tolFor(cols), `${what} dx`);
        if (withBias) assertAllClose(grads[1], ref.gb, tolFor(rows * cols), `${what} dbias`);
      }
    }
  },
);

gpuTest("logSumExpRowsCols and its backward match the CPU twins", async () => {
  for (const [rows, cols] of SHAPES) {
    for (const alpha of [1, 1 / 0.07, -2]) {
      const x = randn(rows * cols, rows * 7 + cols, 0.3);
      const g = randn(rows + cols, rows + cols + 3);
      const { out, grads } = await forwardBackward(
        [{ data: x, shape: [rows, cols] }],
        (xt) => logSumExpRowsCols(xt, alpha),
        g,
      );
      const what = `alpha ${alpha.toFixed(2)} ${rows}x${cols}`;
      const tol = { atol: 1e-5 * Math.abs(alpha) + 1e-5, rtol: 1e-4 };
      assertAllClose(out, logSumExpRowsColsRef(x, rows, cols, alpha), tol, `${what} forward`);
      const ref = logSumExpRowsColsBackwardRef(x, g, rows, cols, alpha);
      assertAllClose(grads[0], ref, tol, `${what} dx`);
    }
  }
});

gpuTest("scaledRowDot and its backward match the CPU twin", async () => {
  for (const [rows, cols] of SHAPES) {
    const a = randn(rows * cols, rows * 9 + cols);
    const b = randn(rows * cols, rows * 9 + cols + 1);
    const g = randn(rows, rows + 17);
    const { out, grads } = await forwardBackward(
      [{ data: a, shape: [rows, cols] }, { data: b, shape: [rows, cols] }],
      (at, bt) => scaledRowDot(at, bt, 1 / 0.07),
      g,
    );
    const ref = scaledRowDotRef(a, b, g, rows, cols, 1 / 0.07);
    const what = `${rows}x${cols}`;
    assertAllClose(out, ref.out, { atol: 1e-4 * Math.sqrt(cols), rtol: 1e-4 }, `${what} forward`);
    assertAllClose(grads[0], ref.ga, { atol: 1e-4, rtol: 1e-4 }, `${what} da`);
    assertAllClose(grads[1], ref.gb, { atol: 1e-4, rtol: 1e-4 }, `${what} db`);
  }
});

gpuTest("fused ops: gradients match finite differences of the twins", async () => {
  const [rows, cols] = [5, 7];
  for (const act of ACTS) {
    // 7 columns: one element per invocation; 8: quads (the `…4` entries).
    for (const c of [cols, 8]) {
      await gradCheck(
        [
          { shape: [rows, c], data: randn(rows * c, 31, 1.5) },
          { shape: [c], data: randn(c, 32) },
        ],
        (x, b) => biasActivation(x, b, act),
        (x, b) => biasActivationRef(x, b, c, act),
      );
    }
  }
  for (const c of [cols, 8]) { // 8 columns: the `…4` entries
    await gradCheck(
      [
        { shape: [rows, c], data: randn(rows * c, 33) },
        { shape: [c], data: randn(c, 34) },
      ],
      (x, b) => biasL2Normalize(x, b),
      (x, b) => biasL2NormalizeRef(x, b, rows, c),
    );
  }
  await gradCheck(
    [{ shape: [rows, cols], data: randn(rows * cols, 35) }],
    (x) => biasL2Normalize(x, null),
    (x) => biasL2NormalizeRef(x, null, rows, cols),
  );
  await gradCheck(
    [
      { shape: [rows, cols], data: randn(rows * cols, 37) },
      { shape: [rows, cols], data: randn(rows * cols, 38) },
    ],
    (a, b) => scaledRowDot(a, b, 2.5),
    (a, b) => scaledRowDotRef(a, b, new Float64Array(rows), rows, cols, 2.5).out,
  );
  await gradCheck(
    [{ shape: [rows, cols], data: randn(rows * cols, 36) }],
    (x) => logSumExpRowsCols(x, 3),
    (x) => logSumExpRowsColsRef(x, rows, cols, 3),
  );
});

gpuTest("fused ops equal the unfused chains they replace, values and gradients", async () => {
  const [rows, cols] = [33, 70];
  const x = randn(rows * cols, 41);
  const b = randn(cols, 42);
  const g = randn(rows * cols, 43);
  const inputs = [{ data: x, shape: [rows, cols] }, { data: b, shape: [cols] }];
  const pairs: [string, (x: Tensor, b: Tensor) => Tensor, (x: Tensor, b: Tensor) => Tensor][] = [
    ["bias + gelu", (x, b) => biasActivation(x, b, "gelu"), (x, b) => gelu(addBias(x, b))],
    ["bias + relu", (x, b) => biasActivation(x, b, "relu"), (x, b) => relu(addBias(x, b))],
    ["bias", (x, b) => biasActivation(x, b, "none"), (x, b) => addBias(x, b)],
    ["bias + L2", (x, b) => biasL2Normalize(x, b), (x, b) => l2Normalize(addBias(x, b))],
  ];
  for (const [name, fused, unfused] of pairs) {
    const f = await forwardBackward(inputs, fused, g);
    const u = await forwardBackward(inputs, unfused, g);
    assertAllClose(f.out, u.out, tolFor(1), `${name} forward`);
    assertAllClose(f.grads[0], u.grads[0], tolFor(cols), `${name} dx`);
    assertAllClose(f.grads[1], u.grads[1], tolFor(rows * cols), `${name} dbias`);
  }
  const y = randn(rows * cols, 45);
  const dot = (f: (a: Tensor, b: Tensor) => Tensor) =>
    forwardBackward([inputs[0], { data: y, shape: [rows, cols] }], f, randn(rows, 46));
  const fd = await dot((a, b) => scaledRowDot(a, b, 3));
  const ud = await dot((a, b) => scale(rowDot(a, b), 3));
  assertAllClose(fd.out, ud.out, tolFor(cols), "scaled row dot");
  fd.grads.forEach((g, i) => assertAllClose(g, ud.grads[i], tolFor(1), `scaled row dot d${i}`));
  // The CLIP loss: both log-sum-exps of the scaled similarities, fused or through a transpose.
  const alpha = 1 / 0.07;
  const s = randn(rows * rows, 44, 0.3);
  const clip = (lse: (t: Tensor) => Tensor) =>
    forwardBackward([{ data: s, shape: [rows, rows] }], (t) => sumAll(lse(t)), [1]);
  const f = await clip((t) => logSumExpRowsCols(t, alpha));
  const u = await clip((t) => {
    const scaled = scale(t, alpha);
    return axpby(1, sumAll(logSumExp(scaled)), 1, sumAll(logSumExp(transpose(scaled))));
  });
  assertAllClose(f.out, u.out, { atol: 1e-3, rtol: 1e-5 }, "CLIP loss");
  assertAllClose(f.grads[0], u.grads[0], { atol: 1e-5, rtol: 1e-4 }, "CLIP loss gradient");
});

gpuTest(
  "biasL2Normalize: a zero row stays zero with a finite gradient; lse of huge values is finite",
  async () => {
    const cols = 4;
    const { out, grads } = await forwardBackward(
      [{ data: [0, 0, 0, 0, 3, 4, 0, 0], shape: [2, cols] }, { data: [0, 0, 0, 0], shape: [cols] }],
      (x, b) => biasL2Normalize(x, b),
      [1, 2, 3, 4, 1, 1, 1, 1],
    );
    assertAllClose(out, [0, 0, 0, 0, 0.6, 0.8, 0, 0], { atol: 1e-7 }, "zero row");
    assertFinite(grads[0], "zero-row gradient");
    // Rows whose squares overflow or underflow f32 take the scale-robust path.
    const extreme = [3e19, 4e19, 0, 0, 3e-25, 0, 4e-25, 0, 1e-30, 0, 0, 0];
    const robust = await forwardBackward(
      [{ data: extreme, shape: [3, cols] }],
      (x) => biasL2Normalize(x, null, 1e-28),
      randn(12, 61),
    );
    const expected = biasL2NormalizeRef(extreme, null, 3, cols, 1e-28);
    assertAllClose(robust.out, expected, { atol: 1e-6 }, "rows of 1e19 and 1e-25, eps 1e-28");
    assertFinite(robust.grads[0], "gradient of rows of 1e19 and 1e-25");
    const big = await forwardBackward(
      [{ data: [1e30, -1e30, 0, 5e29], shape: [2, 2] }],
      (x) => logSumExpRowsCols(x, 1),
      [1, 1, 1, 1],
    );
    assertFinite(big.out, "lse of ±1e30");
    assertAllClose(big.out, [1e30, 5e29, 1e30, 5e29], { rtol: 1e-6 }, "lse of ±1e30");
    assertFinite(big.grads[0], "lse gradient at ±1e30");
  },
);

gpuTest("biasActivation spreads rows over 65535 over two dispatch dimensions", async () => {
  const [rows, cols] = [66000, 3];
  const x = randn(rows * cols, 71);
  const b = randn(cols, 72);
  const y = scope(() => biasActivation(Tensor.from(x, [rows, cols]), Tensor.from(b), "gelu"));
  assertAllClose(await y.read(), biasActivationRef(x, b, cols, "gelu"), tolFor(1), "66000 rows");
  y.dispose();
});

gpuTest("fused ops refuse shapes whose loops would reach llvmpipe's iteration limit", () => {
  scope(() => {
    const tall = Tensor.param(new Float32Array(66000 * 2), [66000, 2], "tall");
    const wide = Tensor.zeros([2, 20000], { label: "wide" });
    assertThrows(
      () => biasActivation(tall, Tensor.zeros([2]), "relu"),
      /biasActivation: tall \[66000, 2\] needs 66000 loop iterations .* over the 65534/,
    );
    assertThrows(
      () => biasL2Normalize(wide, null),
      /biasL2Normalize: wide \[2, 20000\] needs 80000 .*4 passes/,
    );
    assertThrows(() => logSumExpRowsCols(tall, 1), /logSumExpRowsCols: tall .* needs 132000/);
    tall.dispose();
  });
});

gpuTest("fused ops name the mismatched bias and the bad scale", () => {
  scope(() => {
    const x = Tensor.zeros([3, 4], { label: "h" });
    const b = Tensor.zeros([5], { label: "b" });
    assertThrows(() => biasActivation(x, b, "gelu"), /biasActivation: bias \[5\].*4 columns of h/);
    assertThrows(() => biasL2Normalize(x, b), /biasL2Normalize: bias \[5\].*4 columns of h/);
    assertThrows(() => logSumExpRowsCols(x, NaN), /alpha must be finite/);
    assertThrows(
      () => biasActivation(x, Tensor.zeros([4]), "tanh" as FusedActivation),
      /unknown activation 'tanh'/,
    );
  });
});

gpuTest("a training step with fused heads equals the unfused one (3 AdamW steps)", async () => {
  const [textDim, imageDim, n, batch] = [48, 20, 40, 24];
  const texts = Tensor.from(randn(n * textDim, 51), [n, textDim]);
  const images = Tensor.from(randn(n * imageDim, 52), [n, imageDim]);
  const eye = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) eye[i * batch + i] = 1;
  const labels = Tensor.from(eye, [batch, batch]);
  const weights: Float32Array[][] = [];
  for (const fused of [true, false]) {
    const model = new DualEncoder(
      modelConfig(textDim, imageDim, { head: "mlp", hidden: 32, embedDim: 16 }),
      3,
    );
    model.fused = fused;
    const params = [...model.namedParameters().values()];
    const opt = new AdamW(params, { lr: 1e-2, weightDecay: 0.01 });
    for (let step = 0; step < 3; step++) {
      const rows = Array.from({ length: batch }, (_, i) => (i * 7 + step * 5) % n);
      scope(() => {
        const t = model.embedTexts(gatherRows(texts, rows));
        const v = model.embedImages(gatherRows(images, rows));
        const s = model.similarity(t, v);
        backward(axpby(0.5, softmaxLoss(s, labels), 0.5, softmaxLoss(transpose(s), labels)));
        opt.step();
        opt.zeroGrad();
      });
    }
    weights.push(await Promise.all(params.map((p) => p.read())));
    opt.dispose();
    model.dispose();
  }
  weights[0].forEach((w, i) =>
    assertAllClose(w, weights[1][i], { atol: 2e-5, rtol: 1e-4 }, `param ${i}`)
  );
  [texts, images, labels].forEach((t) => t.dispose());
});

gpuTest("bias_l2norm4 gives the same bits as bias_l2norm", async () => {
  // Rows of 12 columns: ordinary ones, rows whose sum of squares leaves f32's comfortable range
  // (1e16, 1e-20: the scale-robust passes), a zero row and one below eps.
  const [rows, cols] = [70, 12];
  const x = randn(rows * cols, 41, 2);
  [1e16, 1e-20, 0, 1e-13].forEach((k, r) => {
    for (let j = 0; j < cols; j++) x[r * cols + j] *= k;
  });
  const tx = Tensor.from(x, [rows, cols]);
  const b = Tensor.from(randn(cols, 42, 1e-3), [cols]);
  const run = async (quads: boolean, hasBias: boolean) => {
    const [out, factors] = [new Tensor([rows, cols]), new Tensor([rows])];
    FUSED.launch(
      quads ? "bias_l2norm4" : "bias_l2norm",
      { a: tx, b: hasBias ? b : undefined, out, out2: factors },
      { rows, cols, eps: 1e-12, has_bias: hasBias ? 1 : 0 },
      rows,
    );
    const read = await Promise.all([out.read(), factors.read()]);
    [out, factors].forEach((t) => t.dispose());
    return read;
  };
  for (const hasBias of [true, false]) {
    const [element, quad] = [await run(false, hasBias), await run(true, hasBias)];
    element.forEach((e, k) => {
      const what = `${["out", "factors"][k]} (bias ${hasBias})`;
      const i = e.findIndex((v, t) => !Object.is(v, quad[k][t]));
      assertEquals(i, -1, `${what} differs at ${i}: ${e[i]} vs ${quad[k][i]}`);
      assertFinite(e, what);
    });
  }
  [tx, b].forEach((t) => t.dispose());
});
