/**
 * The image featuriser (`kernels/image_features.wgsl`): the GPU kernel vs the float64 CPU
 * reference, on the same 256 images of 64 × 64. Images per second = 256 / the reported time per
 * iteration. Run: `deno bench -A bench/image_features_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { computeImageFeatures } from "../src/data/image_features.ts";
import { imageFeaturesRef } from "../src/reference/image_features.ts";
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
