/**
 * Row gather (`kernels/gather.wgsl`): a training batch of 512 rows of 1024 floats from 8000
 * (`gatherRows`), and its adjoint, the scatter-add of the gradient rows (forward + backward).
 * Run: `deno bench -A bench/gather_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { gatherRows } from "../src/ops/gather.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const [rows, cols, batch] = [8000, 1024, 512];
const src = Tensor.param(lcgValues(rows * cols, 1), [rows, cols]);
const index = Array.from({ length: batch }, (_, i) => (i * 7919) % rows);
const group = `gather ${batch} of ${rows}×${cols}`;
gpuBench({
  name: "gatherRows forward",
  group,
  baseline: true,
  reps: 8,
  work: () => noGrad(() => scope(() => void gatherRows(src, index))),
});
gpuBench({
  name: "gatherRows forward+backward (scatter-add)",
  group,
  reps: 8,
  work: () => {
    scope(() => backward(sumAll(gatherRows(src, index))));
    zeroGrad([src]);
  },
});
