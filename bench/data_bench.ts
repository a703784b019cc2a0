/**
 * Data-layer benchmarks: the embedded default dataset end to end (render + featurise + split) and
 * the text featuriser (the image featuriser's kernel: bench/image_features_bench.ts).
 *
 * Run: `deno bench -A bench/data_bench.ts`.
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { generateDefaultDataset } from "../src/data/synthetic.ts";
import { featuriseTexts } from "../src/data/text_features.ts";

await initGpu();

Deno.bench({
  name: "default dataset: 2000 scenes × 5 captions, render + featurise + split",
  group: "default",
  n: 3,
  warmup: 1,
  fn: async () => {
    await generateDefaultDataset({ seed: 0 });
  },
});

const captions = Array.from(
  { length: 10000 },
  (_, i) => `a small red circle in the top left and a big blue star number ${i}`,
);
Deno.bench({
  name: "text features: 10000 captions → 1024 dims",
  group: "text features",
  n: 5,
  warmup: 1,
  fn: () => {
    featuriseTexts(captions);
  },
});
