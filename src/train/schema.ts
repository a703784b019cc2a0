/**
 * One declared schema for everything a run folder holds and the code reads back: `config.json`,
 * the metadata and tensors of `checkpoint.safetensors`, `state.safetensors` and a rerank run's
 * `reranker.safetensors`. Every field the code reads is checked (kind, range, finiteness, format
 * version) and a fault is a {@link RunFileError} naming the file and the field, so a damaged or
 * foreign run fails at once instead of half-loading. Fields the code does not read are allowed and
 * kept (newer writers may add some).
 *
 * The checks are small combinators (`int`, `num`, `oneOf`, `obj`, …) over a value and its field
 * path; the schemas below are written with them.
 *
 * @example
 * ```ts
 * import { checkpointFromFile } from "./schema.ts";
 * import { readSafetensors } from "../data/safetensors.ts";
 * const path = "runs/x/checkpoint.safetensors";
 * const { config, tensors } = checkpointFromFile(path, await readSafetensors(path));
 * ```
 *
 * @module
 */

import { DataError } from "../data/errors.ts";
import { parseJsonStrict } from "../data/json.ts";
import type { SafetensorsFile } from "../data/safetensors.ts";
import { METRIC_KEYS } from "../eval/metrics.ts";
import { GENERATORS } from "../data/synthetic.ts";
import { type DualEncoderConfig, dualEncoderParamShapes } from "../model/dual_encoder.ts";
import type { RerankerOptions } from "../model/reranker.ts";
import type { LoopState, TrainConfig } from "./trainer.ts";

/** A fault of a run file: the file, the field (a path such as `model.text.kind`) and what is wrong. */
export class RunFileError extends DataError {
  /** The file. */
  readonly file: string;
  /** The field, as a path into the file (`metadata.model.text.kind`, `tensor 'text.W1'`). */
  readonly field: string;

  /**
   * @param file the file
   * @param field the field path
   * @param what what is wrong with it
   */
  constructor(file: string, field: string, what: string) {
    super(`${file}: ${field}: ${what}`);
    this.name = "RunFileError";
    this.file = file;
    this.field = field;
  }
}

/** Checks `value` at field `path` of `file`, returning it typed, or throws a {@link RunFileError}. */
export type Check<T> = (value: unknown, path: string, file: string) => T;

const show = (v: unknown) =>
  typeof v === "number" ? String(v) : JSON.stringify(v)?.slice(0, 80) ?? String(v);

/** A safe integer in `[min, max]`. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER): Check<number> {
  return (v, path, file) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
      throw new RunFileError(file, path, `${show(v)} is not an integer ${range}`);
    }
    return v;
  };
}

/** A finite number in `[min, max]` (`above`: strictly greater than it). */
export function num(
  { min = -Infinity, max = Infinity, above }: { min?: number; max?: number; above?: number } = {},
): Check<number> {
  return (v, path, file) => {
    const ok = typeof v === "number" && Number.isFinite(v) && v >= min && v <= max &&
      (above === undefined || v > above);
    if (!ok) {
      const range = above !== undefined
        ? `> ${above}`
        : max === Infinity
        ? (min === -Infinity ? "" : `≥ ${min}`)
        : `in [${min}, ${max}]`;
      throw new RunFileError(
        file,
        path,
        `${show(v)} is not a finite number${range && ` ${range}`}`,
      );
    }
    return v as number;
  };
}

/** One of the given strings. */
export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, path, file) => {
    if (typeof v !== "string" || !values.includes(v as T)) {
      throw new RunFileError(file, path, `${show(v)} is not one of ${values.join(", ")}`);
    }
    return v as T;
  };
}

/** Any string. */
export const str: Check<string> = (v, path, file) => {
  if (typeof v !== "string") throw new RunFileError(file, path, `${show(v)} is not a string`);
  return v;
};

/** `true` or `false`. */
export const bool: Check<boolean> = (v, path, file) => {
  if (typeof v !== "boolean") throw new RunFileError(file, path, `${show(v)} is not true/false`);
  return v;
};

/** `null` or the inner check. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path, file) => (v === null ? null : check(v, path, file));
}

/** Absent (`undefined`) or the inner check. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, path, file) => (v === undefined ? undefined : check(v, path, file));
}

/** An array whose every item passes `item`. */
export function arr<T>(item: Check<T>): Check<T[]> {
  return (v, path, file) => {
    if (!Array.isArray(v)) throw new RunFileError(file, path, `${show(v)} is not an array`);
    return v.map((x, i) => item(x, `${path}[${i}]`, file));
  };
}

/** An object whose values all pass `item`. */
export function record<T>(item: Check<T>): Check<Record<string, T>> {
  return (v, path, file) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new RunFileError(file, path, `${show(v)} is not an object`);
    }
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, item(x, `${path}.${k}`, file)]),
    );
  };
}

