/**
 * Second-stage reranking (text → image): a listwise, context-aware {@link Reranker} (allRank's
 * Transformer scoring model) rescored over the first stage's top-k images of each text query, and
 * trained with any ranking loss on top of a frozen, trained retrieval run.
 *
 * Per query the candidates are the first stage's top `k` images; each candidate's features are
 * `[q, c, q ⊙ c, s, rank/k]` (query and candidate embeddings, their product, first-stage score and
 * rank). The label is 1 for the query's own image and 0 otherwise; a query whose image is not in its
 * top k has no relevant item (ranking losses give such a list 0). Evaluation replaces each text's
 * first-stage rank by its reranked position when its image is in the top k (pessimistic ties, as
 * everywhere); texts whose image is outside the top k keep their first-stage rank. Image → text
 * retrieval is not reranked.
 *
 * The reranker learns on the training split's first-stage lists. Those come from the model that was
 * trained on the same images, so they are easier than unseen lists; validation lists are not.
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { backward, noGrad } from "../autodiff/tape.ts";
import { scope, Tensor, untracked } from "../autodiff/tensor.ts";
import { gatherRows } from "../ops/gather.ts";
import { mulScalar } from "../ops/reduce.ts";
import { add } from "../ops/elementwise.ts";
import { AdamW } from "../optim/adamw.ts";
import { rankingLossTensor } from "../losses/mod.ts";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import type { RetrievalDataset } from "../data/types.ts";
import { evaluationRelation, gradeOf, relevanceOf } from "../data/relation.ts";
import { writeSafetensors } from "../data/safetensors.ts";
import { readSafetensors, type SafetensorsFile } from "../data/safetensors.ts";
import { checkTensors, rerankerFromFile, RunFileError } from "./schema.ts";
import { retrievalRanks } from "../ops/retrieval.ts";
import { type RetrievalMetrics, retrievalMetrics, type RetrievalRanks } from "../eval/metrics.ts";
import { topK } from "../ops/topk.ts";
import { DualEncoder } from "../model/dual_encoder.ts";
import {
  type PositionalEncoding,
  Reranker,
  rerankFeatureDim,
  rerankFeatures,
} from "../model/reranker.ts";
import { lowbias32, Random } from "../util/random.ts";
import { loadRunTrainData, runDataRecord } from "./data.ts";
import { Progress } from "./progress.ts";
import {
  prepareNewRunDir,
  readCheckpoint,
  readRunConfig,
  RUN_FILES,
  runPath,
  writeJson,
} from "./run_dir.ts";
import { learningRate } from "./schedule.ts";
import { stringify } from "csv-stringify";
import { writeFileAtomic } from "../data/errors.ts";

/** File of a rerank run holding the reranker's weights and options. */
export const RERANKER_FILE = "reranker.safetensors";

/** Name of the residual weight of the first-stage score in {@link RERANKER_FILE}. */
const ALPHA = "residual.alpha";

/** Format tag of {@link RERANKER_FILE}. */
export const RERANKER_FORMAT = "crossrank-reranker/1";

/** Settings of a reranker training run. */
export interface RerankConfig {
  /** The trained retrieval run whose checkpoint is the first stage. */
  firstStage: string;
  /**
   * Where the first stage's data is now, when it moved (null: where the first stage recorded it).
   * It must be the same data (checked by fingerprint); the split is always the first stage's.
   */
  data: string | null;
  /** Ranking loss. */
  loss: string;
  /** Loss options. */
  lossOptions: Record<string, unknown>;
  /** Candidates per query (the first stage's top k). */
  k: number;
  /**
   * Residual scores: `alpha · first-stage score + reranker output`, starting from the first
   * stage's ranking (output layer at zero, alpha at its logit scale). Otherwise the reranker's
   * output alone (allRank's model).
   */
  residual: boolean;
  /** Epochs over the training queries. */
  epochs: number;
  /** Queries per step. */
  batch: number;
  /** Peak learning rate (linear warmup 5 %, cosine decay). */
  lr: number;
  /** AdamW weight decay. */
  weightDecay: number;
  /** Seed of initialisation, dropout and query order. */
  seed: number;
  /** Reranker architecture (input width is derived). */
  model: {
    dModel: number;
    layers: number;
    heads: number;
    dFF: number;
    dropout: number;
    positionalEncoding: PositionalEncoding;
  };
  /** Run folder. */
  out: string;
  /** Largest image of a raw collection, in pixels (default 40 million; `--max-megapixels`). */
  maxImagePixels?: number;
}

