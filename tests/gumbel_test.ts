// The Gumbel perturbation (kernels/gumbel.wgsl, src/ops/gumbel.ts) and the stochastic NeuralNDCG
// built on it (src/losses/stochastic.ts) against their float64 twins (src/reference/gumbel.ts):
// values and gradients on random, padded and 1×1 lists, finite differences with fixed noise,
// masking = deleting, extreme scores, beta = 0 = deterministic, seeding, grouping of the draws,
// and training (per-step noise: reproducible and resumable).

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
  withBindingLimit,
} from "./util.ts";
import { BASE, fdGradOf, flat, lists, type Rows } from "./neuralndcg_fixtures.ts";
import { backward, noGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { gumbelPerturb, validMin } from "../src/ops/gumbel.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { rankingLoss, rankingLossTensor, rankingLossWithGrad } from "../src/losses/api.ts";
import { neuralNdcgDefinition, neuralNdcgFused } from "../src/losses/neuralndcg.ts";
import { drawsPerGroup, stepSeed, stochasticLoss } from "../src/losses/stochastic.ts";
import {
  gumbelOf,
  gumbelPerturbGradRef,
  gumbelPerturbRef,
  gumbelUniform,
  stochasticNeuralNdcgRef,
  validMinRef,
} from "../src/reference/gumbel.ts";
import { PRELUDE } from "../src/gpu/prelude.ts";
import { checkLoss, keyValueFlags } from "../src/cli/args.ts";
import { readSafetensors } from "../src/data/safetensors.ts";
import { runTraining } from "../src/train/run.ts";
import { RUN_FILES, runPath } from "../src/train/run_dir.ts";
import { quietProgress, smallConfig, toyDataset } from "./train_fixtures.ts";

type Draws = { samples: number; first?: number; seed: number; beta: number; logScores: boolean };

/** GPU perturbation and its gradient for upstream weights `w` (one readback each). */
async function perturbAndGrad(scores: Rows, labels: Rows, o: Draws, w: Float64Array) {
  const n = scores[0].length;
  const s = Tensor.param(flat(scores), [scores.length, n], "scores");
  const y = Tensor.fromRows(labels);
  const out = scope(() => {
    const p = gumbelPerturb(s, y, o);
    backward(sumAll(mul(p, Tensor.from(w, p.shape))));
    return noGrad(() => gumbelPerturb(s, y, o));
  });
  const values = await out.read();
  const grad = await s.grad!.read();
  [out, s.grad!, s, y].forEach((t) => t.dispose());
  return { values, grad };
}

const rowsOf = (w: Float64Array, n: number): number[][] =>
  Array.from({ length: w.length / n }, (_, r) => Array.from(w.subarray(r * n, (r + 1) * n)));

gpuTest("uniforms and Gumbel draws match the twin's hash bit for bit", async () => {
  // scores 0 (so m = 0), no log, beta 1: the output is the Gumbel draw itself
  const [count, n, samples] = [3, 37, 2];
  const scores = Array.from({ length: count }, () => new Array(n).fill(0));
  const labels = Array.from({ length: count }, () => new Array(n).fill(1));
  const o = { samples, first: 5, seed: 123, beta: 1, logScores: false };
  const { values } = await perturbAndGrad(scores, labels, o, new Float64Array(samples * count * n));
  const expected: number[] = [];
  for (let d = 0; d < samples; d++) {
    for (let l = 0; l < count; l++) {
      for (let i = 0; i < n; i++) expected.push(gumbelOf(gumbelUniform(123, 5 + d, l, i)));
    }
  }
  // float32 logs: G within a few ulps of [−3.2, 16.7]
  assertAllClose(values, expected, { atol: 2e-6, rtol: 2e-6 }, "Gumbel draws");
  // the uniforms are fine-grained and cover [0, 1)
  let lo = 1, hi = 0;
  for (let v = 0; v < 4096; v++) {
    const u = gumbelUniform(9, 0, 0, v);
    assertOk(u >= 0 && u < 1 && u * 2 ** 24 === Math.floor(u * 2 ** 24), `u = ${u}`);
    [lo, hi] = [Math.min(lo, u), Math.max(hi, u)];
  }
  assertOk(lo < 0.01 && hi > 0.99, `uniforms span [${lo}, ${hi}]`);
});

gpuTest("perturbation and its gradient match the twin (random, padded, 1×1, ties)", async () => {
  const cases: [string, Rows, Rows][] = [];
  for (const [count, n, seed] of [[1, 1, 1], [3, 7, 2], [4, 13, 3], [2, 41, 4]]) {
    const { scores, labels } = lists(count, n, seed, { padding: 0.25 });
    cases.push([`${count}x${n}`, scores, labels]);
  }
  // positive minimum, tied minimum in two lists, all padding in one list
  cases.push(["positive min", [[3, 1.5, 2], [4, 1.5, 9]], [[1, 0, 2], [0, 1, 1]]]);
  cases.push(["padded list", [[-1, 2, 0.5], [7, 8, 9]], [[1, 0, -1], [-1, -1, -1]]]);
  for (const [name, scores, labels] of cases) {
    for (const logScores of [true, false]) {
      for (const beta of [0.1, 1]) {
        const n = scores[0].length;
        const o = { samples: 3, first: 1, seed: 77, beta, logScores };
        const w = randn(o.samples * scores.length * n, 5);
        const { values, grad } = await perturbAndGrad(scores, labels, o, w);
        const tag = `${name} log=${logScores} beta=${beta}`;
        const ref = gumbelPerturbRef(scores, labels, o).flat();
        assertAllClose(values, ref, { atol: 1e-5, rtol: 1e-5 }, `${tag} values`);
        const refGrad = gumbelPerturbGradRef(scores, labels, rowsOf(w, n), o).flat();
        const top = Math.max(1, ...refGrad.map(Math.abs));
        assertAllClose(grad, refGrad, { atol: 1e-5 * top, rtol: 1e-4 }, `${tag} gradient`);
      }
    }
  }
});

gpuTest("perturbation gradient matches finite differences (no ties at the minimum)", async () => {
  for (const [m, logScores] of [[-1.5, true], [0.7, true], [-0.4, false], [2, false]] as const) {
    const { scores, labels } = lists(3, 6, 11, { padding: 0.2 });
    // the batch minimum: one valid item set to m below the rest
    labels[1][2] = 1;
    scores[1][2] = m;
    scores.forEach((row, l) =>
      row.forEach((_, i) => {
        if (!(l === 1 && i === 2)) scores[l][i] = Math.fround(m + 0.3 + Math.abs(scores[l][i]));
      })
    );
    const o = { samples: 2, seed: 3, beta: 0.5, logScores };
    await gradCheck(
      [{ shape: [3, 6], data: flat(scores) }, { shape: [3, 6], data: flat(labels), grad: false }],
      (s, y) => gumbelPerturb(s, y, o),
      (s) => gumbelPerturbRef(rowsOf(s, 6), labels, o).flat(),
      { h: 1e-5, atol: 2e-4, rtol: 2e-3 },
    );
  }
});

gpuTest("the batch minimum ignores padding; no valid item gives [0, 0]", async () => {
  const scores = [[5, -9, 3], [4, 2, -9]];
  const labels = [[0, -1, 2], [1, 0, -1]];
  const s = Tensor.fromRows(scores);
  const y = Tensor.fromRows(labels);
  const none = Tensor.fromRows([[-1, -1, -1], [-1, -1, -1]]);
  const [a, b] = noGrad(() => [validMin(s, y), validMin(s, none)]);
  assertEquals(Array.from(await a.read()), [2, 1]);
  assertEquals(Array.from(await b.read()), [0, 0]);
  assertEquals(validMinRef(scores, labels), { min: 2, ties: 1 });
  [s, y, none, a, b].forEach((t) => t.dispose());
});

// ---------------------------------------------------------------------------------------------
// The stochastic loss

const STOCH = { stochastic: true, n_samples: 4, beta: 0.1, log_scores: true, seed: 99 };

const refOptions = (opts: Record<string, unknown>, transposed = false) => ({
  ...BASE,
  transposed,
  samples: Number(opts.n_samples ?? 32),
  seed: Number(opts.seed),
  beta: Number(opts.beta ?? 0.1),
  logScores: opts.log_scores !== false,
});

gpuTest("stochastic loss matches the twin with the same seed (random, padded, 1×1)", async () => {
  for (const [name, transposed] of [["neuralndcg", false], ["neuralndcg_transposed", true]]) {
    for (const [count, n, seed] of [[1, 1, 1], [3, 7, 2], [4, 13, 3], [2, 30, 4]]) {
      for (const extra of [{}, { log_scores: false, beta: 0.5 }]) {
        const { scores, labels } = lists(count, n, seed * 13, { padding: 0.25 });
        const opts = { ...STOCH, ...extra };
        const gpu = await rankingLoss(name as string, scores, labels, opts);
        const ref = stochasticNeuralNdcgRef(
          scores,
          labels,
          refOptions(opts, transposed as boolean),
        );
        // a mean of NDCGs in [0, 1]: float32 error ~1e-6·n, as the deterministic loss
        assertAllClose([gpu], [ref], { atol: 2e-6 * n + 1e-6 }, `${name} ${count}x${n}`);
      }
    }
  }
});

gpuTest("stochastic loss gradient matches finite differences with fixed noise", async () => {
  for (const extra of [{}, { log_scores: false, beta: 0.3 }]) {
    const { scores, labels } = lists(3, 6, 21, { padding: 0.2 });
    labels[0][0] = 2; // every list has a relevant item
    labels[1][1] = 1;
    labels[2][3] = 3;
    const opts = { ...STOCH, ...extra, n_samples: 3 };
    const o = refOptions(opts);
    const { grad } = await rankingLossWithGrad("neuralndcg", scores, labels, opts);
    // the noise depends on the seed only: the twin with the same seed has fixed noise
    const fd = fdGradOf((s) => stochasticNeuralNdcgRef(s, labels, o), scores);
    const top = Math.max(...fd.map(Math.abs));
    assertAllClose(grad.flat(), fd, { atol: 3e-3 * top + 1e-5, rtol: 3e-3 }, JSON.stringify(extra));
    labels.forEach((row, l) => row.forEach((y, i) => y < 0 && assertEquals(grad[l][i], 0)));
  }
});

gpuTest("masking an item equals deleting it (loss and gradient, same seed)", async () => {
  const compact = {
    scores: [[0.3, -1.2, 2.5, 0.9], [1.1, 0.2, -0.4, 0.6]],
    labels: [[1, 0, 2, 0], [0, 1, 0, 3]],
  };
  // padding inserted anywhere (and a wider row), with scores that would be the batch minimum
  const padded = {
    scores: [[-50, 0.3, -1.2, 7, 2.5, 0.9], [1.1, -50, 0.2, -0.4, 0.6, -50]],
    labels: [[-1, 1, 0, -1, 2, 0], [0, -1, 1, 0, 3, -1]],
  };
  for (const extra of [{}, { log_scores: false, beta: 1 }]) {
    const opts = { ...STOCH, ...extra };
    const a = await rankingLossWithGrad("neuralndcg", compact.scores, compact.labels, opts);
    const b = await rankingLossWithGrad("neuralndcg", padded.scores, padded.labels, opts);
    assertAllClose([b.loss], [a.loss], { atol: 1e-6 }, "loss");
    const kept = b.grad.map((row, l) => row.filter((_, i) => padded.labels[l][i] >= 0));
    assertAllClose(kept.flat(), a.grad.flat(), { atol: 1e-6, rtol: 1e-5 }, "gradient");
    b.grad.forEach((row, l) =>
      row.forEach((g, i) => padded.labels[l][i] < 0 && assertEquals(g, 0))
    );
  }
});

gpuTest("extreme scores give a finite loss and gradient", async () => {
  const big = PRELUDE.F32_MAX;
  const cases: Rows[] = [
    [[1e30, -1e30, 0, 5], [3, -1e30, 1e30, 2]],
    [[big, -big, 0, 1], [-big, big, 2, -3]],
    [[1e-30, -1e-30, 0, 0], [0, 0, 0, 0]],
  ];
  const labels = [[1, 0, 2, -1], [0, 3, 1, 0]];
  for (const scores of cases) {
    for (const extra of [{}, { log_scores: false }, { beta: 1e30 }]) {
      const r = await rankingLossWithGrad("neuralndcg", scores, labels, { ...STOCH, ...extra });
      assertFinite([r.loss], `loss ${JSON.stringify(extra)}`);
      assertFinite(r.grad.flat(), `gradient ${JSON.stringify(extra)}`);
    }
  }
});

gpuTest("beta 0 without log_scores equals the deterministic loss", async () => {
  for (const [count, n, seed] of [[1, 1, 1], [3, 9, 2], [2, 40, 3]]) {
    const { scores, labels } = lists(count, n, seed, { padding: 0.2 });
    const det = await rankingLossWithGrad("neuralndcg", scores, labels, {});
    const sto = await rankingLossWithGrad("neuralndcg", scores, labels, {
      ...STOCH,
      beta: 0,
      log_scores: false,
    });
    // NeuralSort is shift-invariant: only the float32 rounding of s + |m| differs
    assertAllClose([sto.loss], [det.loss], { atol: 1e-5 }, `loss ${count}x${n}`);
    const top = Math.max(1e-3, ...det.grad.flat().map(Math.abs));
    assertAllClose(sto.grad.flat(), det.grad.flat(), { atol: 2e-3 * top }, `grad ${count}x${n}`);
  }
});

gpuTest("same seed → same loss; another seed, or seed 0 twice → different", async () => {
  const { scores, labels } = lists(4, 12, 8, { padding: 0.1 });
  const run = (opts: Record<string, unknown>) => rankingLoss("neuralndcg", scores, labels, opts);
  const a = await run(STOCH);
  assertEquals(await run(STOCH), a);
  assertOk(await run({ ...STOCH, seed: 100 }) !== a, "seed 100 differs from 99");
  const free = { ...STOCH, seed: 0 };
  assertOk(await run(free) !== await run(free), "seed 0: a new stream each call");
  // the trainer's per-step seeds: reproducible per step, different across steps
  const step = (s: number) => neuralNdcgDefinition.stepOptions!(neuralNdcgDefinition.defaults, s);
  assertEquals(step(5), step(5));
  assertEquals(step(5).seed, neuralNdcgDefinition.defaults.seed); // deterministic: unchanged
  const on = { ...neuralNdcgDefinition.defaults, stochastic: true };
  const seeds = [1, 2, 3].map((s) => neuralNdcgDefinition.stepOptions!(on, s).seed);
  assertEquals(new Set(seeds).size, 3);
  assertEquals(seeds[0], stepSeed(0, 1));
});

gpuTest("the grouping of draws does not change the loss or gradient", async () => {
  const { scores, labels } = lists(3, 10, 31, { padding: 0.2 });
  const o = { samples: 5, beta: 0.2, logScores: true, seed: 4 };
  const det = (s: Tensor, y: Tensor) => neuralNdcgFused(s, y, BASE);
  const results: { loss: number; grad: Float32Array }[] = [];
  for (const budget of [1, 1e12]) {
    const s = Tensor.param(flat(scores), [3, 10], "scores");
    const y = Tensor.fromRows(labels);
    const loss = scope(() => {
      const l = stochasticLoss("neuralndcg", s, y, o, det, 1, budget);
      backward(l);
      return l;
    });
    results.push({ loss: await loss.item(), grad: await s.grad!.read() });
    [loss, s.grad!, s, y].forEach((t) => t.dispose());
  }
  assertAllClose([results[0].loss], [results[1].loss], { atol: 1e-6 }, "loss");
  assertAllClose(results[0].grad, results[1].grad, { atol: 1e-6, rtol: 1e-5 }, "gradient");
});

gpuTest("bad stochastic options are refused, naming the option", async () => {
  const s = [[1, 2]];
  const y = [[1, 0]];
  const bad = async (opts: Record<string, unknown>, pattern: RegExp) => {
    let message = "";
    try {
      await rankingLoss("neuralndcg", s, y, { stochastic: true, ...opts });
    } catch (e) {
      message = (e as Error).message;
    }
    assertOk(pattern.test(message), `${JSON.stringify(opts)}: ${message}`);
  };
  await bad({ n_samples: 0 }, /option 'n_samples' must be an integer ≥ 1/);
  await bad({ n_samples: 2.5 }, /option 'n_samples'/);
  await bad({ beta: -0.1 }, /option 'beta' must be ≥ 0/);
  await bad({ seed: -1 }, /option 'seed' must be a u32/);
  await bad({ log_scores: "yes" }, /option 'log_scores' must be a boolean/);
  scope(() =>
    assertThrows(
      () => gumbelPerturb(Tensor.fromRows([[1]]), Tensor.fromRows([[1, 0]]), STOCH_OPS),
      /gumbelPerturb: labels \[1, 2\] do not match scores \[1, 1\]/,
    )
  );
});

const STOCH_OPS = { samples: 1, seed: 1, beta: 0.1, logScores: true };

gpuTest(
  "stochastic training is reproducible per seed, resumes exactly, and the seed matters",
  async () => {
    const data = {
      train: toyDataset({ images: 32, seed: 1, name: "toy-train" }),
      val: toyDataset({ images: 16, seed: 2, name: "toy-val" }),
    };
    const lossOptions = { stochastic: true, n_samples: 2, maxIter: 10 };
    const config = (dir: string, options: Record<string, unknown> = lossOptions) =>
      smallConfig(dir, { loss: "neuralndcg", lossOptions: options, epochs: 2 });
    const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
    const weights = async (dir: string) =>
      (await readSafetensors(runPath(dir, RUN_FILES.checkpoint))).tensors["text.W1"].data;
    const quiet = quietProgress();
    await runTraining(config(dirs[0]), { data, progress: quiet });
    let steps = 0;
    // 2 steps per epoch: stop after 3, mid-epoch 2, then resume
    const cut = await runTraining(config(dirs[1]), {
      data,
      progress: quiet,
      interrupted: () => ++steps === 4,
    });
    assertEquals(cut.interrupted, true);
    await runTraining(config(dirs[1]), { data, progress: quiet, resume: true });
    await runTraining(config(dirs[2], { ...lossOptions, seed: 5 }), { data, progress: quiet });
    const [a, b, c] = await Promise.all(dirs.map(weights));
    assertFinite(a, "weights");
    assertAllClose(b, a, { atol: 0, rtol: 0 }, "resumed vs uninterrupted");
    assertOk(a.some((v, i) => v !== c[i]), "another noise seed trains differently");
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  },
);

Deno.test("the CLI's --loss-opt values reach the stochastic options with their types", () => {
  const options = keyValueFlags("loss-opt", ["stochastic=true", "n_samples=8", "log_scores=false"]);
  assertEquals(options, { stochastic: true, n_samples: 8, log_scores: false });
  checkLoss("neuralndcg", options);
  checkLoss("neuralndcg_transposed", { ...options, beta: 0.5, seed: 3 });
  assertThrows(
    () => checkLoss("neuralndcg", { n_samples: "many" }),
    /'n_samples' must be a number/,
  );
});

gpuTest(
  "a draw over one storage binding is refused, naming the option; groups fit the limit",
  async () => {
    const { scores, labels } = lists(4, 64, 5);
    const s = Tensor.param(flat(scores), [4, 64], "scores");
    const y = Tensor.fromRows(labels);
    await withBindingLimit(512, () =>
      assertThrows(
        () => scope(() => rankingLossTensor("neuralndcg", s, y, STOCH)),
        /stochastic\): one draw of 4 × 64 scores needs 1\.0 KiB, over one storage binding of 512 B; use fewer lists or stochastic=false/,
      ));
    // with 2.5 draws' worth per binding, groups hold 2 draws
    assertEquals(await withBindingLimit(2560, () => drawsPerGroup(4, 64, 1, 8)), 2);
    assertEquals(drawsPerGroup(4, 64, 1e6, 8, 3e6), 3);
    assertEquals(drawsPerGroup(4, 64, 1e9, 8), 1);
    [s, y].forEach((t) => t.dispose());
  },
);
