// The batch loss `dcca` (src/losses/dcca.ts, composed of differentiable ops) against its float64
// twin by eigendecomposition (src/reference/dcca.ts): Newton–Schulz vs exact matrix functions, the
// loss on correlated and on perfectly related pairs, finite differences, and input errors.

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertThrows,
  gpuTest,
  gradCheck,
  rng,
} from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { dccaLoss, dccaOptions, fitCca, newtonSchulz } from "../src/losses/dcca.ts";
import { runTraining } from "../src/train/run.ts";
import type { TrainData } from "../src/train/trainer.ts";
import { readCheckpoint } from "../src/train/run_dir.ts";
import { quietProgress, smallConfig, toyDataset } from "./train_fixtures.ts";
import { canonicalCorrelationsRef, dccaRef, symmetricEigen } from "../src/reference/dcca.ts";

/** m seeded pairs of d-dim rows: h2 = h1·R + noise·N (R a random mix), both float32. */
function pairs(
  m: number,
  d: number,
  seed: number,
  noise = 0.5,
): { h1: number[][]; h2: number[][] } {
  const u = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const h1 = Array.from({ length: m }, () => Array.from({ length: d }, normal));
  const r = Array.from({ length: d }, () => Array.from({ length: d }, normal));
  const h2 = h1.map((row) =>
    r[0].map((_, j) => row.reduce((s, v, k) => s + v * r[k][j], 0) + noise * normal())
  );
  const f = (rows: number[][]) => rows.map((row) => row.map(Math.fround));
  return { h1: f(h1), h2: f(h2) };
}

const rows = (flat: ArrayLike<number>, d: number) =>
  Array.from({ length: flat.length / d }, (_, i) => Array.from(flat).slice(i * d, (i + 1) * d));

gpuTest(
  "Newton–Schulz square root and inverse square root match the eigendecomposition",
  async () => {
    const { h1 } = pairs(30, 6, 1);
    const a = h1[0].map((_, i) =>
      h1[0].map((_, j) => h1.reduce((s, row) => s + row[i] * row[j], 0) / 30 + (i === j ? 0.05 : 0))
    );
    const { values, vectors } = symmetricEigen(a);
    const f = (g: (x: number) => number) =>
      a.flatMap((_, i) =>
        a.map((_, j) => values.reduce((s, l, k) => s + vectors[i][k] * g(l) * vectors[j][k], 0))
      );
    const bound = a.reduce((s, row, i) => s + row[i], 0); // the trace bounds the largest eigenvalue
    const [r, z] = scope(() => newtonSchulz(Tensor.fromRows(a), bound, 30));
    const [root, inv] = [await r.read(), await z.read()];
    r.dispose();
    z.dispose();
    assertAllClose(root, f(Math.sqrt), { atol: 1e-4, rtol: 1e-3 }, "A^(1/2)");
    assertAllClose(inv, f((x) => 1 / Math.sqrt(x)), { atol: 1e-3, rtol: 1e-3 }, "A^(-1/2)");
  },
);

gpuTest("dcca matches its eigendecomposition twin (correlated pairs, several shapes)", async () => {
  for (const [m, d, noise, seed] of [[40, 4, 0.5, 2], [64, 8, 0.3, 3], [12, 3, 1, 4]] as const) {
    const { h1, h2 } = pairs(m, d, seed, noise);
    const o = dccaOptions({ iters: 30 });
    const loss = await scope(() => dccaLoss(Tensor.fromRows(h1), Tensor.fromRows(h2), o).read());
    const want = dccaRef(h1, h2, o.reg);
    assertAllClose([loss[0]], [want], { atol: 2e-3, rtol: 2e-3 }, `dcca ${m}x${d}`);
    const rho = canonicalCorrelationsRef(h1, h2, o.reg);
    assertOk(rho.every((r) => r >= 0 && r < 1), `correlations in [0, 1): ${rho}`);
  }
});

gpuTest("dcca of a row set with itself: every correlation near 1, loss near −d", async () => {
  const { h1 } = pairs(50, 4, 5);
  const o = dccaOptions();
  const loss = await scope(() => dccaLoss(Tensor.fromRows(h1), Tensor.fromRows(h1), o).read());
  const want = dccaRef(h1, h1, o.reg);
  assertOk(want < -3.9, `twin ${want}`);
  assertAllClose([loss[0]], [want], { atol: 5e-3, rtol: 2e-3 }, "dcca self");
});

gpuTest("dcca's gradient matches finite differences of the twin", async () => {
  for (const [m, d, seed] of [[24, 3, 6], [16, 4, 7]] as const) {
    const { h1, h2 } = pairs(m, d, seed, 0.7);
    await gradCheck(
      [{ shape: [m, d], data: h1.flat() }, { shape: [m, d], data: h2.flat() }],
      (a, b) => dccaLoss(a, b, dccaOptions({ iters: 30 })),
      (a, b) => [dccaRef(rows(a, d), rows(b, d), 1e-3)],
      { maxChecks: 24, atol: 2e-3, rtol: 2e-2 },
    );
  }
});