/** First-stage lists of a split: embeddings on the GPU and each text's top-k images. */
export interface FirstStageLists {
  /** Text embeddings `[texts, e]`. */
  texts: Tensor;
  /** Image embeddings `[images, e]`. */
  images: Tensor;
  /** Top-k image rows per text, `texts·k`. */
  indices: Int32Array;
  /** Their first-stage scores. */
  scores: Float32Array;
  /** The grade of each candidate for its text (0 = not relevant), `texts·k`. */
  labels: Float32Array;
  /** k. */
  k: number;
  /** Seconds the first stage took for this split (embedding + top-k), for latency figures. */
  seconds: number;
}

/** Embeds a split with the first stage and takes each text's top-k images. */
export async function firstStageLists(
  model: DualEncoder,
  ds: RetrievalDataset,
  k: number,
): Promise<FirstStageLists> {
  if (k > ds.numImages) {
    throw new RangeError(`--k ${k} exceeds the ${ds.numImages} images of ${ds.name}`);
  }
  const started = performance.now();
  const e = model.config.text.outDim;
  const textEmb = await model.embedAll("texts", ds.texts, ds.numTexts);
  const imageEmb = await model.embedAll("images", ds.images, ds.numImages);
  const top = await topK(textEmb, imageEmb, k, { dim: e, normalize: false });
  const seconds = (performance.now() - started) / 1000;
  const relevance = relevanceOf(ds);
  const labels = new Float32Array(ds.numTexts * k);
  for (let t = 0; t < ds.numTexts; t++) {
    for (let j = 0; j < k; j++) labels[t * k + j] = gradeOf(relevance, t, top.indices[t * k + j]);
  }
  const [texts, images] = untracked(() => [
    Tensor.from(textEmb, [ds.numTexts, e], { label: `${ds.name} text embeddings` }),
    Tensor.from(imageEmb, [ds.numImages, e], { label: `${ds.name} image embeddings` }),
  ]);
  return { texts, images, indices: top.indices, scores: top.scores, labels, k, seconds };
}

/**
 * Records the reranker's scores `[rows.length, k]` for the given query rows. With `alpha` (a
 * learned scalar), the scores are residual: `alpha · first-stage score + reranker output`.
 */
function scoreQueries(
  reranker: Reranker,
  lists: FirstStageLists,
  rows: number[],
  train: boolean,
  alpha: Tensor | null,
): Tensor {
  const k = lists.k;
  const idx = new Int32Array(rows.length * k);
  const sc = new Float32Array(rows.length * k);
  rows.forEach((r, i) => {
    idx.set(lists.indices.subarray(r * k, (r + 1) * k), i * k);
    sc.set(lists.scores.subarray(r * k, (r + 1) * k), i * k);
  });
  const q = gatherRows(lists.texts, rows);
  const x = rerankFeatures(q, lists.images, idx, sc, k);
  const mask = new Float32Array(rows.length * k).fill(1);
  const out = reranker.forward(x, mask, rows.length, k, { train });
  if (!alpha) return out;
  return add(out, mulScalar(Tensor.from(sc, [rows.length, k]), alpha));
}

