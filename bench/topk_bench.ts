/**
 * Top-k retrieval (`kernels/topk.wgsl`, on the score blocks of `src/ops/retrieval.ts`): k = 10 on
 * 5000 texts × 1000 images and on 1000 texts × 100 000 images (a 205 MB gallery, chunked); the
 * evaluation of the same data is in `bench/retrieval_bench.ts`. Run: `deno bench -A bench/topk_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { topK } from "../src/ops/topk.ts";
import { amortisedBench, BenchReport, retrievalCollection } from "./util.ts";

await initGpu();
const report = new BenchReport("top-k retrieval").printOnUnload();
const DIM = 512;

for (const [numTexts, numImages, n] of [[5000, 1000, 2], [1000, 100_000, 1]]) {
  const data = retrievalCollection(numTexts, numImages, numImages, DIM);
  const group = `${numTexts} texts × ${numImages} images, ${DIM}-d`;
  const common = { group, reps: 1, work: numTexts, unit: "queries/s", n };
  amortisedBench(report, {
    ...common,
    name: `topK k=10 ${group} (texts query images)`,
    baseline: true,
    run: async () => {
      await topK(data.texts, data.images, 10, { dim: DIM });
    },
  });
}
