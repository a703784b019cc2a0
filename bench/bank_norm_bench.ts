/**
 * Bank statistics of bank-normalised retrieval (`kernels/bank_norm.wgsl`, `src/ops/bank_norm.ts`):
 * the log-sum-exp (QB-Norm, DBNorm) and the top-16 (NNN) of a bank of 20 000 queries against 1000
 * gallery items, 512-d, chunked like the evaluation. Run: `deno bench -A bench/bank_norm_bench.ts`.
 *
 * @module
 */

import { initGpu } from "../src/gpu/runtime.ts";
import { bankLogSumExp, bankTopK } from "../src/ops/bank_norm.ts";
import { amortisedBench, BenchReport, retrievalCollection } from "./util.ts";

await initGpu();
const report = new BenchReport("bank statistics").printOnUnload();
const DIM = 512;
const [BANK, GALLERY] = [20_000, 1000];
const data = retrievalCollection(BANK, GALLERY, GALLERY, DIM);
const group = `${BANK} bank texts × ${GALLERY} images, ${DIM}-d`;
const common = { group, reps: 1, work: BANK, unit: "bank rows/s", n: 2 };
amortisedBench(report, {
  ...common,
  name: `bankLogSumExp β=20 ${group}`,
  baseline: true,
  run: async () => {
    await bankLogSumExp(data.texts, data.images, 20, { dim: DIM });
  },
});
amortisedBench(report, {
  ...common,
  name: `bankTopK k=16 ${group}`,
  run: async () => {
    await bankTopK(data.texts, data.images, 16, { dim: DIM });
  },
});
