/**
 * The stochastic NeuralNDCG (`kernels/gumbel.wgsl` + `src/losses/stochastic.ts`) on a training
 * shape, 256 × 256 (batch 256: each text's list of 256 images), forward + backward with allRank's
 * options (50 Sinkhorn iterations, tol 1e-6): the deterministic `neuralndcg` (baseline) against
 * `stochastic: true` with 1, 4 and 32 draws (allRank's default `n_samples`), and the perturbation
 * alone (32 draws, forward + backward) against a copy of the same 32 × 256 × 256 values.
 *
 * Run: `deno bench -A bench/gumbel_bench.ts` (the 32-draw case takes ~30 s per call here).
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
import { listCases, neuralSortReport, rankingLists } from "./util.ts";

await initGpu();
const report = neuralSortReport();
const [LISTS, N, DRAWS] = [256, 256, 32];

const lossCase = (samples: number) => (s: Tensor, y: Tensor) =>
  scope(() => {
    const options = samples === 0
      ? {}
      : { stochastic: true, n_samples: samples, seed: 1 + samples };
    backward(rankingLossTensor("neuralndcg", s, y, options));
  });

listCases(report, `neuralndcg fwd+bwd ${LISTS}x${N}, 50 iterations`, LISTS, N, [
  { name: "deterministic", baseline: true, work: lossCase(0) },
  { name: "stochastic n_samples=1", work: lossCase(1) },
  { name: "stochastic n_samples=4", work: lossCase(4) },
  { name: `stochastic n_samples=${DRAWS}`, work: lossCase(DRAWS) },
]);

const { scores, labels } = rankingLists(LISTS, N, 3);
const weights = Tensor.full([DRAWS * LISTS, N], 1);
const draws = { samples: DRAWS, seed: 5, beta: 0.1, logScores: true };
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
    noGrad(() => scope(() => void gumbelPerturb(scores, labels, draws)));
    await rt().sync();
  },
});
Deno.bench({
  name: "perturb forward+backward",
  group,
  n: 5,
  warmup: 1,
  async fn() {
    scope(() => backward(sumAll(mul(gumbelPerturb(scores, labels, draws), weights))));
    zeroGrad([scores]);
    await rt().sync();
  },
});
