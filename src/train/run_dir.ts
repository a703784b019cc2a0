/**
 * The run folder: what a training run writes and how a saved run is read back.
 *
 * | file | content |
 * | --- | --- |
 * | `config.json` | every setting, the seed, Deno version, adapter, dataset sizes |
 * | `metrics.csv` | one row per epoch: loss, learning rate, logit scale, steps/s, every metric |
 * | `checkpoint.safetensors` | the best model (or the final one without validation), standard layout; metadata: model config, epoch, metrics |
 * | `state.safetensors` | model + AdamW moments + loop position, for `--resume` |
 * | `summary.json` | best epoch, its metrics, steps/s, wall time |
 * | `curves.png` | loss and R@K by epoch |
 * | `examples.png` | image datasets: text queries with their top-5 images, the right one marked |
 *
 * Every file is written atomically (temporary file, then rename).
 *
 * @module
 */

import { stringify } from "csv-stringify";
import { readSafetensors, writeSafetensors } from "../data/safetensors.ts";
import { DataError, readTextFile, writeFileAtomic } from "../data/errors.ts";
import { checkpointFromFile, runConfigFromText, stateFromFile } from "./schema.ts";
import type { RerankConfig } from "./rerank.ts";
import type { DualEncoder, DualEncoderConfig } from "../model/dual_encoder.ts";
import type { AdamW } from "../optim/adamw.ts";
import type { EpochRecord, LoopState, TrainConfig } from "./trainer.ts";
import type { RetrievalMetrics } from "./evaluate.ts";

/** Checkpoint format tag in the safetensors metadata. */
export const CHECKPOINT_FORMAT = "crossrank-dual-encoder/1";

/** Training-state format tag in the safetensors metadata. */
export const STATE_FORMAT = "crossrank-train-state/1";

/** File names inside a run folder. */
export const RUN_FILES = {
  config: "config.json",
  metrics: "metrics.csv",
  checkpoint: "checkpoint.safetensors",
  state: "state.safetensors",
  summary: "summary.json",
  curves: "curves.png",
  examples: "examples.png",
} as const;

/** `dir/name`. */
export function runPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/** Writes a JSON file atomically (2-space indented). */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

const METRIC_KEYS = ["R@1", "R@5", "R@10", "MedR", "MeanR", "mAP", "NDCG@10"] as const;

/** The header of `metrics.csv`. */
export function metricsHeader(): string[] {
  return [
    "epoch",
    "step",
    "loss",
    "lr",
    "logit_scale",
    "steps_per_sec",
    ...METRIC_KEYS.map((k) => `t2i_${k}`),
    ...METRIC_KEYS.map((k) => `i2t_${k}`),
    "rsum",
  ];
}

function metricCells(m: RetrievalMetrics | null): (number | string)[] {
  if (!m) return [...METRIC_KEYS.map(() => ""), ...METRIC_KEYS.map(() => ""), ""];
  return [...METRIC_KEYS.map((k) => m.t2i[k]), ...METRIC_KEYS.map((k) => m.i2t[k]), m.rsum];
}

/** Rewrites `metrics.csv` from the history. */
export async function writeMetricsCsv(dir: string, history: EpochRecord[]): Promise<void> {
  const rows = history.map((r) => [
    r.epoch,
    r.step,
    Number.isFinite(r.loss) ? r.loss : "",
    r.lr,
    r.logitScale,
    r.stepsPerSec,
    ...metricCells(r.metrics),
  ]);
  const text = stringify([metricsHeader(), ...rows]);
  await writeFileAtomic(runPath(dir, RUN_FILES.metrics), new TextEncoder().encode(text));
}

/** Writes the model as `checkpoint.safetensors` with its config and metrics in the metadata. */
export async function writeCheckpoint(
  path: string,
  model: DualEncoder,
  info: {
    epoch: number;
    step: number;
    dataset: string;
    loss: string;
    metrics: RetrievalMetrics | null;
  },
): Promise<void> {
  const state = await model.stateDict();
  await writeSafetensors(path, state, {
    format: CHECKPOINT_FORMAT,
    model: JSON.stringify(model.config),
    epoch: String(info.epoch),
    step: String(info.step),
    dataset: info.dataset,
    loss: info.loss,
    metrics: JSON.stringify(info.metrics),
  });
}

/** A checkpoint read back: the model config and tensors. */
export interface LoadedCheckpoint {
  /** The model's configuration. */
  config: DualEncoderConfig;
  /** Parameter tensors by name. */
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
  /** The metadata strings. */
  metadata: Record<string, string>;
}

/**
 * Reads `checkpoint.safetensors` from a run folder (or a path to the file itself), validated (see
 * `./schema.ts`: format version, model config, every tensor's shape, finite weights); errors name
 * the file and the field.
 */
export async function readCheckpoint(runDirOrFile: string): Promise<LoadedCheckpoint> {
  let path = runDirOrFile;
  try {
    if ((await Deno.stat(runDirOrFile)).isDirectory) {
      path = runPath(runDirOrFile, RUN_FILES.checkpoint);
    }
  } catch {
    throw new DataError(`checkpoint: ${runDirOrFile} does not exist`);
  }
  return checkpointFromFile(path, await readSafetensors(path), CHECKPOINT_FORMAT);
}

/** Saves model, optimiser moments and the loop position to `state.safetensors`. */
export async function writeState(
  dir: string,
  model: DualEncoder,
  optimizer: AdamW,
  state: LoopState,
): Promise<void> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, entry] of Object.entries(await model.stateDict())) {
    tensors[`model.${name}`] = entry;
  }
  for (const [name, t] of Object.entries(optimizer.stateTensors())) {
    tensors[name] = { shape: [...t.shape], data: await t.read() };
  }
  await writeSafetensors(runPath(dir, RUN_FILES.state), tensors, {
    format: STATE_FORMAT,
    loop: JSON.stringify(state, (_k, v) => (v === -Infinity ? "-Infinity" : v)),
    adam_t: String(optimizer.t),
  });
}

/** Restores model, optimiser and loop position from `state.safetensors`. */
export async function readState(
  dir: string,
  model: DualEncoder,
  optimizer: AdamW,
): Promise<LoopState> {
  const path = runPath(dir, RUN_FILES.state);
  const file = await readSafetensors(path).catch((e) => {
    throw new DataError(`cannot resume from ${dir}: ${(e as Error).message}`);
  });
  const slots = Object.entries(optimizer.stateTensors());
  const saved = stateFromFile(
    path,
    file,
    STATE_FORMAT,
    model.config,
    Object.fromEntries(slots.map(([name, t]) => [name, t.shape])),
  );
  model.loadStateDict(saved.model, path);
  for (const [name, t] of slots) t.write(new Float32Array(saved.optimizer[name].data));
  optimizer.t = saved.adamT;
  return saved.loop;
}

/**
 * Reads `config.json` of a training run, validated (see `./schema.ts`); with `"any"`, a rerank
 * run's config is accepted too.
 */
export async function readRunConfig(dir: string): Promise<TrainConfig & Record<string, unknown>>;
export async function readRunConfig(
  dir: string,
  kinds: "any",
): Promise<(TrainConfig | RerankConfig) & Record<string, unknown>>;
export async function readRunConfig(
  dir: string,
  kinds: "train" | "any" = "train",
): Promise<(TrainConfig | RerankConfig) & Record<string, unknown>> {
  const path = runPath(dir, RUN_FILES.config);
  return runConfigFromText(path, await readTextFile(path, "run config"), kinds);
}