type Shape = Record<string, Check<unknown>>;
type Checked<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** An object with these fields (each checked; absent fields are `undefined` to their check); other fields are kept. */
export function obj<S extends Shape>(shape: S): Check<Checked<S> & Record<string, unknown>> {
  return (v, path, file) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new RunFileError(file, path, `${show(v)} is not an object`);
    }
    const out: Record<string, unknown> = { ...v };
    for (const [key, check] of Object.entries(shape)) {
      const value = (v as Record<string, unknown>)[key];
      const at = path ? `${path}.${key}` : key;
      if (value === undefined) {
        let absent: unknown;
        try {
          absent = check(undefined, at, file);
        } catch {
          throw new RunFileError(file, at, "missing");
        }
        if (absent === undefined) continue;
      }
      out[key] = check(value, at, file);
    }
    return out as Checked<S> & Record<string, unknown>;
  };
}

/** A JSON text (no repeated keys) holding a value that passes `inner`. */
export function json<T>(inner: Check<T>): Check<T> {
  return (v, path, file) => {
    const text = str(v, path, file);
    let parsed: unknown;
    try {
      parsed = parseJsonStrict(text, "");
    } catch (e) {
      throw new RunFileError(file, path, (e as Error).message.replace(/^: /, ""));
    }
    return inner(parsed, path, file);
  };
}

/** A decimal integer written as a string (safetensors metadata holds only strings). */
export function intString(min = 0): Check<number> {
  return (v, path, file) => {
    const text = str(v, path, file);
    if (!/^-?\d+$/.test(text)) {
      throw new RunFileError(file, path, `${show(text)} is not a decimal integer`);
    }
    return int(min)(Number(text), path, file);
  };
}

// ---------------------------------------------------------------------------------------------
// Schemas

const HEAD = obj({
  kind: oneOf(["linear", "mlp", "adapter"] as const),
  inDim: int(1),
  outDim: int(1),
  hidden: int(1),
  activation: oneOf(["relu", "gelu"] as const),
});

/** A dual-encoder model configuration (`checkpoint.safetensors` metadata `model`). */
export const MODEL_CONFIG: Check<DualEncoderConfig> = (v, path, file) => {
  const c = obj({
    text: HEAD,
    image: HEAD,
    initScale: num({ above: 0 }),
    learnScale: bool,
    cca: optional(bool),
  })(
    v,
    path,
    file,
  );
  for (const side of ["text", "image"] as const) {
    const h = c[side];
    if (h.kind === "adapter" && h.inDim !== h.outDim) {
      throw new RunFileError(
        file,
        `${path}.${side}`,
        `an adapter head needs inDim = outDim, got ${h.inDim} and ${h.outDim}`,
      );
    }
  }
  if (c.text.outDim !== c.image.outDim) {
    throw new RunFileError(
      file,
      path,
      `the heads embed into different dims (text ${c.text.outDim}, image ${c.image.outDim})`,
    );
  }
  return c;
};

// NDCG@1 and NDCG@5 came with graded relevance, MRR after it: files written before lack them.
const ADDED_KEYS: readonly string[] = ["NDCG@1", "NDCG@5", "MRR"];
const DIRECTION = obj(
  Object.fromEntries(METRIC_KEYS.map((k) => [k, ADDED_KEYS.includes(k) ? optional(num()) : num()])),
);
const METRICS = nullable(obj({ t2i: DIRECTION, i2t: DIRECTION, rsum: num() }));
/** A number, or `null` for NaN (how `JSON.stringify` writes it). */
const numOrNaN: Check<number> = (v, path, file) => (v === null ? NaN : num()(v, path, file));

const EPOCH_RECORD = obj({
  epoch: int(0),
  step: int(0),
  loss: numOrNaN,
  lr: num({ min: 0 }),
  logitScale: num({ above: 0 }),
  stepsPerSec: num({ min: 0 }),
  metrics: METRICS,
});

/** The loop position saved in `state.safetensors` (metadata `loop`). */
export const LOOP_STATE: Check<LoopState> = (v, path, file) => {
  const s = obj({
    epoch: int(0),
    stepInEpoch: int(0),
    globalStep: int(0),
    lossSum: num(),
    lossCount: int(0),
    trainSeconds: num({ min: 0 }),
    // −∞ (no validation yet) is written as the string "-Infinity".
    bestRsum: (x, p, f) => (x === "-Infinity" ? -Infinity : num()(x, p, f)),
    bestEpoch: int(0),
    history: arr(EPOCH_RECORD),
  })(v, path, file);
  if (s.bestEpoch > s.epoch) {
    throw new RunFileError(file, `${path}.bestEpoch`, `${s.bestEpoch} is after epoch ${s.epoch}`);
  }
  return s as unknown as LoopState;
};

