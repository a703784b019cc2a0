/**
 * Elementwise ops (`kernels/elementwise.wgsl`) on 1 048 576 floats: add (the baseline), mul, ReLU
 * and GELU forward, and GELU forward + backward. Run: `deno bench -A bench/elementwise_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { backward, noGrad, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { add, gelu, mul, relu } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const n = 2 ** 20;
const a = Tensor.param(lcgValues(n, 1), [n]);
const b = Tensor.from(lcgValues(n, 2), [n]);
const group = `elementwise ${n}`;
const forward = (name: string, fn: () => Tensor, baseline = false) =>
  gpuBench({ name, group, baseline, reps: 8, work: () => noGrad(() => scope(() => void fn())) });
forward("add", () => add(a, b), true);
forward("mul", () => mul(a, b));
forward("relu", () => relu(a));
forward("gelu", () => gelu(a));
gpuBench({
  name: "gelu forward+backward",
  group,
  reps: 8,
  work: () => {
    scope(() => backward(sumAll(gelu(a))));
    zeroGrad([a]);
  },
});
