// The loss `hinge` (kernels/hinge.wgsl): forward + backward at (lists × items) 256 × 256 and
// 1024 × 1024 as ratios against `softmax` (each size one group; see lossBenches in ./util.ts).
// Run: `deno bench -A bench/hinge_bench.ts`.

import { initGpu } from "../src/gpu/runtime.ts";
import { lossBenches } from "./util.ts";

await initGpu();

lossBenches([{ name: "hinge", options: {} }, { name: "hinge", options: { maxViolation: true } }]);
