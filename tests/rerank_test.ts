// Reranking on top of a trained first stage: rank bookkeeping by hand, and an end-to-end run that
// writes a reranker, reloads it, and reports metrics with and without reranking.
import { assertAllClose, assertEquals, assertOk, gpuTest, randn } from "./util.ts";
import { writeNpy } from "../src/data/npy.ts";
import { loadTrainData } from "../src/train/data.ts";
import { Progress } from "../src/train/progress.ts";
import { runTraining } from "../src/train/run.ts";
import {
  evaluateRerank,
  isRerankRun,
  loadFirstStage,
  readReranker,
  rerankedRanks,
  runRerankTraining,
} from "../src/train/rerank.ts";

Deno.test("rerankedRanks: covered texts take their reranked position, others keep theirs", () => {
  // 3 texts, k = 3. Text 0: image at candidate 2, reranked best → 1. Text 1: image not in the
  // top 3 → keeps 7. Text 2: image at candidate 0, tied with candidate 1 → pessimistic 2.
  const { t2i, covered } = rerankedRanks(
    [3, 7, 1],
    [0, 0, 1, 0, 0, 0, 1, 0, 0],
    [0.1, 0.2, 0.9, 0.5, 0.4, 0.3, 0.6, 0.6, 0.1],
    3,
  );
  assertEquals(Array.from(t2i), [1, 7, 2]);
  assertEquals(covered, 2);
});

gpuTest("a reranker trains on a first stage's top-k, saves, reloads and reports both", async () => {
  const dir = await Deno.makeTempDir();
  const [ni, k, di, dt] = [80, 2, 10, 8];
  const images = randn(ni * di, 11);
  const map = randn(di * dt, 12, 0.4);
  const noise = randn(ni * k * dt, 13, 1.2);
  const texts = new Float32Array(ni * k * dt);
  for (let t = 0; t < ni * k; t++) {
    for (let c = 0; c < dt; c++) {
      let s = 0;
      for (let j = 0; j < di; j++) s += images[Math.floor(t / k) * di + j] * map[j * dt + c];
      texts[t * dt + c] = s + noise[t * dt + c];
    }
  }
  await writeNpy(`${dir}/images.npy`, Float32Array.from(images), [ni, di]);
  await writeNpy(`${dir}/texts.npy`, texts, [ni * k, dt]);
  const quiet = new Progress(1e9, false);
  quiet.log = () => {};
  const data = await loadTrainData(dir, { valFraction: 0.25 });
  const first = `${dir}/first`;
  await runTraining({
    data: dir,
    loss: "softmax",
    lossOptions: {},
    epochs: 2,
    batch: 16,
    captionsPerImage: 2,
    lr: 0.01,
    minLrRatio: 0.01,
    warmup: 0,
    weightDecay: 0.01,
    decayTo: "auto",
    clip: 1,
    seed: 1,
    dataSeed: 0,
    valFraction: 0.25,
    model: { head: "mlp", embedDim: 8, hidden: 16 },
    logEvery: 4,
    maxSteps: 0,
    out: first,
  }, { data, progress: quiet });
  const out = `${dir}/rerank`;
  const summary = await runRerankTraining({
    firstStage: first,
    data: dir,
    dataSeed: 0,
    valFraction: 0.25,
    loss: "listnet",
    lossOptions: {},
    k: 6,
    epochs: 2,
    batch: 32,
    lr: 0.003,
    weightDecay: 0.01,
    seed: 2,
    model: { dModel: 16, layers: 1, heads: 2, dFF: 32, dropout: 0, positionalEncoding: "none" },
    out,
  }, { progress: quiet });
  assertOk(await isRerankRun(out));
  assertEquals(await isRerankRun(first), false);
  const v = summary.val;
  // image → text is never reranked; text → image R@K for K ≥ k cannot change.
  assertEquals(v.after.i2t, v.before.i2t);
  assertAllClose([v.after.t2i["R@10"]], [v.before.t2i["R@10"]], { atol: 1e-9 });
  assertOk(v.coverage > 0 && v.coverage <= 100);
  assertOk(v.rerankMsPerQuery > 0 && v.singleQueryMs > 0);
  // the saved reranker reproduces the summary's evaluation
  const saved = await readReranker(out);
  const reranker = saved.reranker;
  const model = await loadFirstStage(first);
  const again = await evaluateRerank(model, reranker, data.val!, saved.k);
  assertEquals(again.after, v.after);
  reranker.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});
