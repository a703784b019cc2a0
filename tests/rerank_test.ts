// Reranking on top of a trained first stage: rank bookkeeping by hand, and an end-to-end run that
// writes a reranker, reloads it, and reports metrics with and without reranking.
import { assertAllClose, assertEquals, assertOk, gpuTest } from "./util.ts";
import { quietProgress, smallConfig, toyDataset, writeFeatureDir } from "./train_fixtures.ts";
import { Reranker, rerankFeatureDim } from "../src/model/reranker.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { buildRelation, oneToOne } from "../src/data/relation.ts";
import { loadTrainData } from "../src/train/data.ts";
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
  // 3 texts, k = 3. Text 0: image 2 at candidate 2, reranked best → 1. Text 1: image 9 not in the
  // top 3 → keeps 7. Text 2: image 4 at candidate 0, tied with candidate 1 → pessimistic 2.
  const textToImage = [2, 9, 4];
  const first = {
    numImages: 10,
    textToImage: Int32Array.from(textToImage),
    relevance: oneToOne(textToImage),
    t2i: Uint32Array.of(3, 7, 1),
    i2t: Uint32Array.of(1, 1, 1),
  };
  const { t2i, covered } = rerankedRanks(
    first,
    [0, 1, 2, 0, 1, 2, 4, 5, 6],
    [0.1, 0.2, 0.9, 0.5, 0.4, 0.3, 0.6, 0.6, 0.1],
    3,
  );
  assertEquals(Array.from(t2i), [1, 7, 2]);
  assertEquals(covered, 2);
});

Deno.test("rerankedRanks: graded candidates — every pair re-ranked, ties by grade then image", () => {
  // One text: image 5 (grade 3, primary), image 1 (grade 1), image 8 (grade 2, outside the top 3
  // with first-stage rank 6). Candidates 1, 3, 5 rescored 0.7, 0.7, 0.2: images 1 (grade 1) and 3
  // (grade 0) tie, the non-relevant 3 ranks above → image 1 2nd, image 5 3rd, image 8 keeps 6.
  const { relation, textToImage } = buildRelation(1, 9, [
    { text: 0, image: 5, grade: 3 },
    { text: 0, image: 1, grade: 1 },
    { text: 0, image: 8, grade: 2 },
  ], "t");
  const first = {
    numImages: 9,
    textToImage,
    relevance: relation,
    t2i: Uint32Array.of(1, 3, 6), // pairs in row order: images 5, 1, 8
    i2t: Uint32Array.of(1, 1, 1),
  };
  const { t2i, covered } = rerankedRanks(first, [5, 3, 1], [0.2, 0.7, 0.7], 3);
  assertEquals(Array.from(t2i), [3, 2, 6]);
  assertEquals(covered, 1);
});

gpuTest("a reranker trains on a first stage's top-k, saves, reloads and reports both", async () => {
  const dir = await Deno.makeTempDir();
  await writeFeatureDir(
    dir,
    toyDataset({ images: 80, imageDim: 10, textDim: 8, seed: 11, noise: 1.2 }),
  );
  const data = await loadTrainData(dir, { valFraction: 0.25, testFraction: 0 });
  const first = `${dir}/first`;
  await runTraining(
    smallConfig(first, {
      data: dir,
      epochs: 2,
      warmup: 0,
      seed: 1,
      valFraction: 0.25,
      model: { head: "mlp", embedDim: 8, hidden: 16 },
    }),
    { data, progress: quietProgress() },
  );
  const quiet = quietProgress();
  const out = `${dir}/rerank`;
  const summary = await runRerankTraining({
    firstStage: first,
    data: null,
    loss: "listnet",
    lossOptions: {},
    k: 6,
    residual: true,
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
  const again = await evaluateRerank(model, reranker, data.val!, saved.k, { alpha: saved.alpha });
  assertEquals(again.after, v.after);
  reranker.dispose();
  saved.alpha?.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

gpuTest("a residual reranker at initialisation reproduces the first stage's metrics", async () => {
  const dir = await Deno.makeTempDir();
  await writeFeatureDir(dir, toyDataset({ images: 60, imageDim: 10, textDim: 8, seed: 3 }));
  const data = await loadTrainData(dir, { valFraction: 0.25, testFraction: 0 });
  const first = `${dir}/first`;
  await runTraining(
    smallConfig(first, { data: dir, epochs: 1, valFraction: 0.25 }),
    { data, progress: quietProgress() },
  );
  const model = await loadFirstStage(first);
  const reranker = new Reranker({ inputDim: rerankFeatureDim(8), dModel: 8, layers: 1, heads: 2 });
  const out = reranker.namedParameters()["output.weight"];
  out.write(new Float32Array(out.size));
  const alpha = Tensor.param([Math.exp(await model.logScale.item())], [1]);
  const r = await evaluateRerank(model, reranker, data.val!, 5, { alpha });
  assertEquals(r.after, r.before);
  reranker.dispose();
  alpha.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});
