/**
 * Retrieval ranks (`kernels/retrieval.wgsl`, with its score blocks on `kernels/matmul.wgsl`):
 *
 * - one 1024 × 1024 × 512 block of cosines as evaluation records it (prepared rows through the
 *   matmul planner) against the matmul op (A·Bᵀ) on plain tensors;
 * - `evaluateRetrieval` (both directions, one sweep) on 5000 texts × 1000 images and on
 *   1000 texts × 100 000 images (a 205 MB gallery: more than one GPU buffer, so chunked).
 *
 * Every call records the whole evaluation and waits once (its one readback). Throughput is in text
 * queries per second over the full image gallery; the image → text direction comes from the same
 * score sweep. Run: `deno bench -A bench/retrieval_bench.ts`.
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { matmulInto } from "../src/ops/matmul.ts";
import { asMatrix, ChunkRows, recordScores } from "../src/ops/retrieval.ts";
import { evaluateRetrieval } from "../src/eval/retrieval.ts";
import { amortisedBench, BenchReport, retrievalCollection, seededNormal } from "./util.ts";

await initGpu();
const report = new BenchReport("retrieval evaluation").printOnUnload();
const DIM = 512;

// 1. One block of scores: evaluation's blocks (prepared, vec4-padded rows) vs the matmul op.
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
  amortisedBench(report, {
    ...common,
    name: "recordScores (prepared rows, the matmul planner)",
    run: async (reps) => {
      for (let r = 0; r < reps; r++) recordScores(ga, qb, DIM, out);
      await rt().sync();
    },
  });
}

// 2. Whole evaluations.
for (const [numTexts, numImages, n] of [[5000, 1000, 2], [1000, 100_000, 1]]) {
  const data = retrievalCollection(numTexts, numImages, numImages, DIM);
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
}
