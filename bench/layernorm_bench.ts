/**
 * Layer norm (`kernels/layernorm.wgsl`) at the reranker's sizes, 12 800 × 64 and 102 400 × 64
 * (256 × 50 and 1024 × 100 items of d_model 64): forward, and forward + backward (dx, dγ, dβ).
 *
 * Run: `deno bench -A bench/layernorm_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

for (
  const { rows, dModel, reps } of [{ rows: 12800, dModel: 64, reps: 4 }, {
    rows: 102400,
    dModel: 64,
    reps: 1,
  }]
) {
  const x = Tensor.param(lcgValues(rows * dModel, 1), [rows, dModel]);
  const gamma = Tensor.param(lcgValues(dModel, 4), [dModel]);
  const beta = Tensor.param(lcgValues(dModel, 5), [dModel]);
  const group = `layerNorm ${rows}×${dModel}`;
  gpuBench({
    name: `layerNorm forward ${rows}×${dModel}`,
    group,
    baseline: true,
    reps,
    work: () => noGrad(() => scope(() => void layerNorm(x, gamma, beta))),
  });
  gpuBench({
    name: `layerNorm forward+backward ${rows}×${dModel}`,
    group,
    reps,
    work: () => {
      scope(() => backward(sumAll(layerNorm(x, gamma, beta))));
      zeroGrad([x, gamma, beta]);
    },
  });
}