/** The result of reranking a split. */
export interface RerankEvaluation {
  /** Metrics of the first stage alone. */
  before: RetrievalMetrics;
  /** Metrics with text → image reranked (image → text unchanged). */
  after: RetrievalMetrics;
  /** The per-query ranks behind {@link after}. */
  afterRanks: RetrievalRanks;
  /** Percent of texts with an image of their highest grade in their top k (what reranking can fix). */
  coverage: number;
  /** Seconds per query of the first stage (embedding + top-k), amortised over the split. */
  firstStageMsPerQuery: number;
  /** Added milliseconds per query of reranking (features + model), amortised over batches. */
  rerankMsPerQuery: number;
  /** Milliseconds to rerank one query alone (includes one ~11 ms GPU wait on llvmpipe). */
  singleQueryMs: number;
}

/** A split's first-stage lists and ranks, computed once and reused by every evaluation. */
export interface RerankEvalSplit {
  /** The split. */
  ds: RetrievalDataset;
  /** Its first-stage lists (GPU embeddings, top-k). */
  lists: FirstStageLists;
  /** Its first-stage ranks in both directions. */
  ranks: RetrievalRanks;
}

/** Embeds a split with the (frozen) first stage, takes the top k and the first-stage ranks. */
export async function prepareRerankEval(
  model: DualEncoder,
  ds: RetrievalDataset,
  k: number,
): Promise<RerankEvalSplit> {
  const lists = await firstStageLists(model, ds, k);
  const e = model.config.text.outDim;
  const ranks = await retrievalRanks(
    {
      texts: lists.texts,
      images: lists.images,
      ...evaluationRelation(ds),
      textDim: e,
      imageDim: e,
    },
    { normalize: false },
  );
  return { ds, lists, ranks };
}

/** Frees a {@link RerankEvalSplit}'s GPU embeddings. */
export function disposeRerankEval(split: RerankEvalSplit): void {
  split.lists.texts.dispose();
  split.lists.images.dispose();
}

/**
 * Scores every text's top-k of a prepared split with the reranker and compares the metrics with
 * the first stage's.
 */
export async function rerankMetrics(
  split: RerankEvalSplit,
  reranker: Reranker,
  options: { batch?: number; alpha?: Tensor | null } = {},
): Promise<RerankEvaluation> {
  const { batch = 256, alpha = null } = options;
  const { ds, lists, ranks } = split;
  const k = lists.k;
  const before = retrievalMetrics(ranks);
  const started = performance.now();
  const reranked = new Float32Array(ds.numTexts * k);
  for (let start = 0; start < ds.numTexts; start += batch) {
    const rows = Array.from({ length: Math.min(batch, ds.numTexts - start) }, (_, i) => start + i);
    const s = noGrad(() => scope(() => scoreQueries(reranker, lists, rows, false, alpha)));
    reranked.set(await s.read(), start * k);
    s.dispose();
  }
  const rerankMsPerQuery = (performance.now() - started) / ds.numTexts;
  const one = performance.now();
  const s1 = noGrad(() => scope(() => scoreQueries(reranker, lists, [0], false, alpha)));
  await s1.read();
  s1.dispose();
  const singleQueryMs = performance.now() - one;
  const { t2i, covered } = rerankedRanks(ranks, lists.indices, reranked, k);
  const afterRanks = { ...ranks, t2i };
  const after = retrievalMetrics(afterRanks);
  return {
    before,
    after,
    afterRanks,
    coverage: (100 * covered) / ds.numTexts,
    firstStageMsPerQuery: (1000 * lists.seconds) / ds.numTexts,
    rerankMsPerQuery,
    singleQueryMs,
  };
}

/** Scores every text's top-k with the reranker and compares metrics with the first stage's. */
export async function evaluateRerank(
  model: DualEncoder,
  reranker: Reranker,
  ds: RetrievalDataset,
  k: number,
  options: { batch?: number; alpha?: Tensor | null } = {},
): Promise<RerankEvaluation> {
  const split = await prepareRerankEval(model, ds, k);
  try {
    return await rerankMetrics(split, reranker, options);
  } finally {
    disposeRerankEval(split);
  }
}

