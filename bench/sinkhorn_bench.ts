// Sinkhorn (kernels/sinkhorn.wgsl): the forward of `sinkhorn` on a materialised 32 × 1000 × 1000
// P̂ vs the fused NeuralNDCG forward, whose Sinkhorn iterations recompute P̂ (plus its preparation
// and DCG). `NEURALSORT_BENCH_ITERS` iterations with tol 0 (default 10).
// Run: `deno bench -A bench/sinkhorn_bench.ts`.

import { initGpu } from "../src/gpu/runtime.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { scope } from "../src/autodiff/tensor.ts";
import { neuralSort } from "../src/ops/neuralsort.ts";
import { sinkhorn } from "../src/ops/sinkhorn.ts";
import { neuralNdcgFused, type NeuralNdcgOptions } from "../src/losses/neuralndcg.ts";
import { BenchReport, listCases } from "./util.ts";

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

listCases(report, "Sinkhorn 32x1000", 32, N, [
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
