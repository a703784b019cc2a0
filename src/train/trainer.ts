/**
 * The training loop: projection heads trained with a ranking loss on in-batch similarity lists,
 * both directions, one GPU submission per step and no readback inside a step.
 *
 * Per step: gather the batch rows from the resident feature tensors, embed and L2-normalise both
 * modalities, form `S = exp(logit_scale)·T̂·Îᵀ`, apply the loss to the rows of S (text → image) and
 * to the rows of Sᵀ (image → text), average the two, backward, AdamW (with global-norm clipping and
 * a non-finite guard), and copy the loss into a ring buffer that is read every `logEvery` steps.
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { backward } from "../autodiff/tape.ts";
import { readTensors, scope, Tensor, untracked } from "../autodiff/tensor.ts";
import { axpby } from "../ops/elementwise.ts";
import { transpose } from "../ops/transpose.ts";
import { AdamW } from "../optim/adamw.ts";
import { rankingLossTensor } from "../losses/mod.ts";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import { MAX_LIST_ITEMS } from "../losses/launch.ts";
import { dccaLoss, type DccaOptions, dccaOptions, fitCca, isBatchLoss } from "../losses/dcca.ts";
import { gatherRows } from "../ops/gather.ts";
import { simix, simixPlan } from "../losses/simix.ts";
import { lowbias32, seededRandom } from "../util/random.ts";
import type { RetrievalDataset } from "../data/types.ts";
import type { GeneratorVersion } from "../data/synthetic.ts";
import { primaryImages, relevanceOf } from "../data/relation.ts";
import type { DataSource } from "../data/source.ts";
import type { SplitRecord } from "../data/load.ts";
import {
  DualEncoder,
  type DualEncoderConfig,
  MAX_LOGIT_SCALE,
  modelConfig,
  type ModelOptions,
} from "../model/dual_encoder.ts";
import { type Batch, BatchSampler } from "./batches.ts";
import { learningRate } from "./schedule.ts";
import { Progress } from "./progress.ts";
import { evaluateModel, NonFiniteEmbeddingError, type RetrievalMetrics } from "./evaluate.ts";
import { SizeLimitError } from "../util/limits.ts";
import { formatBytes } from "../gpu/device.ts";

/** Every training setting (written to `config.json`). */
export interface TrainConfig {
  /** Dataset path, or null for the embedded default. */
  data: string | null;
  /** Loss name (see `lossNames()`). */
  loss: string;
  /** Loss options (validated against the loss's defaults). */
  lossOptions: Record<string, unknown>;
  /**
   * SiMix (`--simix`): add similarity-mixup candidates to every in-batch list (see
   * `src/losses/simix.ts`; list losses only). Absent: off.
   */
  simix?: boolean;
  /** Epochs. */
  epochs: number;
  /** Images per batch. */
  batch: number;
  /** Captions sampled per image in a batch. */
  captionsPerImage: number;
  /** Peak learning rate; null picks {@link defaultLearningRate} for the model. */
  lr: number | null;
  /** Final learning rate as a fraction of `lr`. */
  minLrRatio: number;
  /** Warmup as a fraction of all steps. */
  warmup: number;
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Decay toward zero, toward the initial weights, or `auto` (initial weights for adapter heads). */
  decayTo: "auto" | "zero" | "init";
  /** Global gradient-norm clip (0 = off). */
  clip: number;
  /** Seed of initialisation and batch order. */
  seed: number;
  /** Seed of the default dataset and of the train/validation split. */
  dataSeed: number;
  /**
   * The embedded default dataset's generator (`v2` graded, `v1` the original); absent: the
   * default, `v2`. Ignored for data from a path.
   */
  dataGenerator?: GeneratorVersion;
  /** Validation fraction of the images (0 = no validation: keep the final weights). */
  valFraction: number;
  /** Test fraction of the images: held out, never read in training (0 = none). */
  testFraction: number;
  /** Model settings. */
  model: ModelOptions;
  /** Read the loss every N steps. */
  logEvery: number;
  /** Stop after this many steps in total (0 = no limit; for smoke tests and benchmarks). */
  maxSteps: number;
  /** Run folder. */
  out: string;
  /** Largest image of a raw collection, in pixels (default 40 million; `--max-megapixels`). */
  maxImagePixels?: number;
}