const SCALAR = (v: unknown, path: string, file: string) => {
  if (!["string", "number", "boolean"].includes(typeof v)) {
    throw new RunFileError(file, path, `${show(v)} is not a string, number or boolean`);
  }
  return v as string | number | boolean;
};

const FRACTION = num({ min: 0, max: 0.99 });
const PART_SIZE = obj({ images: int(0), texts: int(0) });

/** Where a run's data came from (`config.json` `dataSource`, see `data/source.ts`). */
const DATA_SOURCE = obj({
  path: nullable(str),
  absolutePath: nullable(str),
  name: str,
  generator: nullable(obj({ seed: optional(int(0)), generator: optional(oneOf(GENERATORS)) })),
  fingerprint: str,
  images: int(1),
  texts: int(0),
});

/** How a run's data was split (`config.json` `split`). */
const SPLIT_RECORD = obj({
  valFraction: FRACTION,
  testFraction: FRACTION,
  seed: int(0),
  parts: obj({ train: PART_SIZE, val: PART_SIZE, test: PART_SIZE }),
});

/** A training run's settings (`config.json`). */
export const TRAIN_CONFIG: Check<TrainConfig & Record<string, unknown>> = obj({
  data: nullable(str),
  loss: str,
  lossOptions: record(SCALAR),
  simix: optional(bool),
  epochs: int(1),
  batch: int(2),
  captionsPerImage: int(1),
  lr: nullable(num({ min: 0 })),
  minLrRatio: num({ min: 0, max: 1 }),
  warmup: num({ min: 0, max: 1 }),
  weightDecay: num({ min: 0 }),
  decayTo: oneOf(["auto", "zero", "init"] as const),
  clip: num({ min: 0 }),
  seed: int(0),
  dataSeed: int(0),
  dataGenerator: optional(oneOf(GENERATORS)),
  valFraction: FRACTION,
  testFraction: FRACTION,
  model: obj({
    head: optional(oneOf(["auto", "linear", "mlp", "adapter"] as const)),
    embedDim: optional(int(1)),
    hidden: optional(int(1)),
    activation: optional(oneOf(["relu", "gelu"] as const)),
    initScale: optional(num({ above: 0 })),
    learnScale: optional(bool),
    cca: optional(bool),
  }),
  logEvery: int(1),
  maxSteps: int(0),
  out: str,
  runId: optional(str),
  dataSource: optional(nullable(DATA_SOURCE)),
  split: optional(nullable(SPLIT_RECORD)),
});

const RERANKER_OPTIONS: Check<Required<RerankerOptions>> = obj({
  inputDim: int(1),
  dModel: int(1),
  layers: int(0),
  heads: int(1),
  dFF: int(1),
  dropout: num({ min: 0, max: 0.999 }),
  positionalEncoding: oneOf(["none", "fixed", "learned"] as const),
  maxPositions: int(1),
  activation: oneOf(["relu", "gelu"] as const),
  inputActivation: oneOf(["relu", "gelu", "none"] as const),
});

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Checks a `name/version` format tag: another name is not this kind of file; a higher version was
 * written by a newer crossrank.
 */
export function checkFormat(
  file: string,
  metadata: Record<string, string>,
  expected: string,
  what: string,
): void {
  const found = metadata.format;
  if (found === expected) return;
  const [name, version] = expected.split("/");
  const m = found === undefined ? null : /^(.*)\/(\d+)$/.exec(found);
  if (m && m[1] === name) {
    throw new RunFileError(
      file,
      "metadata.format",
      Number(m[2]) > Number(version)
        ? `written by a newer crossrank (format ${found}; this version reads ${expected}): ` +
          "update crossrank to read it"
        : `format ${found} is older than this version reads (${expected})`,
    );
  }
  throw new RunFileError(
    file,
    "metadata.format",
    `not a crossrank ${what} (format is ${found === undefined ? "absent" : `'${found}'`}, ` +
      `expected '${expected}')`,
  );
}

/**
 * Checks that `tensors` holds every expected tensor as float32 of exactly its shape with finite
 * values (a NaN weight is a fault of the file, named here), and returns them by name.
 */
export function checkTensors(
  file: string,
  tensors: SafetensorsFile["tensors"],
  expected: Record<string, readonly number[]>,
  prefix = "",
): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, shape] of Object.entries(expected)) {
    const field = `tensor '${prefix}${name}'`;
    const t = tensors[`${prefix}${name}`];
    if (!t) throw new RunFileError(file, field, "missing");
    if (t.dtype !== "F32" || !(t.data instanceof Float32Array)) {
      throw new RunFileError(file, field, `dtype ${t.dtype}, expected F32`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new RunFileError(
        file,
        field,
        `shape [${t.shape.join(", ")}], the model needs [${shape.join(", ")}]`,
      );
    }
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new RunFileError(
        file,
        field,
        `non-finite weight ${t.data[bad]} at element ${bad}: the file is corrupt (the weights, ` +
          "not the data)",
      );
    }
    out[name] = { shape: [...t.shape], data: t.data };
  }
  return out;
}

