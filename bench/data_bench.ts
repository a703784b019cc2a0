/**
 * Data-layer benchmarks: the embedded default dataset end to end (render + featurise + split), the
 * image featuriser (GPU kernel vs the float64 CPU reference, same 256 images of 64 × 64), and the
 * text featuriser. Images per second = 256 / the reported time per iteration.
 *
 * Run: `deno bench -A bench/data_bench.ts`.
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { generateDefaultDataset } from "../src/data/synthetic.ts";
import { computeImageFeatures } from "../src/data/image_features.ts";
import { imageFeaturesRef } from "../src/reference/image_features.ts";
import { featuriseTexts } from "../src/data/text_features.ts";
import { seededRandom } from "../src/util/random.ts";

await initGpu();

const COUNT = 256;
const SIZE = 64;
const random = seededRandom(1);
const pixels = Uint8Array.from(
  { length: COUNT * SIZE * SIZE * 4 },
  () => Math.floor(random() * 256),
);
await computeImageFeatures(pixels, COUNT); // compile the kernel outside the timings

Deno.bench({
  name: "default dataset: 2000 scenes × 5 captions, render + featurise + split",
  group: "default",
  n: 3,
  warmup: 1,
  fn: async () => {
    await generateDefaultDataset({ seed: 0 });
  },
});

Deno.bench({
  name: `image features GPU kernel: ${COUNT} images ${SIZE}×${SIZE} (incl. upload + readback)`,
  group: "image features",
  baseline: true,
  fn: async () => {
    await computeImageFeatures(pixels, COUNT);
  },
});

Deno.bench({
  name: `image features CPU reference (float64): ${COUNT} images ${SIZE}×${SIZE}`,
  group: "image features",
  n: 5,
  warmup: 1,
  fn: () => {
    imageFeaturesRef(pixels, COUNT, SIZE, 4);
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
