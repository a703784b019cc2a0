/**
 * A full training step — gather, both heads, L2 normalisation, the scaled similarity matrix, the
 * loss on its rows (text → image) and on its columns (image → text), backward and AdamW — for every
 * loss, at batch 256 and 512 (images = texts = B, one caption each), as ratios against `softmax`.
 *
 * The model is the default one for the generated dataset (1024-d texts and 312-d images into 256
 * dims through 2-layer GELU heads of width 512). Each bench call records `reps` steps, one submit
 * each as in training, then waits once (a GPU wait costs ~11 ms here).
 *
 * Slow cases are behind `CROSSRANK_BENCH_FULL=1`: the dense NDCG-type losses and `neuralndcg`
 * (NeuralSort + 50 Sinkhorn iterations, ~25× softmax per step at batch 256) at batch 512.
 *
 * Run: `deno bench -A bench/train_bench.ts`
 *
 * @module
 */

import { initGpu, rt } from "../src/gpu/runtime.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { axpby } from "../src/ops/elementwise.ts";
import { transpose } from "../src/ops/transpose.ts";
import { COMPARED_LOSSES, rankingLossTensor } from "../src/losses/mod.ts";
import { buildModel, type TrainConfig } from "../src/train/trainer.ts";
import type { RetrievalDataset } from "../src/data/types.ts";
import { amortisedBench, BenchReport, seededNormal } from "./util.ts";

await initGpu();
const FULL = Boolean(Deno.env.get("CROSSRANK_BENCH_FULL"));
const report = new BenchReport("training step (forward, backward, AdamW)").printOnUnload();

const [TEXT_DIM, IMAGE_DIM, N] = [1024, 312, 4096];
const dataset: RetrievalDataset = {
  name: "bench",
  texts: seededNormal(N * TEXT_DIM, 1, 0.05),
  numTexts: N,
  textDim: TEXT_DIM,
  images: seededNormal(N * IMAGE_DIM, 2),
  numImages: N,
  imageDim: IMAGE_DIM,
  textToImage: Int32Array.from({ length: N }, (_, i) => i),
};

const config: TrainConfig = {
  data: null,
  loss: "softmax",
  lossOptions: {},
  epochs: 1,
  batch: 256,
  captionsPerImage: 1,
  lr: 1e-3,
  minLrRatio: 0.01,
  warmup: 0,
  weightDecay: 0.01,
  decayTo: "zero",
  clip: 1,
  seed: 0,
  dataSeed: 0,
  valFraction: 0,
  testFraction: 0,
  model: {},
  logEvery: 50,
  maxSteps: 0,
  out: "",
};

const { model, optimizer } = buildModel(config, { train: dataset, val: null });
const texts = Tensor.from(dataset.texts, [N, TEXT_DIM]);
const images = Tensor.from(dataset.images, [N, IMAGE_DIM]);

/** Records one training step with `loss` on batch `rows` (texts i ↔ images i). */
function step(loss: string, rows: number[], relevance: Tensor): void {
  scope(() => {
    const s = model.batchSimilarity(texts, rows, images, rows);
    const t2i = rankingLossTensor(loss, s, relevance);
    const i2t = rankingLossTensor(loss, transpose(s), relevance);
    backward(axpby(0.5, t2i, 0.5, i2t));
    optimizer.step();
    optimizer.zeroGrad();
  });
  rt().submit();
}

const SLOW = new Set(["approxndcg", "neuralndcg", "neuralndcg_transposed"]);

for (const batch of [256, 512]) {
  const rows = Array.from({ length: batch }, (_, i) => i);
  const eye = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) eye[i * batch + i] = 1;
  const relevance = Tensor.from(eye, [batch, batch]);
  for (const loss of COMPARED_LOSSES) {
    const slow = SLOW.has(loss);
    const reps = batch === 256 ? 2 : 1; // the same for the whole group, so Deno's ratios compare
    amortisedBench(report, {
      group: `train step, batch ${batch}`,
      name: loss,
      baseline: loss === "softmax",
      reps,
      work: 1,
      unit: "steps/s",
      scale: 1,
      n: slow ? 1 : undefined,
      ignore: slow && batch === 512 && !FULL ? "CROSSRANK_BENCH_FULL=1" : false,
      run: async (r) => {
        for (let i = 0; i < r; i++) step(loss, rows, relevance);
        await rt().sync();
      },
    });
  }
}