/** The training and validation splits the loop consumes. */
export interface TrainData {
  /** Training split. */
  train: RetrievalDataset;
  /** Validation split, or null (`--val-fraction 0`). */
  val: RetrievalDataset | null;
  /** The test split, when the data has one; never used for training. */
  test?: RetrievalDataset | null;
  /** Where the data came from (absent for data built in memory). */
  source?: DataSource;
  /** How it was split (absent for data built in memory). */
  split?: SplitRecord;
}

/** What happened in one epoch (a row of `metrics.csv`). */
export interface EpochRecord {
  /** 1-based epoch (0 = before training). */
  epoch: number;
  /** Optimisation steps taken so far. */
  step: number;
  /** Mean training loss over the epoch (NaN for epoch 0). */
  loss: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  /** Logit scale (exp of the learned log temperature). */
  logitScale: number;
  /** Training steps per second in this epoch (excluding evaluation). */
  stepsPerSec: number;
  /** Validation metrics, or null without a validation split. */
  metrics: RetrievalMetrics | null;
}

/** Loop position and history, saved for `--resume`. */
export interface LoopState {
  /** Epochs completed. */
  epoch: number;
  /** Steps completed in the current epoch. */
  stepInEpoch: number;
  /** Steps completed in total. */
  globalStep: number;
  /** Running sum of the current epoch's losses. */
  lossSum: number;
  /** Number of losses in {@link lossSum}. */
  lossCount: number;
  /** Seconds spent in training steps so far. */
  trainSeconds: number;
  /** Best validation rsum so far (−∞ if none). */
  bestRsum: number;
  /** Epoch of the best rsum. */
  bestEpoch: number;
  /** Every epoch so far. */
  history: EpochRecord[];
  /** Global weight norm before training (for the blow-up check; set at the first epoch). */
  initialWeightNorm?: number;
}

/** Hooks the CLI uses to persist the run (the loop itself writes nothing). */
export interface TrainHooks {
  /** A new epoch record (write metrics.csv, curves.png). */
  onEpoch?(record: EpochRecord, state: LoopState, model: DualEncoder): Promise<void>;
  /** A new best (or, without validation, the final) model: write the checkpoint. */
  onCheckpoint?(model: DualEncoder, record: EpochRecord): Promise<void>;
  /** Save a resumable state (called on interrupt and after each epoch). */
  onSaveState?(model: DualEncoder, optimizer: AdamW, state: LoopState): Promise<void>;
  /** Whether the user asked to stop (Ctrl-C). */
  interrupted?(): boolean;
  /** Progress output (default: a {@link Progress} on stderr). */
  progress?: Progress;
}

/** Thrown when training diverges (non-finite values, or weights blowing up); names the step. */
export class DivergenceError extends Error {
  /** The first bad step (1-based), or the step at which it was seen. */
  readonly step: number;
  /** @param step the step; @param what what happened */
  constructor(step: number, what: string) {
    super(`training stopped at step ${step}: ${what}`);
    this.name = "DivergenceError";
    this.step = step;
  }
}

/** Thrown when the loss, a gradient, an embedding or a weight becomes NaN or infinite. */
export class NonFiniteError extends DivergenceError {
  /**
   * @param step the step
   * @param what what was non-finite
   * @param note what it means or what was done about it
   */
  constructor(step: number, what: string, note?: string) {
    super(step, `${what} is not finite${note ? ` (${note})` : ""}`);
    this.name = "NonFiniteError";
  }
}

/**
 * Training stops when the global weight norm exceeds this multiple of its initial value (or of 1,
 * for zero-initialised weights): finite but useless weights (norms of 1e13 from a learning rate of
 * 1e3) are caught before they are saved or overflow at validation.
 */
export const WEIGHT_BLOWUP_FACTOR = 1e3;

/**
 * The batch column of each text's own image: the image with its highest grade (the first such, so
 * its source image, which carries the caption's highest grade).
 */
export function ownImages(batch: Batch): number[] {
  const cols = batch.images.length;
  return batch.texts.map((_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) {
      if (batch.relevance[r * cols + c] > batch.relevance[r * cols + best]) best = c;
    }
    return best;
  });
}

/** The global L2 norm of a model's weights, from their values read back. */
function weightNorm(weights: readonly Float32Array[]): number {
  let sum = 0;
  for (const data of weights) {
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
  }
  return Math.sqrt(sum);
}

