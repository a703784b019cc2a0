/**
 * Reductions and row normalisations (`kernels/reduce.wgsl`) on a 1024 × 1024 matrix: row sums (the
 * baseline), column sums, the full sum, row log-sum-exp and softmax, and row L2 normalisation
 * forward + backward. Run: `deno bench -A bench/reduce_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { colSum, l2Normalize, logSumExp, rowSum, softmax, sumAll } from "../src/ops/reduce.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const n = 1024;
const x = Tensor.param(lcgValues(n * n, 1), [n, n]);
const group = `reduce ${n}×${n}`;
const forward = (name: string, fn: () => Tensor, baseline = false) =>
  gpuBench({ name, group, baseline, reps: 4, work: () => noGrad(() => scope(() => void fn())) });
forward("rowSum", () => rowSum(x), true);
forward("colSum", () => colSum(x));
forward("sumAll", () => sumAll(x));
forward("logSumExp", () => logSumExp(x));
forward("softmax", () => softmax(x));
gpuBench({
  name: "l2Normalize forward+backward",
  group,
  reps: 4,
  work: () => {
    scope(() => backward(sumAll(l2Normalize(x))));
    zeroGrad([x]);
  },
});
