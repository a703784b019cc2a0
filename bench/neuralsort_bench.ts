// NeuralSort (kernels/neuralsort.wgsl): P̂ of 32 × 1000 lists × items written as a matrix (the
// plain path) vs the fused path's preparation (sort, abs sums, normalisers; kernels/neuralndcg.wgsl
// runs on it), which never writes P̂. Run: `deno bench -A bench/neuralsort_bench.ts`.

import { initGpu } from "../src/gpu/runtime.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { neuralSort } from "../src/ops/neuralsort.ts";
import { neuralNdcgFused } from "../src/losses/neuralndcg.ts";
import { listCases, NEURALSORT_N, NEURALSORT_OPTIONS, neuralSortReport } from "./util.ts";

await initGpu();

const N = NEURALSORT_N;
const OPTIONS = NEURALSORT_OPTIONS;
const report = neuralSortReport();

// P̂ alone (32 lists: one [32, 1000, 1000] P̂ is 122 MiB, within a storage binding).
listCases(report, "P-hat 32x1000", 32, N, [
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
