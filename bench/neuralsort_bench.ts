// NeuralSort, Sinkhorn and NeuralNDCG (kernels/neuralsort.wgsl, kernels/sinkhorn.wgsl): the P̂
// kernel, Sinkhorn, and NeuralNDCG forward + backward, plain (P̂ materialised, allRank's way) vs
// fused (P̂ recomputed, O(n·iterations) memory), at 64 × 1000 and 1024 × 1000 lists × items, with
// the `softmax` loss as the baseline of each loss group. The plain path at 1024 × 1000 needs
// ~16 GiB and is refused: the table notes print the message.
//
// Every NeuralNDCG case runs `ITERS` Sinkhorn iterations with tol 0 (default 10, so the file takes
// about 3–4 minutes on llvmpipe; time is linear in the iterations and the ratios barely move).
// allRank's default is 50 (n = 1000 never meets tol 1e-6, so it always runs 50):
// `NEURALSORT_BENCH_ITERS=50 deno bench -A bench/neuralsort_bench.ts` (about 15 minutes).
// Deno's warm-up call of each case runs the same kernels on 2 lists (it compiles the pipelines),
// so only the measured calls are full size; each does one forward + backward and one GPU wait.

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import {
  neuralNdcgFused,
  type NeuralNdcgOptions,
  neuralNdcgPlain,
  neuralSort,
  sinkhorn,
} from "../src/ops/neuralsort.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";
import { amortisedBench, BenchReport, seededNormal, seededUniform } from "./util.ts";

await initGpu();

const ITERS = Number(Deno.env.get("NEURALSORT_BENCH_ITERS") ?? 10);
const N = 1000;
const report = new BenchReport(
  `NeuralSort / NeuralNDCG on llvmpipe (${ITERS} Sinkhorn iterations)`,
  "time ÷ baseline time",
).printOnUnload();

const OPTIONS: NeuralNdcgOptions = {
  temperature: 1,
  poweredRelevancies: true,
  k: 0,
  sinkhorn: true,
  tol: 0,
  maxIter: ITERS,
  transposed: false,
};

/** Seeded lists: N(0, 1) scores, labels 0…4 on ~20 % of the items, else 0. */
function batch(lists: number, seed: number) {
  const u = seededUniform(seed);
  const labels = new Float32Array(lists * N).map(() => u() < 0.2 ? Math.floor(u() * 5) : 0);
  return {
    scores: Tensor.param(seededNormal(lists * N, seed), [lists, N], `scores ${lists}x${N}`),
    labels: Tensor.from(labels, [lists, N], { label: `labels ${lists}x${N}` }),
  };
}

const small = batch(2, 99);

/** A case whose Deno warm-up call runs `work` on the 2-list batch (compiling every pipeline). */
function cases(
  group: string,
  lists: number,
  entries: { name: string; baseline?: boolean; work: (s: Tensor, y: Tensor) => void }[],
): void {
  const data = batch(lists, lists);
  for (const e of entries) {
    let warmed = false;
    amortisedBench(report, {
      group,
      name: `${e.name} ${group}`,
      baseline: e.baseline,
      reps: 1,
      work: lists,
      unit: "lists/s",
      n: 1,
      run: async () => {
        const { scores, labels } = warmed ? data : small;
        warmed = true;
        e.work(scores, labels);
        await rt().sync();
        zeroGrad([scores]);
      },
    });
  }
}

const fwdBwd = (fn: typeof neuralNdcgFused) => (s: Tensor, y: Tensor) =>
  scope(() => backward(fn(s, y, OPTIONS)));

// P̂ alone (32 lists: one [32, 1000, 1000] P̂ is 122 MiB, within a storage binding).
cases("P-hat 32x1000", 32, [
  {
    name: "plain neuralSort (P-hat written)",
    baseline: true,
    work: (s, y) => noGrad(() => neuralSort(s, y, { temperature: 1 }).dispose()),
  },
  {
    name: "fused prep (sort, abs sums, normalisers)",
    work: (s, y) => noGrad(() => neuralNdcgFused(s, y, { ...OPTIONS, sinkhorn: false }).dispose()),
  },
]);

// Sinkhorn forward alone: on a materialised P̂ vs the fused iterations (+ its prep and DCG).
cases("Sinkhorn 32x1000", 32, [
  {
    name: "plain sinkhorn",
    baseline: true,
    work: (s, y) =>
      noGrad(() =>
        scope(() => {
          sinkhorn(neuralSort(s, y, { temperature: 1 }), y, { tol: 0, maxIter: ITERS });
        })
      ),
  },
  {
    name: "fused NeuralNDCG forward",
    work: (s, y) => noGrad(() => neuralNdcgFused(s, y, OPTIONS).dispose()),
  },
]);

for (const lists of [64, 1024]) {
  const entries = [
    {
      name: "softmax",
      baseline: true,
      work: (s: Tensor, y: Tensor) => scope(() => backward(rankingLossTensor("softmax", s, y))),
    },
    { name: "neuralndcg fused", work: fwdBwd(neuralNdcgFused) },
  ];
  if (lists === 64) entries.push({ name: "neuralndcg plain", work: fwdBwd(neuralNdcgPlain) });
  cases(`fwd+bwd ${lists}x${N}`, lists, entries);
}

// The plain path at 1024 × 1000 is refused before any allocation; record the message.
try {
  const { scores, labels } = batch(1024, 1);
  try {
    neuralNdcgPlain(scores, labels, OPTIONS);
    report.notes.push("plain 1024x1000: unexpectedly accepted");
  } finally {
    scores.dispose();
    labels.dispose();
  }
} catch (error) {
  report.notes.push(`plain 1024x1000 refused: ${(error as Error).message}`);
}
