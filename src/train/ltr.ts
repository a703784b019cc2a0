/**
 * Loss-level learning-to-rank: a linear scorer trained on a LETOR set with a ranking loss, and
 * NDCG@k on a test set. Lists are the queries, padded to the longest with label −1.
 *
 * Features are standardised with the training set's per-feature mean and standard deviation.
 * Training is full-batch (every query each step) with AdamW; the scorer is `x·w` (a bias cannot
 * change a ranking).
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { backward } from "../autodiff/tape.ts";
import { scope, Tensor } from "../autodiff/tensor.ts";
import { reshape } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { AdamW } from "../optim/adamw.ts";
import { rankingLossTensor } from "../losses/mod.ts";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import type { LtrDataset } from "../data/types.ts";
import { DataError } from "../data/errors.ts";
import { formatBytes } from "../gpu/device.ts";
import { meanNdcg } from "../eval/ndcg.ts";
import { lowbias32, Random } from "../util/random.ts";

/** Settings of {@link trainLtr}. */
export interface LtrConfig {
  /** Loss name. */
  loss: string;
  /** Loss options. */
  lossOptions?: Record<string, unknown>;
  /** Full-batch optimisation steps. Default 300. */
  steps?: number;
  /** Learning rate. Default 0.01. */
  lr?: number;
  /** Weight decay. Default 0. */
  weightDecay?: number;
  /** Initialisation seed. Default 0. */
  seed?: number;
  /** NDCG cut-offs. Default [1, 3, 5, 10]. */
  ks?: number[];
}

/** Result of {@link trainLtr}. */
export interface LtrResult {
  /** Mean NDCG@k on the test set (`NDCG@1`, …). */
  test: Record<string, number>;
  /** NDCG@k of each test query, in file order (for paired comparisons). */
  testPerQuery: Record<string, Float64Array>;
  /** Mean NDCG@k on the training set. */
  train: Record<string, number>;
  /** Test queries without a relevant document (scored 1 by convention). */
  testNoRelevant: number;
  /** Final training loss. */
  finalLoss: number;
  /** Seconds spent in training steps. */
  trainSeconds: number;
  /** Steps per second. */
  stepsPerSec: number;
}

interface Padded {
  features: Float32Array;
  labels: Float32Array;
  lists: number;
  n: number;
}

function pad(ds: LtrDataset, mean: Float64Array, std: Float64Array): Padded {
  const n = Math.max(1, ...ds.queries.map((q) => q.numDocs));
  const d = ds.dim;
  const lists = ds.queries.length;
  const features = new Float32Array(lists * n * d);
  const labels = new Float32Array(lists * n).fill(-1);
  ds.queries.forEach((q, i) => {
    for (let j = 0; j < q.numDocs; j++) {
      labels[i * n + j] = q.labels[j];
      for (let c = 0; c < d; c++) {
        features[(i * n + j) * d + c] = (q.features[j * d + c] - mean[c]) / std[c];
      }
    }
  });
  return { features, labels, lists, n };
}

function standardisation(ds: LtrDataset): { mean: Float64Array; std: Float64Array } {
  const d = ds.dim;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  let count = 0;
  for (const q of ds.queries) {
    for (let j = 0; j < q.numDocs; j++) {
      for (let c = 0; c < d; c++) {
        const v = q.features[j * d + c];
        mean[c] += v;
        sq[c] += v * v;
      }
      count++;
    }
  }
  const std = new Float64Array(d);
  for (let c = 0; c < d; c++) {
    mean[c] /= Math.max(count, 1);
    std[c] = Math.sqrt(Math.max(sq[c] / Math.max(count, 1) - mean[c] ** 2, 0)) || 1;
  }
  return { mean, std };
}

/**
 * Throws a {@link DataError} naming the file when its padded feature tensor (queries × longest
 * query × features) would not fit one GPU buffer, before anything is allocated.
 */
function checkFitsOneBuffer(ds: LtrDataset): void {
  const n = ds.queries.reduce((m, q) => Math.max(m, q.numDocs), 1);
  const bytes = ds.queries.length * n * ds.dim * 4;
  const limit = rt().device.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new DataError(
      `${ds.path}: ${ds.queries.length} queries padded to ${n} documents × ${ds.dim} features ` +
        `need ${formatBytes(bytes)} in one GPU buffer, over this device's limit of ` +
        `${formatBytes(limit)}; use fewer features or fewer, shorter queries`,
    );
  }
}

