/**
 * One whole training run, as `deno task train` and `deno task compare` use it: load the data,
 * build (or resume) the model, run the loop, and write the run folder (see `./run_dir.ts`).
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { writeFileAtomic } from "../data/errors.ts";
import type { SplitRecord } from "../data/load.ts";
import type { DataSource } from "../data/source.ts";
import { type RetrievalMetrics, retrievalMetrics } from "../eval/metrics.ts";
import { ranksCsv } from "../eval/ranks_file.ts";
import type { DualEncoder } from "../model/dual_encoder.ts";
import { loadTrainData } from "./data.ts";
import { evaluateModel, evaluateModelRanks, NonFiniteEmbeddingError } from "./evaluate.ts";
import { Progress } from "./progress.ts";
import {
  prepareNewRunDir,
  ranksFile,
  readCheckpoint,
  readRunConfig,
  readState,
  removeTempFiles,
  RUN_FILES,
  RunDirError,
  runPath,
  writeCheckpoint,
  writeJson,
  writeMetricsCsv,
  writeState,
} from "./run_dir.ts";
import {
  buildModel,
  DivergenceError,
  type EpochRecord,
  initialState,
  type LoopState,
  type TrainConfig,
  type TrainData,
  trainLoop,
} from "./trainer.ts";

/** How a run ended, as `summary.json`'s `status` says. */
export type RunStatus = "completed" | "failed" | "interrupted";

/** What `summary.json` holds for a completed run. */
export interface RunSummary {
  /** `completed` (a failed or interrupted run writes a {@link RunFailure} instead). */
  status: "completed";
  /** Run folder. */
  run: string;
  /** Loss name. */
  loss: string;
  /** Loss options as given. */
  lossOptions: Record<string, unknown>;
  /** Dataset name. */
  dataset: string;
  /** Where the data came from (null for data built in memory). */
  dataSource: DataSource | null;
  /** The split (null for data built in memory). */
  split: SplitRecord | null;
  /** Training seed. */
  seed: number;
  /** Epochs completed. */
  epochs: number;
  /** Steps taken. */
  steps: number;
  /** Epoch of the kept checkpoint. */
  bestEpoch: number;
  /** Validation metrics of the kept checkpoint (null without validation). */
  best: RetrievalMetrics | null;
  /** Validation metrics before training. */
  initial: RetrievalMetrics | null;
  /** Test-part metrics of the kept checkpoint (null without a test part). */
  test: RetrievalMetrics | null;
  /** Test-part metrics of the model before training (same initial weights). */
  initialTest: RetrievalMetrics | null;
  /** The part `ranks-<part>.csv` holds: test, else val (null when neither exists). */
  ranksPart: "test" | "val" | null;
  /** Training steps per second (excluding evaluation). */
  stepsPerSec: number;
  /** Seconds in training steps. */
  trainSeconds: number;
  /** Seconds for the whole run (data, evaluation and files included). */
  wallSeconds: number;
  /** The WebGPU adapter. */
  adapter: string;
  /** Deno version. */
  deno: string;
}

/** What `summary.json` holds for a run that failed or was interrupted. */
export interface RunFailure {
  /** `failed` or `interrupted`. */
  status: "failed" | "interrupted";
  /** Run folder. */
  run: string;
  /** Why it stopped. */
  error: string;
  /** Steps taken. */
  step: number;
  /** The checkpoint kept on disk, if any (`epoch E, val rsum R`). */
  checkpoint: string | null;
}

/** Hooks through which a caller draws the run's pictures (the CLI; the trainer draws nothing). */
export interface RunPictures {
  /** After each epoch, with the history so far: e.g. write `curves.png`. */
  onEpoch?(
    dir: string,
    history: EpochRecord[],
    config: TrainConfig,
    data: TrainData,
  ): Promise<void>;
  /** Once, with the kept model and the data, after `summary.json`: e.g. write `examples.png`. */
  onFinished?(dir: string, model: DualEncoder, data: TrainData): Promise<void>;
}

