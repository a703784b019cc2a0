// The ranking losses' shared kernels (kernels/losses.wgsl): the label order (`sort_labels`) at
// 256 × 256 and 1024 × 1024, as a ratio against `softmax` forward + backward (each loss's own bench
// is bench/<loss>_bench.ts). Run: `deno bench -A bench/losses_bench.ts`.

import { initGpu } from "../src/gpu/runtime.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { sortLabels } from "../src/losses/launch.ts";
import { gpuBench, lossBenches, seededNormal } from "./util.ts";

await initGpu();

lossBenches([]);

for (const [n, reps] of [[256, 4], [1024, 1]]) {
  const s = Tensor.from(seededNormal(n * n, n), [n, n]);
  const y = Tensor.from(new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0)), [n, n]);
  gpuBench({
    name: `sort_labels ${n}x${n}`,
    group: `${n}x${n}`,
    reps,
    work: () => noGrad(() => scope(() => void sortLabels(s, y))),
  });
}