/** Result of {@link trainLoop}. */
export interface TrainResult {
  /** Final loop state (history included). */
  state: LoopState;
  /** Whether the loop stopped early on an interrupt. */
  interrupted: boolean;
  /** Training steps per second over the whole run (excluding evaluation). */
  stepsPerSec: number;
}

/**
 * The default peak learning rate: 2e-3 for freshly initialised heads, 2e-4 for identity-initialised
 * adapters on pretrained features (fine-tuning: a large step undoes the pretrained alignment).
 */
export function defaultLearningRate(model: DualEncoder): number {
  return model.config.text.kind === "adapter" ? 2e-4 : 2e-3;
}

/** A fresh loop state. */
export function initialState(): LoopState {
  return {
    epoch: 0,
    stepInEpoch: 0,
    globalStep: 0,
    lossSum: 0,
    lossCount: 0,
    trainSeconds: 0,
    bestRsum: -Infinity,
    bestEpoch: 0,
    history: [],
  };
}

/**
 * Throws a {@link SizeLimitError} naming `batch` when one step's widest buffer — the texts' widest
 * activation or the texts × images score matrix — would not fit one GPU buffer.
 */
export function checkBatchSize(
  config: Pick<TrainConfig, "batch" | "captionsPerImage">,
  model: DualEncoderConfig,
  numImages: number,
): void {
  const limit = rt().device.limits.maxStorageBufferBindingSize;
  // A final single image joins the batch before it: at most batch + 1 images.
  const images = Math.min(config.batch + 1, numImages);
  const texts = images * config.captionsPerImage;
  const { text, image } = model;
  const width = Math.max(text.inDim, text.hidden, text.outDim, image.inDim, image.hidden);
  const floats = Math.max(texts * width, texts * images);
  if (floats * 4 > limit) {
    // The largest image count B with B · captions · max(width, B) floats within the limit.
    const perWidth = Math.floor(limit / (4 * config.captionsPerImage * width));
    const most = perWidth <= width
      ? perWidth
      : Math.floor(Math.sqrt(limit / (4 * config.captionsPerImage)));
    throw new SizeLimitError(
      "batch",
      config.batch,
      `a step would need a buffer of ${texts} texts × ${Math.max(width, images)} floats ` +
        `(${formatBytes(floats * 4)}), over the ${formatBytes(limit)} one GPU buffer can hold; ` +
        `batch ≤ ${Math.max(2, most - 1)} fits`,
    );
  }
}