/** Options of {@link runTraining}. */
export interface RunOptions {
  /** Data already loaded (compare shares one load across runs); loaded from the config if absent. */
  data?: TrainData;
  /** Continue from `config.out`'s `state.safetensors`. */
  resume?: boolean;
  /** Clear a non-empty run folder (only a crossrank run folder) instead of refusing it. */
  force?: boolean;
  /** Progress output. */
  progress?: Progress;
  /** Whether the user asked to stop. */
  interrupted?: () => boolean;
  /** Picture hooks (none by default). */
  pictures?: RunPictures;
}

/** Outcome of {@link runTraining}. */
export interface RunOutcome {
  /** The summary (null when interrupted or failed). */
  summary: RunSummary | null;
  /** Stopped by an interrupt (a resumable state was saved). */
  interrupted: boolean;
  /** Steps taken. */
  step: number;
  /** Why training stopped early (non-finite values), with where the last good checkpoint is. */
  error?: string;
}

/**
 * Trains one model as `config` says and writes its run folder. A new run refuses a non-empty
 * `config.out` (unless `options.force`); a resumed one must find its own state there.
 */
export async function runTraining(
  config: TrainConfig,
  options: RunOptions = {},
): Promise<RunOutcome> {
  const runtime = await initGpu();
  const progress = options.progress ?? new Progress();
  const started = performance.now();
  let runId: string;
  if (options.resume) {
    const saved = await readRunConfig(config.out);
    runId = String(saved.runId ?? "");
    const removed = await removeTempFiles(config.out);
    if (removed > 0) {
      progress.log(`removed ${removed} unfinished temporary file(s) in ${config.out}`);
    }
  } else {
    await prepareNewRunDir(config.out, options.force ?? false);
    runId = crypto.randomUUID();
  }
  progress.log(`crossrank train: loss ${config.loss}, data ${config.data ?? "embedded default"}`);
  let lastCheckpoint: string | null = null;
  let step = 0;
  const fail = async (status: "failed" | "interrupted", error: string) => {
    const failure: RunFailure = {
      status,
      run: config.out,
      error,
      step,
      checkpoint: lastCheckpoint,
    };
    await writeJson(runPath(config.out, RUN_FILES.summary), failure);
  };
  let data: TrainData;
  let built: ReturnType<typeof buildModel>;
  try {
    data = options.data ?? await loadTrainData(config.data, {
      valFraction: config.valFraction,
      testFraction: config.testFraction,
      dataSeed: config.dataSeed,
      generator: config.dataGenerator,
      maxImagePixels: config.maxImagePixels,
      log: (l) => progress.log(l),
    });
    built = buildModel(config, data);
  } catch (e) {
    await fail("failed", (e as Error).message);
    throw e;
  }
  const { train, val } = data;
  const { model, optimizer } = built;
  let keepSummary = false;
  try {
    let state: LoopState = initialState();
    if (options.resume) {
      // A state that cannot be resumed leaves the folder's summary as it was.
      keepSummary = true;
      state = await readState(config.out, model, optimizer, runId);
      keepSummary = false;
      progress.log(`resuming ${config.out} at epoch ${state.epoch + 1}, step ${state.globalStep}`);
      if (state.bestEpoch > 0) {
        lastCheckpoint = `epoch ${state.bestEpoch}` +
          (Number.isFinite(state.bestRsum) ? `, val rsum ${state.bestRsum.toFixed(1)}` : "");
      }
    } else {
      await writeJson(runPath(config.out, RUN_FILES.config), {
        ...config,
        runId,
        deno: Deno.version.deno,
        adapter: runtime.gpu.adapterName,
        backend: runtime.gpu.backend,
        dataSource: data.source ?? null,
        split: data.split ?? null,
        dataset: {
          name: train.name,
          train: { images: train.numImages, texts: train.numTexts },
          val: val ? { images: val.numImages, texts: val.numTexts } : null,
          test: data.test ? { images: data.test.numImages, texts: data.test.numTexts } : null,
          textDim: train.textDim,
          imageDim: train.imageDim,
        },
        resolvedModel: model.config,
      });
    }
    step = state.globalStep;
    const checkpointPath = runPath(config.out, RUN_FILES.checkpoint);
    let result;
    try {
      result = await trainLoop(config, data, model, optimizer, state, {
        progress,
        interrupted: options.interrupted,
        onEpoch: async (_record, s) => {
          step = s.globalStep;
          await writeMetricsCsv(config.out, s.history);
          await options.pictures?.onEpoch?.(config.out, s.history, config, data);
        },
        onCheckpoint: async (m, record) => {
          await writeCheckpoint(checkpointPath, m, {
            epoch: record.epoch,
            step: record.step,
            dataset: train.name,
            loss: config.loss,
            metrics: record.metrics,
            runId,
          });
          lastCheckpoint = `epoch ${record.epoch}` +
            (record.metrics ? `, val rsum ${record.metrics.rsum.toFixed(1)}` : "");
        },
        onSaveState: (m, o, s) => writeState(config.out, m, o, s, runId),
      });
    } catch (e) {
      if (e instanceof DivergenceError) {
        step = e.step;
        const kept = lastCheckpoint
          ? `the last good checkpoint (${lastCheckpoint}) is kept at ${checkpointPath}, and ` +
            `${RUN_FILES.state} holds the last good weights`
          : "no checkpoint had been written yet";
        const error = `${e.message}; ${kept}. Try a lower --lr (a new run: --resume would ` +
          "repeat the same steps), or --clip.";
        await fail("failed", error);
        return { summary: null, interrupted: false, step: e.step, error };
      }
      throw e;
    }
    step = result.state.globalStep;
    if (result.interrupted) {
      await fail("interrupted", `interrupted at step ${step}; resume with --resume ${config.out}`);
      return { summary: null, interrupted: true, step };
    }
    const s = result.state;
    const best = s.history.find((r) => r.epoch === s.bestEpoch) ?? s.history.at(-1)!;
    // Reload the kept checkpoint so the test metrics and examples describe the model on disk.
    const kept = await readCheckpoint(checkpointPath);
    model.loadStateDict(kept.tensors, checkpointPath);
    const test = data.test ?? null;
    const ranksPart = test ? "test" : val ? "val" : null;
    const heldOut = test ?? val;
    const ranks = heldOut ? await evaluateModelRanks(model, heldOut) : null;
    if (ranks) {
      await writeFileAtomic(
        runPath(config.out, ranksFile(ranksPart!)),
        new TextEncoder().encode(ranksCsv(ranks)),
      );
    }
    const summary: RunSummary = {
      status: "completed",
      run: config.out,
      loss: config.loss,
      lossOptions: config.lossOptions,
      dataset: train.name,
      dataSource: data.source ?? null,
      split: data.split ?? null,
      seed: config.seed,
      epochs: s.epoch,
      steps: s.globalStep,
      bestEpoch: best.epoch,
      best: best.metrics,
      initial: s.history[0].metrics,
      test: test && ranks ? retrievalMetrics(ranks) : null,
      initialTest: test ? await initialMetrics(config, data, test) : null,
      ranksPart,
      stepsPerSec: result.stepsPerSec,
      trainSeconds: s.trainSeconds,
      wallSeconds: (performance.now() - started) / 1000,
      adapter: runtime.gpu.adapterName,
      deno: Deno.version.deno,
    };
    await writeJson(runPath(config.out, RUN_FILES.summary), summary);
    await options.pictures?.onFinished?.(config.out, model, data);
    await rt().sync();
    return { summary, interrupted: false, step: s.globalStep };
  } catch (e) {
    if (!(e instanceof RunDirError) && !keepSummary) {
      await fail("failed", (e as Error).message).catch(() => {});
    }
    throw e;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** The test metrics of the model before training (rebuilt from the seed: same initial weights). */
async function initialMetrics(
  config: TrainConfig,
  data: TrainData,
  test: NonNullable<TrainData["test"]>,
): Promise<RetrievalMetrics | null> {
  const { model, optimizer } = buildModel(config, data);
  try {
    return await evaluateModel(model, test);
  } catch (e) {
    if (e instanceof NonFiniteEmbeddingError) return null;
    throw e;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
