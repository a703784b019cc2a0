/**
 * The stochastic NeuralNDCG (`kernels/gumbel.wgsl` + `src/losses/stochastic.ts`) on a training
 * shape, 128 × 256 (the image → text lists of the default batch: 128 images, 256 captions),
 * forward + backward with `NEURALSORT_BENCH_ITERS` Sinkhorn iterations (default 10, tol 0, as the
 * NeuralSort family's benches; time is linear in them): the deterministic `neuralndcg` (baseline)
 * against `stochastic: true` with 1, 4 and 32 draws (allRank's default `n_samples`), plus 1 draw
 * without `log_scores`; and the perturbation alone (32 draws, forward + backward) against a copy
 * of the same 32 × 128 × 256 values.
 *
 * Run: `deno bench -A bench/gumbel_bench.ts`.
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby, mul } from "../src/ops/elementwise.ts";
import { gumbelPerturb } from "../src/ops/gumbel.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";
import { listCases, NEURALSORT_ITERS, neuralSortReport, rankingLists } from "./util.ts";

await initGpu();
const report = neuralSortReport();
const [LISTS, N, DRAWS] = [128, 256, 32];
const ITERS = { maxIter: NEURALSORT_ITERS, tol: 0 };

const lossCase = (options: Record<string, unknown>) => (s: Tensor, y: Tensor) =>
  scope(() => void backward(rankingLossTensor("neuralndcg", s, y, { ...ITERS, ...options })));
const draws = (n: number) => ({ stochastic: true, n_samples: n, seed: 1 + n });

listCases(report, `neuralndcg fwd+bwd ${LISTS}x${N}`, LISTS, N, [
  { name: "deterministic", baseline: true, work: lossCase({}) },
  { name: "stochastic n_samples=1", work: lossCase(draws(1)) },
  {
    name: "stochastic n_samples=1 log_scores=false",
    work: lossCase({ ...draws(1), log_scores: false }),
  },
  { name: "stochastic n_samples=4", work: lossCase(draws(4)) },
  { name: `stochastic n_samples=${DRAWS}`, work: lossCase(draws(DRAWS)) },
]);

const { scores, labels } = rankingLists(LISTS, N, 3);
const weights = Tensor.full([DRAWS * LISTS, N], 1);
const perturbation = { samples: DRAWS, seed: 5, beta: 0.1, logScores: true };
const group = `gumbel perturbation ${DRAWS}x${LISTS}x${N}`;
Deno.bench({
  name: "copy (baseline)",
  group,
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    noGrad(() => scope(() => void axpby(1, weights, 0, weights)));
    await rt().sync();
  },
});
Deno.bench({
  name: "perturb forward",
  group,
  n: 5,
  warmup: 1,
  async fn() {
    noGrad(() => scope(() => void gumbelPerturb(scores, labels, perturbation)));
    await rt().sync();
  },
});
Deno.bench({
  name: "perturb forward+backward",
  group,
  n: 5,
  warmup: 1,
  async fn() {
    scope(() => backward(sumAll(mul(gumbelPerturb(scores, labels, perturbation), weights))));
    zeroGrad([scores]);
    await rt().sync();
  },
});
