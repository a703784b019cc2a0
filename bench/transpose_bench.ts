/**
 * Transpose (`kernels/transpose.wgsl`) of a 1024 × 1024 and a 4096 × 256 matrix (the similarity
 * matrix's other direction in training), against a copy of the same size (the baseline).
 * Run: `deno bench -A bench/transpose_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { copy } from "../src/ops/elementwise.ts";
import { transpose } from "../src/ops/transpose.ts";
import { gpuBench, lcgValues } from "./util.ts";

await initGpu();

for (const [rows, cols] of [[1024, 1024], [4096, 256]]) {
  const x = Tensor.from(lcgValues(rows * cols, rows), [rows, cols]);
  const group = `transpose ${rows}×${cols}`;
  gpuBench({
    name: `copy ${rows}×${cols}`,
    group,
    baseline: true,
    reps: 8,
    work: () => noGrad(() => scope(() => void copy(x))),
  });
  gpuBench({
    name: `transpose ${rows}×${cols}`,
    group,
    reps: 8,
    work: () => noGrad(() => scope(() => void transpose(x))),
  });
}