/**
 * Text → image ranks after reranking, per relevant pair of `firstStage` (see
 * {@link RetrievalRanks}): a pair whose image is among its text's `k` candidates (`indices`, text
 * by text) gets that candidate's position by the reranked scores, with the pessimistic tie rule
 * (a tied candidate of lower grade, or of equal grade and lower image index, ranks above); the
 * others keep their first-stage rank (which is > k). `covered` counts the texts with an image of
 * their highest grade among the candidates (the most reranking can fix).
 *
 * @example
 * ```ts
 * import { rerankedRanks } from "./rerank.ts";
 * import { oneToOne } from "../data/relation.ts";
 * // one text, k = 3: its image 7 is candidate 2, which the reranker scores highest
 * rerankedRanks(
 *   { numImages: 9, textToImage: Int32Array.of(7), relevance: oneToOne([7]),
 *     t2i: Uint32Array.of(3), i2t: Uint32Array.of(1) },
 *   [4, 5, 7], [0.1, 0.2, 0.9], 3,
 * ); // { t2i: [1], covered: 1 }
 * ```
 */
export function rerankedRanks(
  firstStage: RetrievalRanks,
  indices: ArrayLike<number>,
  reranked: ArrayLike<number>,
  k: number,
): { t2i: Uint32Array; covered: number } {
  const rel = firstStage.relevance;
  const t2i = Uint32Array.from(firstStage.t2i);
  let covered = 0;
  for (let t = 0; t + 1 < rel.offsets.length; t++) {
    const grade = Array.from({ length: k }, (_, c) => gradeOf(rel, t, indices[t * k + c]));
    if (grade.includes(rel.grades[rel.offsets[t]])) covered++;
    for (let p = rel.offsets[t]; p < rel.offsets[t + 1]; p++) {
      let j = -1;
      for (let c = 0; c < k; c++) if (indices[t * k + c] === rel.images[p]) j = c;
      if (j < 0) continue;
      const mine = reranked[t * k + j];
      let rank = 1;
      for (let c = 0; c < k; c++) {
        const s = reranked[t * k + c];
        const tiedBelow = grade[c] < grade[j] ||
          (grade[c] === grade[j] && indices[t * k + c] < indices[t * k + j]);
        if (c !== j && (s > mine || (s === mine && tiedBelow))) rank++;
      }
      t2i[p] = rank;
    }
  }
  return { t2i, covered };
}

/** Loads the first stage of a run folder. */
export async function loadFirstStage(runDir: string): Promise<DualEncoder> {
  await initGpu();
  const saved = await readCheckpoint(runDir);
  const model = new DualEncoder(saved.config, 0);
  model.loadStateDict(saved.tensors, runDir);
  return model;
}

/** Writes the reranker with its options and run facts. */
async function writeReranker(
  path: string,
  reranker: Reranker,
  alpha: Tensor | null,
  config: RerankConfig,
  epoch: number,
) {
  const state = await reranker.readState();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const named = reranker.namedParameters();
  for (const [name, data] of Object.entries(state)) {
    tensors[name] = { shape: [...named[name].shape], data };
  }
  if (alpha) tensors[ALPHA] = { shape: [1], data: await alpha.read() };
  await writeSafetensors(path, tensors, {
    format: RERANKER_FORMAT,
    options: JSON.stringify(reranker.options),
    seed: String(reranker.seed),
    k: String(config.k),
    firstStage: config.firstStage,
    firstStageAbsolute: await Deno.realPath(config.firstStage),
    loss: config.loss,
    epoch: String(epoch),
  });
}