gpuTest(
  "dcca at the default 20 iterations: finite loss and gradient on weakly related pairs",
  async () => {
    // noise 3: the smallest correlations are far below the iterations' reach; still finite
    const { h1, h2 } = pairs(64, 16, 8, 3);
    const a = Tensor.param(Float32Array.from(h1.flat()), [64, 16], "h1");
    const b = Tensor.param(Float32Array.from(h2.flat()), [64, 16], "h2");
    const l = scope(() => {
      const l = dccaLoss(a, b, dccaOptions());
      backward(l);
      return l;
    });
    const [loss, grad] = [await l.read(), await a.grad!.read()];
    for (const t of [l, a.grad!, b.grad!, a, b]) t.dispose();
    assertFinite(loss, "loss");
    assertFinite(grad, "gradient");
    const want = dccaRef(h1, h2, 1e-3);
    // under-converged small correlations are under-weighted: the GPU value is a bit above −Σρ
    assertOk(loss[0] >= want - 1e-3 && loss[0] < 0, `loss ${loss[0]} vs exact ${want}`);
  },
);

gpuTest("dcca refuses bad shapes and options, naming them", () => {
  scope(() => {
    const a = Tensor.zeros([4, 3]);
    assertThrows(
      () => dccaLoss(a, Tensor.zeros([4, 2]), dccaOptions()),
      /h1 \[4, 3\] and h2 \[4, 2\]/,
    );
    assertThrows(
      () => dccaLoss(Tensor.zeros([1, 3]), Tensor.zeros([1, 3]), dccaOptions()),
      /at least 2/,
    );
  });
  assertThrows(() => dccaOptions({ reg: 0 }), /'reg' must be > 0/);
  assertThrows(() => dccaOptions({ iters: 2.5 }), /'iters' must be an integer/);
  assertThrows(() => dccaOptions({ foo: 1 }), /unknown option 'foo'/);
});

gpuTest("fitCca: whitened canonical projections with the twin's correlations", () => {
  const { h1, h2 } = pairs(80, 5, 9, 0.6);
  const [m, d, reg] = [80, 5, 1e-3];
  const fit = fitCca(h1.flat(), h2.flat(), m, d, reg);
  // the twin L2-normalises rows first; fitCca takes the rows as given
  const want = canonicalCorrelationsRef(h1, h2, reg);
  assertEquals(fit.correlations.length, d);
  const unit = (rows: number[][]) => rows.map((r) => r.map((v) => v / Math.hypot(...r)));
  const fitUnit = fitCca(unit(h1).flat(), unit(h2).flat(), m, d, reg);
  assertAllClose(fitUnit.correlations, [...want].sort((a, b) => b - a), {
    atol: 1e-6,
    rtol: 1e-6,
  }, "correlations");
  // P1ᵀ Σ12 P2 = diag(ρ²), P1ᵀ (Σ11 + rI) P1 = diag(ρ)
  const centred = (rows: number[][]) => {
    const mu = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / m);
    return rows.map((r) => r.map((v, j) => v - mu[j]));
  };
  const [c1, c2] = [centred(h1), centred(h2)];
  const proj = (p: Float32Array, rows: number[][]) =>
    rows.map((r) =>
      Array.from({ length: d }, (_, k) => r.reduce((s, v, j) => s + v * p[j * d + k], 0))
    );
  const [z1, z2] = [proj(fit.text.proj, c1), proj(fit.image.proj, c2)];
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      const cross = z1.reduce((s, r, i) => s + r[a] * z2[i][b], 0) / (m - 1);
      const self = z1.reduce((s, r) => s + r[a] * r[b], 0) / (m - 1);
      const pa = fit.text.proj;
      const regTerm = reg * Array.from({ length: d }, (_, j) => pa[j * d + a] * pa[j * d + b])
        .reduce((s, v) => s + v, 0);
      const rho = fit.correlations[a];
      assertAllClose(
        [cross],
        [a === b ? rho * rho : 0],
        { atol: 2e-4, rtol: 1e-3 },
        `Σ12 ${a},${b}`,
      );
      assertAllClose(
        [self + regTerm],
        [a === b ? rho : 0],
        { atol: 2e-4, rtol: 1e-3 },
        `Σ11 ${a},${b}`,
      );
    }
  }
  assertThrows(() => fitCca([1, 2], [1, 2], 1, 2, reg), /at least 2/);
});

const TOY: TrainData = {
  train: toyDataset({ images: 96, seed: 1, name: "toy-train" }),
  val: toyDataset({ images: 48, seed: 2, name: "toy-val" }),
};

gpuTest(
  "training with --loss dcca: finite, far above chance, its CCA saved in the checkpoint",
  async () => {
    const dir = await Deno.makeTempDir();
    const out = await runTraining(smallConfig(dir, { loss: "dcca" }), {
      data: TOY,
      progress: quietProgress(),
    });
    // a non-finite loss, gradient or embedding would stop the run without a summary
    assertOk(out.summary, `dcca run failed: ${JSON.stringify(out)}`);
    const s = out.summary;
    // chance on 48 images / 96 texts: t2i R@1+5+10 ≈ 100·16/48, i2t about twice that: rsum ≈ 100
    assertOk(s.best!.rsum > 250, `dcca val rsum ${s.best!.rsum}`);
    const ckpt = await readCheckpoint(dir);
    assertEquals(ckpt.config.cca, true);
    assertEquals(ckpt.tensors["text.cca_proj"].shape.join("x"), "8x8");
    await Deno.remove(dir, { recursive: true });
  },
);