async function scoreLists(p: Padded, w: Tensor, d: number) {
  const x = Tensor.from(p.features, [p.lists * p.n, d]);
  const s = matmul(x, w);
  const scores = await s.read();
  x.dispose();
  s.dispose();
  return Array.from({ length: p.lists }, (_, i) => {
    const labels = p.labels.subarray(i * p.n, (i + 1) * p.n);
    const real = labels.findIndex((v) => v < 0);
    const len = real < 0 ? p.n : real;
    return { scores: scores.subarray(i * p.n, i * p.n + len), labels: labels.subarray(0, len) };
  });
}

/**
 * Trains a linear scorer on `train` with `config.loss` and reports NDCG@k on `test`.
 *
 * @example
 * ```ts
 * import { readSvmlight } from "../data/svmlight.ts";
 * import { trainLtr } from "./ltr.ts";
 * const train = await readSvmlight("../shared/data/ltr-lightgbm/rank.train");
 * const test = await readSvmlight("../shared/data/ltr-lightgbm/rank.test", { dim: train.dim });
 * console.log((await trainLtr(train, test, { loss: "lambdaloss" })).test);
 * ```
 */
export async function trainLtr(
  train: LtrDataset,
  test: LtrDataset,
  config: LtrConfig,
): Promise<LtrResult> {
  await initGpu();
  if (test.dim !== train.dim) {
    throw new RangeError(
      `trainLtr: ${test.path} has ${test.dim} features, ${train.path} has ${train.dim}`,
    );
  }
  const { steps = 300, lr = 0.01, weightDecay = 0, seed = 0, ks = [1, 3, 5, 10] } = config;
  const d = train.dim;
  for (const ds of [train, test]) checkFitsOneBuffer(ds);
  const { mean, std } = standardisation(train);
  const tr = pad(train, mean, std);
  const te = pad(test, mean, std);
  const random = new Random(seed);
  const w0 = Float32Array.from({ length: d }, () => random.normal() * 0.01);
  const w = Tensor.param(w0, [d, 1], "scorer");
  const x = Tensor.from(tr.features, [tr.lists * tr.n, d], { label: "ltr features" });
  const labels = Tensor.from(tr.labels, [tr.lists, tr.n], { label: "ltr labels" });
  const optimizer = new AdamW([w], { lr, weightDecay });
  const lossLog = Tensor.zeros([1]);
  try {
    const started = performance.now();
    for (let step = 0; step < steps; step++) {
      scope(() => {
        const scores = reshape(matmul(x, w), [tr.lists, tr.n]);
        const def = getLoss(config.loss);
        const options = resolveOptions(def, config.lossOptions ?? {});
        const stepSeed = lowbias32((seed * 0x9e3779b1 + step) >>> 0);
        const loss = rankingLossTensor(
          config.loss,
          scores,
          labels,
          def.stepOptions?.(options, stepSeed) ?? options,
        );
        backward(loss);
        optimizer.step();
        optimizer.zeroGrad();
        rt().copy(loss.buffer, 0, lossLog.buffer, 0, 4);
      });
      rt().submit();
    }
    const finalLoss = await lossLog.item();
    const trainSeconds = (performance.now() - started) / 1000;
    if (!Number.isFinite(finalLoss) || (await optimizer.firstNonFiniteStep()) > 0) {
      throw new Error(`trainLtr: the ${config.loss} loss became non-finite`);
    }
    const testEval = meanNdcg(await scoreLists(te, w, d), ks);
    const trainEval = meanNdcg(await scoreLists(tr, w, d), ks);
    return {
      test: testEval.ndcg,
      testPerQuery: testEval.perQuery,
      train: trainEval.ndcg,
      testNoRelevant: testEval.noRelevant,
      finalLoss,
      trainSeconds,
      stepsPerSec: steps / Math.max(trainSeconds, 1e-9),
    };
  } finally {
    [w, x, labels, lossLog].forEach((t) => t.dispose());
    w.grad?.dispose();
    optimizer.dispose();
  }
}