/** Reads a rerank run's reranker (and where its first stage is). */
export async function readReranker(
  runDir: string,
): Promise<{ reranker: Reranker; alpha: Tensor | null; k: number; firstStage: string }> {
  const path = runPath(runDir, RERANKER_FILE);
  const file = await readSafetensors(path);
  const { reranker, state } = checkedReranker(path, file);
  let firstStage: string;
  try {
    firstStage = await findFirstStage(runDir, file.metadata);
  } catch (e) {
    reranker.dispose();
    throw e;
  }
  reranker.loadState(state.weights);
  const saved = state.alpha;
  const alpha = saved ? untracked(() => Tensor.from(saved, [1])) : null;
  return { reranker, alpha, k: state.k, firstStage };
}

/** Validates a reranker file (see `./schema.ts`) and creates the model it describes. */
function checkedReranker(path: string, file: SafetensorsFile) {
  const meta = rerankerFromFile(path, file, RERANKER_FORMAT);
  let reranker: Reranker;
  try {
    reranker = new Reranker(meta.options, meta.seed);
  } catch (e) {
    throw new RunFileError(path, "metadata.options", (e as Error).message);
  }
  try {
    const shapes = Object.entries(reranker.namedParameters()).map(([n, t]) => [n, t.shape]);
    const weights = checkTensors(path, file.tensors, Object.fromEntries(shapes));
    const alpha = file.tensors[ALPHA] ? checkTensors(path, file.tensors, { [ALPHA]: [1] }) : null;
    return {
      reranker,
      state: {
        ...meta,
        weights: Object.fromEntries(Object.entries(weights).map(([n, t]) => [n, t.data])),
        alpha: alpha?.[ALPHA].data ?? null,
      },
    };
  } catch (e) {
    reranker.dispose();
    throw e;
  }
}

/** The first stage's folder: where it was recorded (absolute, then as given), or an error. */
async function findFirstStage(runDir: string, metadata: Record<string, string>): Promise<string> {
  for (const candidate of [metadata.firstStageAbsolute, metadata.firstStage]) {
    if (!candidate) continue;
    try {
      if ((await Deno.stat(candidate)).isDirectory) return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error(
    `${runDir}: its first stage ${metadata.firstStageAbsolute ?? metadata.firstStage} ` +
      "no longer exists",
  );
}

/** Whether `dir` is a rerank run. */
export async function isRerankRun(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(runPath(dir, RERANKER_FILE))).isFile;
  } catch {
    return false;
  }
}

/** Summary of a rerank run. */
export interface RerankSummary {
  /** Run folder. */
  run: string;
  /** First-stage run. */
  firstStage: string;
  /** Loss. */
  loss: string;
  /** Candidates per query. */
  k: number;
  /** Epoch kept (best validation t2i R@1 after reranking). */
  bestEpoch: number;
  /** Validation evaluation of the kept reranker. */
  val: Omit<RerankEvaluation, "afterRanks">;
  /** Steps per second of reranker training. */
  stepsPerSec: number;
  /** Reranker parameters. */
  parameters: number;
}

function withoutRanks(e: RerankEvaluation): Omit<RerankEvaluation, "afterRanks"> {
  const { afterRanks: _ranks, ...rest } = e;
  return rest;
}

/**
 * Trains a reranker as `config` says and writes its run folder. It trains on the first stage's
 * training part and validates on its validation part (the first stage's own data and split), so
 * the first stage's test part stays unseen by both stages.
 */
