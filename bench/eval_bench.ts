/**
 * Retrieval evaluation benchmarks (`kernels/retrieval.wgsl`, `kernels/topk.wgsl`):
 *
 * - the block kernels (`scores`, `scores_t`) against the project's matmul (A·Bᵀ) on one
 *   1024 × 1024 × 512 block of cosines: why evaluation has its own score kernel;
 * - `evaluateRetrieval` (both directions, one sweep) on 5000 texts × 1000 images and on
 *   1000 texts × 100 000 images (a 205 MB gallery: more than one GPU buffer, so chunked);
 * - `topK` (k = 10) on the same two shapes.
 *
 * Every call records the whole evaluation and waits once (its one readback). Throughput is in text
 * queries per second over the full image gallery; the image → text direction comes from the same
 * score sweep. Run: `deno bench -A bench/eval_bench.ts` (under ~3 minutes here).
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { matmulInto } from "../src/ops/matmul.ts";
import { asMatrix, ChunkRows, recordScores } from "../src/eval/scores.ts";
import { evaluateRetrieval } from "../src/eval/retrieval.ts";
import { topK } from "../src/eval/topk.ts";
import { amortisedBench, BenchReport, seededNormal } from "./util.ts";

await initGpu();
const report = new BenchReport("retrieval evaluation").printOnUnload();
const DIM = 512;

/** Images and their captions: caption t is a noisy copy of image `t * stride` (others: distractors). */
function collection(numTexts: number, numImages: number, seed: number) {
  const images = seededNormal(numImages * DIM, seed);
  const noise = seededNormal(numTexts * DIM, seed + 1, 1.5);
  const stride = Math.floor(numImages / Math.min(numTexts, numImages));
  const textToImage = Int32Array.from(
    { length: numTexts },
    (_, t) => (t % Math.min(numTexts, numImages)) * stride,
  );
  const texts = new Float32Array(numTexts * DIM);
  for (let t = 0; t < numTexts; t++) {
    for (let k = 0; k < DIM; k++) {
      texts[t * DIM + k] = images[textToImage[t] * DIM + k] + noise[t * DIM + k];
    }
  }
  return { texts, images, textToImage, textDim: DIM, imageDim: DIM };
}

// 1. One block of scores: the block kernels vs the general matmul.
{
  const n = 1024;
  const a = seededNormal(n * DIM, 1);
  const b = seededNormal(n * DIM, 2);
  const ga = new ChunkRows(asMatrix("bench", "gallery", a, DIM), n, true);
  const qb = new ChunkRows(asMatrix("bench", "queries", b, DIM), n, true);
  ga.load(0, n);
  qb.load(0, n);
  const out = rt().pool.acquire(n * n * 4);
  const ta = Tensor.from(a, [n, DIM]);
  const tb = Tensor.from(b, [n, DIM]);
  const tc = new Tensor([n, n]);
  const group = `scores ${n}×${n}×${DIM}`;
  const common = { group, reps: 2, work: 2 * n * n * DIM, unit: "GFLOP/s", scale: 1e9 };
  amortisedBench(report, {
    ...common,
    name: "matmul A·Bᵀ (src/ops/matmul.ts)",
    baseline: true,
    run: async (reps) => {
      for (let r = 0; r < reps; r++) matmulInto(tc, ta, tb, { transB: true });
      await rt().sync();
    },
  });
  for (const entry of ["scores", "scores_t"] as const) {
    amortisedBench(report, {
      ...common,
      name: `retrieval.wgsl:${entry}`,
      run: async (reps) => {
        for (let r = 0; r < reps; r++) recordScores(ga, qb, DIM, out, entry);
        await rt().sync();
      },
    });
  }
}

// 2. Whole evaluations and top-k.
for (const [numTexts, numImages, n] of [[5000, 1000, 2], [1000, 100_000, 1]]) {
  const data = collection(numTexts, numImages, numImages);
  const group = `${numTexts} texts × ${numImages} images, ${DIM}-d`;
  const common = { group, reps: 1, work: numTexts, unit: "queries/s", n };
  amortisedBench(report, {
    ...common,
    name: `evaluateRetrieval ${group} (t2i + i2t)`,
    baseline: true,
    run: async () => {
      const m = await evaluateRetrieval(data);
      if (!report.notes.some((note) => note.startsWith(group))) {
        report.notes.push(
          `${group}: t2i R@1 ${m.t2i["R@1"].toFixed(1)}, i2t R@1 ${m.i2t["R@1"].toFixed(1)}, ` +
            `rsum ${m.rsum.toFixed(1)}`,
        );
      }
    },
  });
  amortisedBench(report, {
    ...common,
    name: `topK k=10 ${group} (texts query images)`,
    run: async () => {
      await topK(data.texts, data.images, 10, { dim: DIM });
    },
  });
}
