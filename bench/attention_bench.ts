/**
 * Benchmarks of the attention kernels (and the reranker built on them; layer norm: bench/layernorm_bench.ts) at reranking
 * sizes: lists × n items × d_model × heads = 256 × 50 × 64 × 4 and 1024 × 100 × 64 × 4.
 *
 * Each iteration records its work and waits for the GPU once (one ~11 ms wait per iteration,
 * amortised over `REPS` repetitions for the smaller size). Timings on the shared llvmpipe machine
 * are noisy: compare the cases of one run (the `group` summaries print ratios), not absolute times.
 *
 * Run: `deno bench -A bench/attention_bench.ts` (about two minutes on 2 CPU cores).
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward, noGrad } from "../src/autodiff/tape.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { attention } from "../src/ops/attention.ts";
import { Reranker } from "../src/model/reranker.ts";
import { lcgValues as values } from "./util.ts";

await initGpu();

interface Size {
  lists: number;
  n: number;
  dModel: number;
  heads: number;
  reps: number;
}

const SIZES: Size[] = [
  { lists: 256, n: 50, dModel: 64, heads: 4, reps: 4 },
  { lists: 1024, n: 100, dModel: 64, heads: 4, reps: 1 },
];

/** Clears the gradients of `params`. */
function clear(params: Tensor[]): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

for (const size of SIZES) {
  const { lists, n, dModel, heads, reps } = size;
  const rows = lists * n;
  const tag = `${lists}×${n}×${dModel}×${heads}`;
  const [q, k, v] = [1, 2, 3].map((s) => Tensor.param(values(rows * dModel, s), [rows, dModel]));
  // Every list but the first keeps 80 % of its items: masked keys are skipped.
  const maskData = new Float32Array(rows).map((_, r) => (r % n) < Math.ceil(0.8 * n) ? 1 : 0);
  maskData.fill(1, 0, n);
  const mask = Tensor.from(maskData);
  const params = [q, k, v];
  const opts = { lists, n, heads, mask };
  const kernels = rows <= 20000 ? (["blocked", "generic"] as const) : (["blocked"] as const);

  for (const kernel of kernels) {
    Deno.bench({
      name: `attention forward ${kernel} ${tag}`,
      group: `attention forward ${tag}`,
      baseline: kernel === "blocked",
      n: 3,
      warmup: 1,
      async fn() {
        for (let r = 0; r < reps; r++) {
          noGrad(() => scope(() => attention(q, k, v, { ...opts, kernel })));
        }
        await rt().sync();
      },
    });
    Deno.bench({
      name: `attention forward+backward ${kernel} ${tag}`,
      group: `attention forward+backward ${tag}`,
      baseline: kernel === "blocked",
      n: 3,
      warmup: 1,
      async fn() {
        for (let r = 0; r < reps; r++) {
          scope(() => backward(sumAll(attention(q, k, v, { ...opts, kernel }))));
          clear(params);
        }
        await rt().sync();
      },
    });
  }
}

// The whole reranker (2 layers, d_model 64, 4 heads, d_ff 128) on 256 lists of 50 candidates with
// the features of 64-d embeddings (3·64 + 2 inputs): scoring, and one training forward+backward.
{
  const [lists, n, inputDim] = [256, 50, 3 * 64 + 2];
  const model = new Reranker({ inputDim, dModel: 64, layers: 2, heads: 4, dFF: 128 }, 1);
  const features = Tensor.from(values(lists * n * inputDim, 6), [lists * n, inputDim]);
  const mask = new Float32Array(lists * n).fill(1);
  Deno.bench({
    name: `reranker score ${lists}×${n}`,
    group: "reranker",
    baseline: true,
    n: 3,
    warmup: 1,
    async fn() {
      noGrad(() => model.forward(features, mask, lists, n)).dispose();
      await rt().sync();
    },
  });
  Deno.bench({
    name: `reranker training forward+backward ${lists}×${n}`,
    group: "reranker",
    n: 3,
    warmup: 1,
    async fn() {
      scope(() => backward(sumAll(model.forward(features, mask, lists, n, { train: true }))));
      clear(model.parameters());
      await rt().sync();
    },
  });
}