/** A checkpoint, validated. */
export interface CheckedCheckpoint {
  /** The model configuration. */
  config: DualEncoderConfig;
  /** Every parameter of that model, by name. */
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
  /** The metadata strings. */
  metadata: Record<string, string>;
}

/** Largest log logit scale whose exp is a finite float32. */
const MAX_LOG_SCALE = 88;

/** Validates a `checkpoint.safetensors` read from `file` (format tag `format`). */
export function checkpointFromFile(
  file: string,
  contents: SafetensorsFile,
  format: string,
): CheckedCheckpoint {
  const { metadata } = contents;
  checkFormat(file, metadata, format, "checkpoint");
  const config = json(MODEL_CONFIG)(metadata.model, "metadata.model", file);
  intString()(metadata.epoch, "metadata.epoch", file);
  intString()(metadata.step, "metadata.step", file);
  const tensors = checkTensors(file, contents.tensors, dualEncoderParamShapes(config));
  const logScale = tensors.logit_scale.data[0];
  if (Math.abs(logScale) > MAX_LOG_SCALE) {
    throw new RunFileError(
      file,
      "tensor 'logit_scale'",
      `${logScale} would overflow exp() (|log scale| ≤ ${MAX_LOG_SCALE})`,
    );
  }
  return { config, tensors, metadata };
}

/** A training state, validated. */
export interface CheckedState {
  /** The loop position. */
  loop: LoopState;
  /** AdamW's step count. */
  adamT: number;
  /** The model's parameters, by name (without the `model.` prefix). */
  model: Record<string, { shape: number[]; data: Float32Array }>;
  /** The optimiser's state tensors, by name. */
  optimizer: Record<string, { shape: number[]; data: Float32Array }>;
}

/**
 * Validates a `state.safetensors` read from `file` for a model of `model` configuration and an
 * optimiser whose state tensors have the shapes `optimizer`.
 */
export function stateFromFile(
  file: string,
  contents: SafetensorsFile,
  format: string,
  model: DualEncoderConfig,
  optimizer: Record<string, readonly number[]>,
): CheckedState {
  const { metadata } = contents;
  checkFormat(file, metadata, format, "training state");
  return {
    loop: json(LOOP_STATE)(metadata.loop, "metadata.loop", file),
    adamT: intString()(metadata.adam_t, "metadata.adam_t", file),
    model: checkTensors(file, contents.tensors, dualEncoderParamShapes(model), "model."),
    optimizer: checkTensors(file, contents.tensors, optimizer),
  };
}

/** A reranker file, validated up to its tensors (whose names the model defines). */
export interface CheckedReranker {
  /** The reranker's resolved options. */
  options: Required<RerankerOptions>;
  /** Its initialisation and dropout seed. */
  seed: number;
  /** Candidates per query. */
  k: number;
  /** The first-stage run, as given. */
  firstStage: string;
  /** The first-stage run's absolute path, when recorded. */
  firstStageAbsolute?: string;
}

/** Validates the metadata of a `reranker.safetensors` read from `file`. */
export function rerankerFromFile(
  file: string,
  contents: SafetensorsFile,
  format: string,
): CheckedReranker {
  const { metadata } = contents;
  checkFormat(file, metadata, format, "reranker");
  return {
    options: json(RERANKER_OPTIONS)(metadata.options, "metadata.options", file),
    seed: intString()(metadata.seed, "metadata.seed", file),
    k: intString(2)(metadata.k, "metadata.k", file),
    firstStage: str(metadata.firstStage, "metadata.firstStage", file),
    firstStageAbsolute: optional(str)(
      metadata.firstStageAbsolute,
      "metadata.firstStageAbsolute",
      file,
    ),
  };
}

/**
 * Validates the text of a training run's `config.json` (a rerank run's is refused: its settings
 * differ).
 */
export function runConfigFromText(
  file: string,
  text: string,
): TrainConfig & Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJsonStrict(text, file);
  } catch (e) {
    throw new RunFileError(file, "(the whole file)", (e as Error).message.slice(file.length + 2));
  }
  if (value !== null && typeof value === "object" && (value as { rerank?: unknown }).rerank) {
    throw new RunFileError(
      file,
      "rerank",
      "this is a rerank run's config; a trained retrieval run is needed here",
    );
  }
  return TRAIN_CONFIG(value, "", file);
}