export async function runRerankTraining(
  config: RerankConfig,
  options: { progress?: Progress; force?: boolean } = {},
): Promise<RerankSummary> {
  const runtime = await initGpu();
  const progress = options.progress ?? new Progress();
  const lossOptions = resolveOptions(getLoss(config.loss), config.lossOptions);
  progress.log(
    `crossrank train --rerank: loss ${config.loss}, first stage ${config.firstStage}, top ${config.k}`,
  );
  const record = runDataRecord(config.firstStage, await readRunConfig(config.firstStage));
  const data = await loadRunTrainData(
    config.firstStage,
    record,
    config.data ?? undefined,
    config.maxImagePixels,
  );
  if (!data.val) {
    throw new Error(
      `reranker training needs a validation part, and ${config.firstStage} has none ` +
        "(it was trained with --val-fraction 0)",
    );
  }
  progress.log(
    `rerank: data ${record.dataSource.name} split as ${config.firstStage} split it: train ` +
      `${data.train.numTexts} texts, val ${data.val.numTexts} texts` +
      (data.test ? `, test ${data.test.numTexts} texts (held out)` : ""),
  );
  await prepareNewRunDir(config.out, options.force ?? false);
  const model = await loadFirstStage(config.firstStage);
  const { train, val } = data;
  const e = model.config.text.outDim;
  const reranker = new Reranker({ inputDim: rerankFeatureDim(e), ...config.model }, config.seed);
  // Residual reranking: score = alpha · first-stage score + reranker output, with the output layer
  // at zero and alpha at the first stage's logit scale, so training starts from the first stage's
  // ranking and the reranker learns a correction.
  let alpha: Tensor | null = null;
  if (config.residual) {
    const out = reranker.namedParameters()["output.weight"];
    out.write(new Float32Array(out.size));
    const scale = Math.exp(await model.logScale.item());
    alpha = Tensor.param([scale], [1], "residual alpha");
  }
  const optimizer = new AdamW(
    [
      ...reranker.optimizerParams(),
      ...(alpha ? [{ tensor: alpha, weightDecay: 0 }] : []),
    ],
    { lr: config.lr, weightDecay: config.weightDecay },
  );
  await writeJson(runPath(config.out, RUN_FILES.config), {
    ...config,
    firstStageAbsolute: await Deno.realPath(config.firstStage),
    dataSource: record.dataSource,
    split: record.split,
    rerank: true,
    deno: Deno.version.deno,
    adapter: runtime.gpu.adapterName,
    parameters: reranker.parameterCount,
  });
  const lists = await firstStageLists(model, train, config.k);
  // The first stage is frozen: the validation lists and ranks are computed once.
  const valSplit = await prepareRerankEval(model, val, config.k);
  const trainRelevance = relevanceOf(train);
  const covered = Array.from({ length: train.numTexts }, (_, t) => t).filter((t) =>
    lists.labels.subarray(t * config.k, (t + 1) * config.k).includes(
      trainRelevance.grades[trainRelevance.offsets[t]],
    )
  );
  progress.log(
    `rerank: ${reranker.parameterCount} parameters; train top-${config.k} holds the right image for ` +
      `${((100 * covered.length) / train.numTexts).toFixed(1)} % of ${train.numTexts} texts`,
  );
  const stepsPerEpoch = Math.ceil(train.numTexts / config.batch);
  const totalSteps = stepsPerEpoch * config.epochs;
  const schedule = { lr: config.lr, totalSteps, warmupSteps: Math.round(0.05 * totalSteps) };
  const labels = lists.labels;
  const history: { epoch: number; loss: number; val: RerankEvaluation }[] = [];
  let best = -Infinity;
  let bestEpoch = 0;
  let step = 0;
  let trainSeconds = 0;
  let lastLoss: number | undefined;
  const lossSum = untracked(() => Tensor.zeros([1]));
  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const order = new Random(config.seed * 7919 + epoch).permutation(train.numTexts);
      const started = performance.now();
      const sums: number[] = [];
      for (let start = 0; start < order.length; start += config.batch) {
        const rows = order.slice(start, start + config.batch);
        step++;
        scope(() => {
          const scores = scoreQueries(reranker, lists, rows, true, alpha);
          const y = new Float32Array(rows.length * config.k);
          rows.forEach((r, i) =>
            y.set(labels.subarray(r * config.k, (r + 1) * config.k), i * config.k)
          );
          const loss = rankingLossTensor(
            config.loss,
            scores,
            Tensor.from(y, [rows.length, config.k]),
            getLoss(config.loss).stepOptions?.(
              lossOptions,
              lowbias32((config.seed * 0x9e3779b1 + step) >>> 0),
            ) ?? lossOptions,
          );
          backward(loss);
          optimizer.step(learningRate(step, schedule));
          optimizer.zeroGrad();
          rt().copy(loss.buffer, 0, lossSum.buffer, 0, 4);
        });
        rt().submit();
        if (start + config.batch >= order.length) {
          lastLoss = await lossSum.item();
          sums.push(lastLoss);
        }
        const seconds = (performance.now() - started) / 1000;
        progress.update({
          label: `rerank epoch ${epoch}/${config.epochs}`,
          done: step,
          total: totalSteps,
          unit: "steps",
          elapsed: trainSeconds + seconds,
          rate: (step - (epoch - 1) * stepsPerEpoch) / Math.max(seconds, 1e-9),
          extra: (lastLoss === undefined ? "" : `loss ${lastLoss.toFixed(4)}  `) +
            `lr ${learningRate(step, schedule).toExponential(2)}`,
        });
      }
      trainSeconds += (performance.now() - started) / 1000;
      if ((await optimizer.firstNonFiniteStep()) > 0) {
        throw new Error(
          `reranker training stopped: non-finite gradient at step ${await optimizer
            .firstNonFiniteStep()}`,
        );
      }
      const evaluation = await rerankMetrics(valSplit, reranker, { alpha });
      history.push({ epoch, loss: sums.at(-1) ?? NaN, val: evaluation });
      progress.log(
        `rerank epoch ${epoch}/${config.epochs}  last loss ${
          (sums.at(-1) ?? NaN).toFixed(4)
        }  val t2i R@1 ` +
          `${evaluation.before.t2i["R@1"].toFixed(1)} → ${evaluation.after.t2i["R@1"].toFixed(1)}`,
      );
      if (evaluation.after.t2i["R@1"] > best) {
        best = evaluation.after.t2i["R@1"];
        bestEpoch = epoch;
        await writeReranker(runPath(config.out, RERANKER_FILE), reranker, alpha, config, epoch);
      }
      const rows = history.map((h) => [
        h.epoch,
        h.loss,
        h.val.before.t2i["R@1"],
        h.val.after.t2i["R@1"],
        h.val.before.t2i["R@5"],
        h.val.after.t2i["R@5"],
        h.val.before.t2i["R@10"],
        h.val.after.t2i["R@10"],
        h.val.rerankMsPerQuery,
      ]);
      await writeFileAtomic(
        runPath(config.out, RUN_FILES.metrics),
        new TextEncoder().encode(stringify([[
          "epoch",
          "loss",
          "t2i_R@1_first_stage",
          "t2i_R@1_reranked",
          "t2i_R@5_first_stage",
          "t2i_R@5_reranked",
          "t2i_R@10_first_stage",
          "t2i_R@10_reranked",
          "rerank_ms_per_query",
        ], ...rows])),
      );
    }
    const kept = await readReranker(config.out);
    const finalEval = await rerankMetrics(valSplit, kept.reranker, { alpha: kept.alpha });
    kept.reranker.dispose();
    kept.alpha?.dispose();
    const summary: RerankSummary = {
      run: config.out,
      firstStage: config.firstStage,
      loss: config.loss,
      k: config.k,
      bestEpoch,
      val: withoutRanks(finalEval),
      stepsPerSec: step / Math.max(trainSeconds, 1e-9),
      parameters: reranker.parameterCount,
    };
    await writeJson(runPath(config.out, RUN_FILES.summary), summary);
    return summary;
  } finally {
    lossSum.dispose();
    disposeRerankEval(valSplit);
    alpha?.dispose();
    alpha?.grad?.dispose();
    lists.texts.dispose();
    lists.images.dispose();
    optimizer.dispose();
    reranker.dispose();
    model.dispose();
  }
}
