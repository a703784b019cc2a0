/**
 * The run folder: what a training run writes and how a saved run is read back.
 *
 * | file | content |
 * | --- | --- |
 * | `config.json` | every setting, the seed, Deno version, adapter, dataset sizes |
 * | `metrics.csv` | one row per epoch: loss, learning rate, logit scale, steps/s, every metric |
 * | `checkpoint.safetensors` | the best model (or the final one without validation), standard layout; metadata: model config, epoch, metrics |
 * | `state.safetensors` | model + AdamW moments + loop position, for `--resume` |
 * | `summary.json` | `status` (completed, failed, interrupted), best epoch, its metrics, steps/s, wall time |
 * | `ranks-<part>.csv` | per-query ranks of the kept checkpoint on the held-out part (test, else val) |
 * | `curves.png` | loss and R@K by epoch |
 * | `examples.png` | image datasets: text queries with their top-5 images, the right one marked |
 *
 * Every file is written atomically (temporary file, then rename); leftovers of a killed write are
 * removed when a run starts or resumes. A new run refuses a non-empty folder unless told to clear
 * it, and `config.json`, the checkpoint and the state carry one run id, so a state or checkpoint
 * from another run is never resumed or reported under this run's name.
 *
 * @module
 */

import { stringify } from "csv-stringify";
import { readSafetensors, writeSafetensors } from "../data/safetensors.ts";
import { DataError, readTextFile, writeFileAtomic } from "../data/errors.ts";
import { checkFormat, checkpointFromFile, runConfigFromText, stateFromFile } from "./schema.ts";
import type { DualEncoder, DualEncoderConfig } from "../model/dual_encoder.ts";
import type { AdamW } from "../optim/adamw.ts";
import { type EpochRecord, type LoopState, NonFiniteError, type TrainConfig } from "./trainer.ts";
import type { RetrievalMetrics } from "./evaluate.ts";
import { METRIC_KEYS } from "../eval/metrics.ts";

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

/** The per-query ranks file of a run's evaluation on `part`. */
export function ranksFile(part: string): string {
  return `ranks-${part}.csv`;
}

/** Thrown when a run folder cannot be used as asked (not empty, not a run, another run's state). */
export class RunDirError extends Error {
  /** @param message what is wrong and which flag helps */
  constructor(message: string) {
    super(message);
    this.name = "RunDirError";
  }
}

/** A temporary file left by an interrupted {@link writeFileAtomic}. */
const TEMP_FILE = /\.tmp-\d+-[a-z0-9]+$/;

/** Removes leftovers of killed atomic writes in `dir`; returns how many. */
export async function removeTempFiles(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && TEMP_FILE.test(entry.name)) {
        await Deno.remove(runPath(dir, entry.name));
        removed++;
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}

/** Whether `dir` holds a crossrank run or compare folder (so `--force` may clear it). */
async function looksLikeRun(dir: string): Promise<boolean> {
  for (const marker of [RUN_FILES.config, RUN_FILES.summary, "results.json", "results.md"]) {
    try {
      if ((await Deno.stat(runPath(dir, marker))).isFile) return true;
    } catch {
      // not this one
    }
  }
  return false;
}

/**
 * Makes `dir` ready for a new run: created if absent; refused if it holds anything, unless
 * `force`, which clears it, and only when it is a crossrank run folder (never another folder).
 * `flag` names the option for messages (`--out`).
 */
export async function prepareNewRunDir(dir: string, force: boolean, flag = "--out"): Promise<void> {
  let entries: string[] = [];
  try {
    const stat = await Deno.stat(dir);
    if (!stat.isDirectory) throw new RunDirError(`${flag} ${dir} exists and is not a folder`);
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    entries = [];
  }
  if (entries.length > 0) {
    if (!force) {
      throw new RunDirError(
        `${flag} ${dir} is not empty (${entries.slice(0, 3).join(", ")}` +
          `${entries.length > 3 ? ", …" : ""}): results of two runs must not mix. Choose a new ` +
          `folder, continue that run with --resume ${dir}, or pass --force to clear it`,
      );
    }
    if (!(await looksLikeRun(dir))) {
      throw new RunDirError(
        `${flag} ${dir} is not empty and is not a crossrank run folder (no config.json, ` +
          "summary.json or results.json): --force clears only run folders; choose another folder",
      );
    }
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.mkdir(dir, { recursive: true });
}

/** Throws {@link NonFiniteError} when a weight of `state` is NaN or infinite. */
function assertFiniteWeights(
  state: Record<string, { data: Float32Array }>,
  step: number,
  what: string,
): void {
  for (const [name, t] of Object.entries(state)) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new NonFiniteError(step, `weight '${name}'`, `the ${what} was not written`);
      }
    }
  }
}

/** `dir/name`. */
export function runPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/** Writes a JSON file atomically (2-space indented). */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

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
    runId: string;
  },
): Promise<void> {
  const state = await model.stateDict();
  assertFiniteWeights(state, info.step, "checkpoint");
  await writeSafetensors(path, state, {
    format: CHECKPOINT_FORMAT,
    run_id: info.runId,
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
  runId: string,
): Promise<void> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const weights = await model.stateDict();
  assertFiniteWeights(weights, state.globalStep, "resumable state");
  for (const [name, entry] of Object.entries(weights)) {
    tensors[`model.${name}`] = entry;
  }
  for (const [name, t] of Object.entries(optimizer.stateTensors())) {
    tensors[name] = { shape: [...t.shape], data: await t.read() };
  }
  await writeSafetensors(runPath(dir, RUN_FILES.state), tensors, {
    format: STATE_FORMAT,
    run_id: runId,
    loop: JSON.stringify(state, (_k, v) => (v === -Infinity ? "-Infinity" : v)),
    adam_t: String(optimizer.t),
  });
}

/**
 * Restores model, optimiser and loop position from `state.safetensors`, which must belong to run
 * `runId` (the id in the folder's `config.json`).
 */
export async function readState(
  dir: string,
  model: DualEncoder,
  optimizer: AdamW,
  runId: string,
): Promise<LoopState> {
  const path = runPath(dir, RUN_FILES.state);
  try {
    await Deno.stat(path);
  } catch {
    throw new RunDirError(
      `cannot resume ${dir}: it has no ${RUN_FILES.state} (the run stopped before its first ` +
        `save); start it again with --force --out ${dir}`,
    );
  }
  const file = await readSafetensors(path).catch((e) => {
    throw new DataError(`cannot resume from ${dir}: ${(e as Error).message}`);
  });
  checkFormat(path, file.metadata, STATE_FORMAT, "training state");
  if (file.metadata.run_id !== runId) {
    throw new RunDirError(
      `${path} belongs to another run (run id ${file.metadata.run_id ?? "absent"}, ` +
        `config.json says ${runId}): refusing to resume it under this run's settings`,
    );
  }
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

/** Reads `config.json` of a training run, validated (see `./schema.ts`). */
export async function readRunConfig(dir: string): Promise<TrainConfig & Record<string, unknown>> {
  const path = runPath(dir, RUN_FILES.config);
  return runConfigFromText(path, await readTextFile(path, "run config"));
}
