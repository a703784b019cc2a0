// NeuralNDCG (kernels/neuralndcg.wgsl): forward + backward, plain (P̂ materialised, allRank's
// way) vs fused (P̂ recomputed, O(n·iterations) memory), at 64 × 1000 and 1024 × 1000 lists ×
// items, with the `softmax` loss as the baseline of each group. The plain path at 1024 × 1000 needs
// ~16 GiB and is refused: the table notes print the message.
//
// Every case runs `ITERS` Sinkhorn iterations with tol 0 (default 10; time is linear in the
// iterations and the ratios barely move). allRank's default is 50 (n = 1000 never meets tol 1e-6,
// so it always runs 50): `NEURALSORT_BENCH_ITERS=50 deno bench -A bench/neuralndcg_bench.ts`.
//
// One group runs the lists of a batch-256 training step (256 × 256) at 50 iterations.
//
// One group stops early: 256 × 32 lists at τ = 30, allRank's tol 1e-6 and maxIter 50, where every
// list has converged by iteration 10, so the fused path's gate (kernels/sinkhorn.wgsl) turns the
// remaining launches into empty dispatches; beside it the same loss capped at 10 iterations (the
// same values, bit for bit: what stopping costs nothing would give). 8 calls per GPU wait.

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, type Tensor } from "../src/autodiff/tensor.ts";
import { neuralNdcgFused, neuralNdcgPlain } from "../src/losses/neuralndcg.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";
import {
  amortisedBench,
  listCases,
  NEURALSORT_N,
  NEURALSORT_OPTIONS,
  neuralSortReport,
  rankingLists,
} from "./util.ts";

await initGpu();

const N = NEURALSORT_N;
const OPTIONS = NEURALSORT_OPTIONS;
const report = neuralSortReport();

const fwdBwd = (fn: typeof neuralNdcgFused) => (s: Tensor, y: Tensor) =>
  scope(() => backward(fn(s, y, OPTIONS)));

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
  listCases(report, `fwd+bwd ${lists}x${N}`, lists, N, entries);
}

// The lists of a batch-256 training step (256 × 256), at allRank's 50 iterations (tol 0: all run).
{
  const inBatch = { ...OPTIONS, maxIter: 50 };
  listCases(report, "fwd+bwd 256x256, 50 iterations", 256, 256, [
    {
      name: "softmax",
      baseline: true,
      work: (s: Tensor, y: Tensor) => scope(() => backward(rankingLossTensor("softmax", s, y))),
    },
    {
      name: "neuralndcg fused",
      work: (s: Tensor, y: Tensor) => scope(() => backward(neuralNdcgFused(s, y, inBatch))),
    },
  ]);
}

// Every list converges early (see the header): the gate against a cap at the slowest list's count.
{
  const { scores, labels } = rankingLists(256, 32, 3);
  const converging = { ...OPTIONS, temperature: 30, tol: 1e-6, maxIter: 50 };
  const cases = [
    { name: "softmax 256x32", options: null },
    { name: "neuralndcg fused 256x32, maxIter 50 (stops at 10)", options: converging },
    { name: "neuralndcg fused 256x32, maxIter 10", options: { ...converging, maxIter: 10 } },
  ];
  for (const c of cases) {
    amortisedBench(report, {
      group: "fwd+bwd 256x32, τ=30, converged by iteration 10",
      name: c.name,
      baseline: c.options === null,
      reps: 8,
      work: 256,
      unit: "lists/s",
      n: 5,
      run: async (reps) => {
        for (let r = 0; r < reps; r++) {
          scope(() =>
            backward(
              c.options === null
                ? rankingLossTensor("softmax", scores, labels)
                : neuralNdcgFused(scores, labels, c.options),
            )
          );
          rt().submit();
        }
        await rt().sync();
        zeroGrad([scores]);
      },
    });
  }
}

// The plain path at 1024 × 1000 is refused before any allocation; record the message.
try {
  const { scores, labels } = rankingLists(1024, N, 1);
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
