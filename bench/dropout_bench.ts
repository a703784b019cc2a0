/**
 * Seeded dropout (`kernels/dropout.wgsl`, p = 0.1) on the reranker's activations, 12 800 × 128:
 * forward, and forward + backward (the mask recomputed, never stored), against a copy of the same
 * tensor (`axpby`, the elementwise baseline). Run: `deno bench -A bench/dropout_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby } from "../src/ops/elementwise.ts";
import { dropout } from "../src/ops/dropout.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const [rows, cols] = [12800, 128];
const x = Tensor.param(lcgValues(rows * cols, 1), [rows, cols]);
const group = `dropout ${rows}×${cols}`;
const opts = { seed: 7, step: 1 };
gpuBench({
  name: "axpby (baseline)",
  group,
  baseline: true,
  reps: 8,
  work: () => noGrad(() => scope(() => void axpby(1, x, 0, x))),
});
gpuBench({
  name: "dropout forward",
  group,
  reps: 8,
  work: () => noGrad(() => scope(() => void dropout(x, 0.1, opts))),
});
gpuBench({
  name: "dropout forward+backward",
  group,
  reps: 8,
  work: () => {
    scope(() => backward(sumAll(dropout(x, 0.1, opts))));
    zeroGrad([x]);
  },
});
