// Ranking losses (kernels/losses.wgsl): forward + backward of every loss at (lists × items)
// 256 × 256 and 1024 × 1024, as ratios against `softmax` (each size is one bench group).
//
// The data mimics training: a square in-batch similarity matrix whose diagonal is relevant, plus a
// few more relevant items per list (~1 %, like an image with several captions). Each iteration
// records `repeat` forward + backward passes and waits for the GPU once, so the fixed ~11 ms wait
// is amortised. Run: `deno bench -A bench/losses_bench.ts` (1–2 minutes on llvmpipe, most of it in
// the dense O(n²) losses at 1024 × 1024: `lambdaloss` ndcgLoss1 and `approxndcg`).

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward, zeroGrad } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { rankingLossTensor } from "../src/losses/mod.ts";

await initGpu();

const CASES: { name: string; options: Record<string, unknown> }[] = [
  { name: "softmax", options: {} },
  { name: "hinge", options: {} },
  { name: "hinge", options: { maxViolation: true } },
  { name: "cmpm", options: {} },
  { name: "listnet", options: {} },
  { name: "listmle", options: {} },
  { name: "ranknet", options: {} },
  { name: "lambdaloss", options: {} },
  { name: "lambdaloss", options: { scheme: "ndcgLoss1" } },
  { name: "approxndcg", options: {} },
  { name: "smoothap", options: {} },
];

/** Seeded in-batch data: scores in [−2, 2), the diagonal and ~1 % more items relevant. */
function batch(n: number): { scores: Float32Array; labels: Float32Array } {
  let seed = n;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const scores = new Float32Array(n * n).map(() => next() * 4 - 2);
  const labels = new Float32Array(n * n).map((_, i) =>
    i % n === Math.floor(i / n) || next() < 0.01 ? 1 : 0
  );
  return { scores, labels };
}

const SIZES = [
  { n: 256, repeat: 4, iterations: 5 },
  { n: 1024, repeat: 1, iterations: 2 },
];

/** The dense O(n²) losses (every pair does transcendental work): one timed iteration at 1024. */
const DENSE = (c: { name: string; options: Record<string, unknown> }) =>
  c.name === "approxndcg" || c.options.scheme === "ndcgLoss1";

for (const { n, repeat, iterations } of SIZES) {
  const data = batch(n);
  const s = Tensor.param(data.scores, [n, n], `S ${n}`);
  const y = Tensor.from(data.labels, [n, n], { label: `R ${n}` });
  for (const c of CASES) {
    const opts = Object.keys(c.options).length ? ` ${JSON.stringify(c.options)}` : "";
    Deno.bench({
      name: `${c.name}${opts} ${n}x${n}`,
      group: `${n}x${n}`,
      baseline: c.name === "softmax",
      n: n >= 1024 && DENSE(c) ? 1 : iterations,
      warmup: 1,
      async fn() {
        scope(() => {
          for (let r = 0; r < repeat; r++) backward(rankingLossTensor(c.name, s, y, c.options));
        });
        await rt().sync();
        zeroGrad([s]);
      },
    });
  }
}