/** Builds the model and optimiser for `data` and `config`. */
export function buildModel(
  config: TrainConfig,
  data: TrainData,
): { model: DualEncoder; optimizer: AdamW } {
  const { train } = data;
  const model = new DualEncoder(
    modelConfig(train.textDim, train.imageDim, {
      ...config.model,
      // a batch loss (dcca) scores in its final linear CCA's space
      ...(isBatchLoss(config.loss) ? { cca: true } : {}),
    }),
    config.seed,
  );
  try {
    checkBatchSize(config, model.config, train.numImages);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const params = [...model.namedParameters()].filter(([, t]) => t.requiresGrad).map((
    [name, t],
  ) =>
    name === "logit_scale"
      ? { tensor: t, weightDecay: 0, clamp: [0, MAX_LOGIT_SCALE] as [number, number] }
      : name.endsWith(".b1") || name.endsWith(".b2")
      ? { tensor: t, weightDecay: 0 }
      : { tensor: t }
  );
  const optimizer = new AdamW(params, {
    lr: config.lr ?? defaultLearningRate(model),
    weightDecay: config.weightDecay,
    decayTo: config.decayTo === "auto"
      ? (model.config.text.kind === "adapter" ? "init" : "zero")
      : config.decayTo,
    maxGradNorm: config.clip,
  });
  return { model, optimizer };
}

/** Feature matrices on the GPU for the whole training split. */
class ResidentFeatures {
  readonly texts: Tensor;
  readonly images: Tensor;
  constructor(ds: RetrievalDataset) {
    [this.texts, this.images] = untracked(() => [
      Tensor.from(ds.texts, [ds.numTexts, ds.textDim], { label: `${ds.name} texts` }),
      Tensor.from(ds.images, [ds.numImages, ds.imageDim], { label: `${ds.name} images` }),
    ]);
  }
  dispose(): void {
    this.texts.dispose();
    this.images.dispose();
  }
}

/**
 * Runs (or resumes) training. `state` is the loop position (from {@link initialState} or a saved
 * run); the model and optimiser come from {@link buildModel} (and a checkpoint when resuming).
 */
export async function trainLoop(
  config: TrainConfig,
  data: TrainData,
  model: DualEncoder,
  optimizer: AdamW,
  state: LoopState,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  await initGpu();
  const batchLoss = isBatchLoss(config.loss);
  const lossDef = batchLoss ? null : getLoss(config.loss);
  const lossOptions = lossDef ? resolveOptions(lossDef, config.lossOptions) : {};
  const dcca = batchLoss ? dccaOptions(config.lossOptions) : null;
  if (dcca && config.simix) {
    throw new RangeError(`--simix mixes list candidates; '${config.loss}' is a batch loss`);
  }
  const scoreSpace = lossDef?.scores ?? "logits";
  const progress = hooks.progress ?? new Progress();
  const { train, val } = data;
  const sampler = new BatchSampler(relevanceOf(train), train.numImages, {
    batchImages: config.batch,
    captionsPerImage: config.captionsPerImage,
    seed: config.seed,
  });
  if (lossDef && sampler.longestList > MAX_LIST_ITEMS) {
    throw new RangeError(
      `--batch ${config.batch} with --captions-per-image ${config.captionsPerImage} gives ` +
        `in-batch lists of up to ${sampler.longestList} items, over the ${MAX_LIST_ITEMS} a loss ` +
        'can put in label order here (llvmpipe\'s loop limit, README "Losses"): use a smaller ' +
        "--batch or --captions-per-image",
    );
  }
  const perEpoch = sampler.batchesPerEpoch;
  const plannedSteps = perEpoch * config.epochs;
  const totalSteps = config.maxSteps > 0 ? Math.min(plannedSteps, config.maxSteps) : plannedSteps;
  const warmupSteps = Math.round(config.warmup * totalSteps);
  const peak = config.lr ?? defaultLearningRate(model);
  const schedule = { lr: peak, totalSteps, warmupSteps, minRatio: config.minLrRatio };
  const features = new ResidentFeatures(train);
  const ring = untracked(() =>
    Tensor.zeros([Math.max(1, config.logEvery)], { label: "loss ring" })
  );
  let ringFill = 0;
  /** The latest loss read back (the ring is read every `logEvery` steps and at epoch ends). */
  let lastLoss: number | undefined;
  let ringFirstStep = state.globalStep + 1;
  let interrupted = false;

  /** dcca: fits the final linear CCA on the whole training part into the model. */
  const fitFinalCca = async (options: DccaOptions) => {
    const d = model.config.text.outDim;
    const texts = await model.embedAll("texts", train.texts, train.numTexts, 4096, true);
    const images = await model.embedAll("images", train.images, train.numImages, 4096, true);
    const own = primaryImages(relevanceOf(train));
    const paired = new Float32Array(train.numTexts * d);
    own.forEach((img, t) => paired.set(images.subarray(img * d, (img + 1) * d), t * d));
    const fit = fitCca(texts, paired, train.numTexts, d, options.reg);
    model.setCca(fit.text, fit.image);
  };

  const evaluate = async (): Promise<RetrievalMetrics | null> => {
    if (dcca) await fitFinalCca(dcca);
    if (!val) return null;
    try {
      return await evaluateModel(model, val);
    } catch (e) {
      if (e instanceof NonFiniteEmbeddingError) {
        throw new NonFiniteError(
          state.globalStep,
          `at validation, ${e.what}`,
          "the weights diverged",
        );
      }
      throw e;
    }
  };

  /**
   * Reads the losses of the ring, the optimiser's non-finite guard and the `also` tensors in one
   * GPU wait, checks the first two and returns the values of the `also` tensors.
   */
  const flushRing = async (also: Tensor[] = []): Promise<Float32Array[]> => {
    if (ringFill === 0 && also.length === 0) return [];
    const [ringData, status, ...rest] = await readTensors([ring, optimizer.guardStatus, ...also]);
    const values = ringData.subarray(0, ringFill);
    const bad = status[0];
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new NonFiniteError(ringFirstStep + i, "the loss");
      state.lossSum += values[i];
      state.lossCount++;
    }
    if (values.length > 0) lastLoss = values[values.length - 1];
    if (bad > 0) throw new NonFiniteError(bad, "the gradient norm");
    ringFill = 0;
    ringFirstStep = state.globalStep + 1;
    return rest;
  };
  const weights = [...model.namedParameters().values()];

  /** The batch loss `dcca` on each text and its own image's embedding (see src/losses/dcca.ts). */
  const batchLossOf = (batch: Batch, options: DccaOptions) => {
    const t = model.headEmbed("texts", gatherRows(features.texts, batch.texts));
    const i = model.headEmbed("images", gatherRows(features.images, batch.images));
    return dccaLoss(t, gatherRows(i, ownImages(batch)), options);
  };

  /** SiMix candidates added since the run (or its resumption) started, for the warning below. */
  let simixAdded = 0;
  let simixWarned = false;

  /** The list loss of `[lists, n]` scores, with SiMix candidates added when asked (step-seeded). */
  const listLoss = (s: Tensor, labels: Float32Array, lists: number, n: number, seed: number) => {
    const options = lossDef?.stepOptions?.(lossOptions, seed) ?? lossOptions;
    if (!config.simix) {
      return rankingLossTensor(config.loss, s, Tensor.from(labels, [lists, n]), options);
    }
    const plan = simixPlan(labels, lists, n, seededRandom(seed));
    simixAdded += plan.pairs.length;
    const mixed = simix(s, plan);
    return rankingLossTensor(config.loss, mixed.scores, mixed.labels, options);
  };

  const listLossOf = (batch: Batch, stepNumber: number) => {
    const s = model.batchSimilarity(
      features.texts,
      batch.texts,
      features.images,
      batch.images,
      scoreSpace,
    );
    const [texts, images] = [batch.texts.length, batch.images.length];
    const seed = lowbias32((config.seed * 0x9e3779b1 + stepNumber) >>> 0);
    if (lossDef?.bothWays && !config.simix) {
      // One call for both directions (the same gradient bits as the two calls below).
      const options = lossDef.stepOptions?.(lossOptions, seed) ?? lossOptions;
      return lossDef.bothWays(s, Tensor.from(batch.relevance, [texts, images]), options);
    }
    const t2i = listLoss(s, batch.relevance, texts, images, seed);
    const i2t = listLoss(transpose(s), batch.relevanceT, images, texts, lowbias32(seed ^ 1));
    return axpby(0.5, t2i, 0.5, i2t);
  };

  const step = (batch: Batch, lr: number) =>
    scope(() => {
      const loss = dcca ? batchLossOf(batch, dcca) : listLossOf(batch, state.globalStep + 1);
      backward(loss);
      optimizer.step(lr);
      optimizer.zeroGrad();
      rt().copy(loss.buffer, 0, ring.buffer, ringFill * 4, 4);
    });

  try {
    state.initialWeightNorm ??= weightNorm(await readTensors(weights));
    if (state.history.length === 0) {
      const metrics = await evaluate();
      const record: EpochRecord = {
        epoch: 0,
        step: 0,
        loss: NaN,
        lr: 0,
        logitScale: Math.exp(await model.logScale.item()),
        stepsPerSec: 0,
        metrics,
      };
      state.history.push(record);
      if (metrics) progress.log(`epoch 0 (before training): val rsum ${metrics.rsum.toFixed(1)}`);
      await hooks.onEpoch?.(record, state, model);
    }
    if (state.epoch < config.epochs && state.globalStep < totalSteps) {
      // Warm-up: the loss and its gradients for the next batch, with no update and nothing
      // counted, so that first-use pipeline compiles (seconds on llvmpipe without Mesa's disk
      // cache) are not in the first epoch's steps/s. The training that follows is unchanged.
      const batch = sampler.epoch(state.epoch)[state.stepInEpoch];
      const counted = simixAdded;
      if (batch) {
        scope(() => {
          backward(dcca ? batchLossOf(batch, dcca) : listLossOf(batch, state.globalStep + 1));
          optimizer.zeroGrad();
        });
      }
      simixAdded = counted;
      await rt().sync();
    }
    let lr = learningRate(Math.max(1, state.globalStep), schedule);
    while (state.epoch < config.epochs && state.globalStep < totalSteps) {
      const batches = sampler.epoch(state.epoch);
      const epochStart = performance.now();
      const stepsAtStart = state.stepInEpoch;
      for (let b = state.stepInEpoch; b < batches.length && state.globalStep < totalSteps; b++) {
        // Checked before every step: an interrupt (also one during validation) stops here.
        if (hooks.interrupted?.()) {
          interrupted = true;
          break;
        }
        lr = learningRate(state.globalStep + 1, schedule);
        const profiler = rt().profiler;
        profiler?.beginStep();
        step(batches[b], lr);
        rt().submit();
        profiler?.endStep();
        state.globalStep++;
        state.stepInEpoch = b + 1;
        ringFill++;
        if (ringFill === ring.size) await flushRing();
        const seconds = (performance.now() - epochStart) / 1000;
        progress.update({
          label: `epoch ${state.epoch + 1}/${config.epochs}`,
          done: state.globalStep,
          total: totalSteps,
          unit: "steps",
          elapsed: state.trainSeconds + seconds,
          rate: (state.stepInEpoch - stepsAtStart) / Math.max(seconds, 1e-9),
          extra: (lastLoss === undefined ? "" : `loss ${lastLoss.toFixed(4)}  `) +
            `lr ${lr.toExponential(2)}`,
        });
      }
      // One GPU wait per epoch: the last losses, the guard and the weights.
      const norm = weightNorm(await flushRing(weights));
      const limit = WEIGHT_BLOWUP_FACTOR * Math.max(state.initialWeightNorm ?? 1, 1);
      if (!Number.isFinite(norm)) {
        throw new NonFiniteError(state.globalStep, "the weight norm", "the weights diverged");
      }
      if (norm > limit) {
        throw new DivergenceError(
          state.globalStep,
          `the weight norm grew to ${norm.toExponential(2)}, over ${WEIGHT_BLOWUP_FACTOR}× its ` +
            `initial ${(state.initialWeightNorm ?? 0).toExponential(2)} (the weights diverged)`,
        );
      }
      const epochSeconds = (performance.now() - epochStart) / 1000;
      state.trainSeconds += epochSeconds;
      if (interrupted) {
        await hooks.onSaveState?.(model, optimizer, state);
        break;
      }
      const stepsDone = state.stepInEpoch - stepsAtStart;
      const metrics = await evaluate();
      const record: EpochRecord = {
        epoch: state.epoch + 1,
        step: state.globalStep,
        loss: state.lossCount > 0 ? state.lossSum / state.lossCount : NaN,
        lr,
        logitScale: Math.exp(await model.logScale.item()),
        stepsPerSec: stepsDone / Math.max(epochSeconds, 1e-9),
        metrics,
      };
      state.history.push(record);
      state.epoch++;
      state.stepInEpoch = 0;
      state.lossSum = 0;
      state.lossCount = 0;
      const rsum = metrics?.rsum ?? -Infinity;
      const isLast = state.epoch >= config.epochs || state.globalStep >= totalSteps;
      progress.log(
        `epoch ${record.epoch}/${config.epochs}  loss ${record.loss.toFixed(4)}` +
          (metrics
            ? `  val R@1 t2i ${metrics.t2i["R@1"].toFixed(1)} i2t ${
              metrics.i2t["R@1"].toFixed(1)
            }` +
              `  rsum ${rsum.toFixed(1)}`
            : "") +
          `  ${record.stepsPerSec.toFixed(1)} steps/s`,
      );
      if (config.simix && simixAdded === 0 && !simixWarned) {
        simixWarned = true;
        progress.log(
          "--simix: no in-batch list of this epoch held two relevant items, so SiMix added no " +
            "candidates (it mixes pairs of relevant items): so far the run is the loss without --simix",
        );
      }
      if (metrics ? rsum > state.bestRsum : isLast) {
        state.bestRsum = rsum;
        state.bestEpoch = record.epoch;
        await hooks.onCheckpoint?.(model, record);
      }
      await hooks.onEpoch?.(record, state, model);
      await hooks.onSaveState?.(model, optimizer, state);
    }
  } finally {
    features.dispose();
    ring.dispose();
  }
  const steps = state.history.reduce((s, r) => Math.max(s, r.step), 0);
  return { state, interrupted, stepsPerSec: steps / Math.max(state.trainSeconds, 1e-9) };
}
