/**
 * AdamW (`kernels/adamw.wgsl`) on the default model's parameter shapes (two heads, 1024 → 512 →
 * 256 and 312 → 512 → 256): one step, and one step with global-norm clipping (`clip_scale`,
 * which sums the squared gradients first), fused (all parameters in one update dispatch, the
 * default) and unfused. Run: `deno bench -A bench/adamw_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

const SHAPES = [[1024, 512], [512], [512, 256], [256], [312, 512], [512], [512, 256], [256]];
const params = SHAPES.map((shape, i) => {
  const size = shape.reduce((a, b) => a * b, 1);
  const p = Tensor.param(lcgValues(size, i + 1), shape);
  p.grad = Tensor.param(lcgValues(size, i + 100), shape);
  return p;
});
const elements = params.reduce((a, p) => a + p.size, 0);
const group = `AdamW ${(elements / 1e6).toFixed(2)}M parameters`;
const plain = new AdamW(params, { lr: 1e-3 });
const clipped = new AdamW(params, { lr: 1e-3, maxGradNorm: 1 });
const unfused = new AdamW(params, { lr: 1e-3, fused: false });
gpuBench({ name: "adamw step", group, baseline: true, reps: 4, work: () => plain.step() });
gpuBench({ name: "adamw step, clipped", group, reps: 4, work: () => clipped.step() });
gpuBench({
  name: "adamw step, unfused (a dispatch per parameter)",
  group,
  reps: 4,
  work: () => unfused.step(),
});
