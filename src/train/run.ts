/**
 * One whole training run, as `deno task train` and `deno task compare` use it: load the data,
 * build (or resume) the model, run the loop, and write the run folder (see `./run_dir.ts`).
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { writeFileAtomic } from "../data/errors.ts";
import type { RetrievalDataset } from "../data/types.ts";
import type { RetrievalMetrics } from "../eval/metrics.ts";
import { loadTrainData } from "./data.ts";
import { evaluateModel } from "./evaluate.ts";
import { Progress } from "./progress.ts";
import {
  readCheckpoint,
  readState,
  RUN_FILES,
  runPath,
  writeCheckpoint,
  writeJson,
  writeMetricsCsv,
  writeState,
} from "./run_dir.ts";
import {
  buildModel,
  type EpochRecord,
  initialState,
  type LoopState,
  NonFiniteError,
  type TrainConfig,
  type TrainData,
  trainLoop,
} from "./trainer.ts";

/** What `summary.json` holds. */
export interface RunSummary {
  /** Run folder. */
  run: string;
  /** Loss name. */
  loss: string;
  /** Loss options as given. */
  lossOptions: Record<string, unknown>;
  /** Dataset name. */
  dataset: string;
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
  /** Test-split metrics of the kept checkpoint (the default dataset has a test split). */
  test: RetrievalMetrics | null;
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

/** Options of {@link runTraining}. */
export interface RunOptions {
  /** Data already loaded (compare shares one load across runs); loaded from the config if absent. */
  data?: TrainData;
  /** Continue from `config.out`'s `state.safetensors`. */
  resume?: boolean;
  /** Progress output. */
  progress?: Progress;
  /** Whether the user asked to stop. */
  interrupted?: () => boolean;
  /** Draws `curves.png` and `examples.png` (the CLI passes `src/report/run_plots.ts`); none: no PNG. */
  plots?: RunPlots;
}

/** The charts of a run folder, drawn by the caller (training itself draws nothing). */
export interface RunPlots {
  /** `curves.png` from the epoch history. */
  curves(history: EpochRecord[], title: string): Promise<Uint8Array>;
  /** `examples.png`: text queries of `ds` with their top images (absent: not drawn). */
  examples?(
    ds: RetrievalDataset,
    textEmb: Float32Array,
    imageEmb: Float32Array,
    dim: number,
    queries: number[],
  ): Promise<Uint8Array>;
  /** Whether `ds` has images to draw. */
  hasImages(ds: RetrievalDataset): boolean;
}

/** Outcome of {@link runTraining}. */
export interface RunOutcome {
  /** The summary (null when interrupted or failed). */
  summary: RunSummary | null;
  /** Stopped by an interrupt (a resumable state was saved). */
  interrupted: boolean;
  /** Steps taken. */
  step: number;
  /** Why training stopped early (non-finite loss), with where the last good checkpoint is. */
  error?: string;
}

/** Trains one model as `config` says and writes its run folder. */
export async function runTraining(
  config: TrainConfig,
  options: RunOptions = {},
): Promise<RunOutcome> {
  const runtime = await initGpu();
  const progress = options.progress ?? new Progress();
  const started = performance.now();
  progress.log(`crossrank train: loss ${config.loss}, data ${config.data ?? "embedded default"}`);
  const data = options.data ?? await loadTrainData(config.data, {
    valFraction: config.valFraction,
    dataSeed: config.dataSeed,
    log: (l) => progress.log(l),
  });
  const { train, val } = data;
  const { model, optimizer } = buildModel(config, data);
  try {
    await Deno.mkdir(config.out, { recursive: true });
    let state: LoopState = initialState();
    if (options.resume) {
      state = await readState(config.out, model, optimizer);
      progress.log(`resuming ${config.out} at epoch ${state.epoch + 1}, step ${state.globalStep}`);
    } else {
      await writeJson(runPath(config.out, RUN_FILES.config), {
        ...config,
        deno: Deno.version.deno,
        adapter: runtime.gpu.adapterName,
        backend: runtime.gpu.backend,
        dataset: {
          name: train.name,
          train: { images: train.numImages, texts: train.numTexts },
          val: val ? { images: val.numImages, texts: val.numTexts } : null,
          textDim: train.textDim,
          imageDim: train.imageDim,
        },
        resolvedModel: model.config,
      });
    }
    const checkpointPath = runPath(config.out, RUN_FILES.checkpoint);
    let lastCheckpoint = state.bestEpoch > 0
      ? `epoch ${state.bestEpoch}` +
        (Number.isFinite(state.bestRsum) ? `, val rsum ${state.bestRsum.toFixed(1)}` : "")
      : "";
    let result;
    try {
      result = await trainLoop(config, data, model, optimizer, state, {
        progress,
        interrupted: options.interrupted,
        onEpoch: async (_record, s) => {
          await writeMetricsCsv(config.out, s.history);
          const png = await options.plots?.curves(s.history, config.loss);
          if (png) await writeFileAtomic(runPath(config.out, RUN_FILES.curves), png);
        },
        onCheckpoint: async (m, record) => {
          await writeCheckpoint(checkpointPath, m, {
            epoch: record.epoch,
            step: record.step,
            dataset: train.name,
            loss: config.loss,
            metrics: record.metrics,
          });
          lastCheckpoint = `epoch ${record.epoch}` +
            (record.metrics ? `, val rsum ${record.metrics.rsum.toFixed(1)}` : "");
        },
        onSaveState: (m, o, s) => writeState(config.out, m, o, s),
      });
    } catch (e) {
      if (e instanceof NonFiniteError) {
        const kept = lastCheckpoint
          ? `the last good checkpoint (${lastCheckpoint}) is kept at ${checkpointPath}`
          : `no checkpoint had been written yet`;
        return {
          summary: null,
          interrupted: false,
          step: e.step,
          error: `${e.message}; ${kept}. Try a lower --lr, or --clip.`,
        };
      }
      throw e;
    }
    if (result.interrupted) {
      return { summary: null, interrupted: true, step: result.state.globalStep };
    }
    const s = result.state;
    const best = s.history.find((r) => r.epoch === s.bestEpoch) ?? s.history.at(-1)!;
    // Reload the kept checkpoint so the test metrics and examples describe the model on disk.
    const kept = await readCheckpoint(checkpointPath);
    model.loadStateDict(kept.tensors, checkpointPath);
    const test = data.test ?? null;
    const summary: RunSummary = {
      run: config.out,
      loss: config.loss,
      lossOptions: config.lossOptions,
      dataset: train.name,
      seed: config.seed,
      epochs: s.epoch,
      steps: s.globalStep,
      bestEpoch: best.epoch,
      best: best.metrics,
      initial: s.history[0].metrics,
      test: test && test.numImages > 0 ? await evaluateModel(model, test) : null,
      stepsPerSec: result.stepsPerSec,
      trainSeconds: s.trainSeconds,
      wallSeconds: (performance.now() - started) / 1000,
      adapter: runtime.gpu.adapterName,
      deno: Deno.version.deno,
    };
    await writeJson(runPath(config.out, RUN_FILES.summary), summary);
    const plots = options.plots;
    if (plots?.examples && val && plots.hasImages(val)) {
      const textEmb = await model.embedAll("texts", val.texts, val.numTexts);
      const imageEmb = await model.embedAll("images", val.images, val.numImages);
      const queries = [0, 1, 2, 3].map((i) => Math.floor((i * val.numTexts) / 4));
      await writeFileAtomic(
        runPath(config.out, RUN_FILES.examples),
        await plots.examples(val, textEmb, imageEmb, model.config.text.outDim, queries),
      );
    }
    await rt().sync();
    return { summary, interrupted: false, step: s.globalStep };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
