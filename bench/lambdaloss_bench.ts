// The loss `lambdaloss` (kernels/lambdaloss.wgsl): forward + backward at (lists × items) 256 × 256 and
// 1024 × 1024 as ratios against `softmax` (each size one group; see lossBenches in ./util.ts).
// Run: `deno bench -A bench/lambdaloss_bench.ts`.

import { initGpu } from "../src/gpu/runtime.ts";
import { lossBenches } from "./util.ts";

await initGpu();

// ndcgLoss1 is dense (a log for every pair): one timed call at 1024.
lossBenches(
  [{ name: "lambdaloss", options: {} }, { name: "lambdaloss", options: { scheme: "ndcgLoss1" } }],
  (c) => c.options.scheme === "ndcgLoss1",
);
