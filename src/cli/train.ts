/**
 * `deno task train`: trains projection heads with a ranking loss and writes a run folder.
 *
 * @module
 */

import { lossNames } from "../losses/mod.ts";
import { BATCH_LOSSES, isBatchLoss } from "../losses/dcca.ts";
import type { TrainConfig } from "../train/trainer.ts";
import { readRunConfig, RunDirError } from "../train/run_dir.ts";
import { runTraining } from "../train/run.ts";
import type { RetrievalMetrics } from "../eval/metrics.ts";
import { formatDuration, Progress } from "../train/progress.ts";
import { type RerankConfig, runRerankTraining } from "../train/rerank.ts";
import { DEFAULT_GENERATOR } from "../data/synthetic.ts";
import { runPictures } from "./pictures.ts";
import { startedRuntime } from "../gpu/runtime.ts";
import {
  checkLoss,
  choiceFlag,
  DATA_GENERATOR_OPTION,
  dataGeneratorFlag,
  keyValueFlags,
  MAX_MEGAPIXELS_OPTION,
  maxImagePixelsFlag,
  numberFlag,
  type OptionSpec,
  parseFlags,
  runMain,
  SPLIT_OPTIONS,
  splitFlags,
  usage,
  UsageError,
} from "./args.ts";

const SPECS: Record<string, OptionSpec> = {
  data: {
    type: "string",
    value: "DIR",
    help: "dataset: features dir (images.npy/texts.npy), .safetensors, or image folder + captions",
    default: "the embedded default",
  },
  force: {
    type: "boolean",
    help: "clear a non-empty --out run folder instead of refusing it",
  },
  loss: { type: "string", value: "NAME", help: "ranking loss", default: "softmax" },
  "loss-opt": {
    type: "string",
    value: "K=V",
    multiple: true,
    help: "loss option, repeatable (e.g. --loss-opt scheme=ndcgLoss2PP)",
  },
  simix: {
    type: "boolean",
    help: "SiMix: add similarity-mixup candidates (mixed relevant pairs) to every list",
  },
  epochs: { type: "string", value: "N", help: "epochs", default: "10" },
  batch: {
    type: "string",
    value: "B",
    help: "images per batch (in-batch candidates)",
    default: "128",
  },
  "captions-per-image": {
    type: "string",
    value: "K",
    help: "captions drawn per image in a batch (all relevant to it)",
    default: "2",
  },
  lr: {
    type: "string",
    value: "X",
    help: "peak learning rate (auto: 0.002 for new heads, 0.0002 for adapters)",
    default: "auto",
  },
  "min-lr-ratio": {
    type: "string",
    value: "R",
    help: "final lr as a fraction of --lr (cosine)",
    default: "0.01",
  },
  warmup: {
    type: "string",
    value: "F",
    help: "linear warmup, fraction of all steps",
    default: "0.05",
  },
  "weight-decay": {
    type: "string",
    value: "W",
    help: "AdamW decoupled weight decay",
    default: "0.01",
  },
  "decay-to": {
    type: "string",
    value: "auto|zero|init",
    help: "decay weights toward zero or their initial values (auto: init for adapter heads)",
    default: "auto",
  },
  clip: {
    type: "string",
    value: "N",
    help: "clip the global gradient norm (0 = off)",
    default: "1",
  },
  seed: {
    type: "string",
    value: "S",
    help: "seed of initialisation and batch order",
    default: "0",
  },
  head: {
    type: "string",
    value: "KIND",
    help: "projection head: auto | linear | mlp | adapter (auto: adapter when dims match)",
    default: "auto",
  },
  "embed-dim": {
    type: "string",
    value: "D",
    help: "joint embedding dim (not for adapter)",
    default: "256",
  },
  hidden: { type: "string", value: "H", help: "hidden width of mlp/adapter heads", default: "512" },
  activation: { type: "string", value: "relu|gelu", help: "hidden activation", default: "gelu" },
  temperature: {
    type: "string",
    value: "T",
    help: "initial softmax temperature, scale 1/T (auto: 0.07 for new heads, 0.01 for adapters)",
    default: "auto",
  },
  "fixed-temperature": { type: "boolean", help: "do not learn the temperature" },
  "log-every": { type: "string", value: "N", help: "read the loss every N steps", default: "50" },
  "max-steps": {
    type: "string",
    value: "N",
    help: "stop after N steps in total (0 = no limit)",
    default: "0",
  },
  out: { type: "string", value: "DIR", help: "run folder", default: "runs/<time>-<data>-<loss>" },
  resume: {
    type: "string",
    value: "RUN_DIR",
    help: "continue an interrupted run (its config is reused)",
  },
  json: { type: "boolean", help: "print the summary as one JSON object on stdout" },
  profile: {
    type: "boolean",
    help: "print a kernel profile of the training steps after training (as CROSSRANK_PROFILE=1)",
  },
  rerank: {
    type: "boolean",
    help: "train a listwise reranker over a trained run's top-k (needs --first-stage)",
  },
  "first-stage": { type: "string", value: "RUN_DIR", help: "rerank: the trained retrieval run" },
  k: { type: "string", value: "K", help: "rerank: candidates per text query", default: "20" },
  "rerank-absolute": {
    type: "boolean",
    help: "rerank: score by the reranker alone (allRank), not first-stage score + correction",
  },
  layers: { type: "string", value: "N", help: "rerank: Transformer encoder layers", default: "2" },
  heads: { type: "string", value: "H", help: "rerank: attention heads", default: "4" },
  "d-model": { type: "string", value: "D", help: "rerank: model width", default: "64" },
  "d-ff": { type: "string", value: "F", help: "rerank: feed-forward width", default: "128" },
  dropout: { type: "string", value: "P", help: "rerank: dropout", default: "0.1" },
  positional: {
    type: "string",
    value: "none|fixed|learned",
    help: "rerank: positional encoding over first-stage ranks",
    default: "none",
  },
  ...SPLIT_OPTIONS,
  ...DATA_GENERATOR_OPTION,
  ...MAX_MEGAPIXELS_OPTION,
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task train [options]",
  "Trains a text and an image projection head with a ranking loss on in-batch similarity lists\n" +
    "(text → image rows and image → text columns), evaluates on validation each epoch, keeps the\n" +
    "best checkpoint by rsum, scores it once on the test part, and writes a run folder.\n" +
    "Split (any data): 80 % of the images train, 10 % validate, 10 % are a held-out test part,\n" +
    "assigned by a seeded shuffle (--data-seed) and recorded in config.json with the data's\n" +
    "fingerprint; `deno task eval --checkpoint RUN` scores that test part.\n" +
    `Losses: ${lossNames().join(", ")}; batch loss (embeddings): ${
      Object.keys(BATCH_LOSSES).join(", ")
    }.`,
  SPECS,
);

/** Flags of reranker training only. */
const RERANK_ONLY: Record<string, true> = {
  "first-stage": true,
  k: true,
  "rerank-absolute": true,
  layers: true,
  heads: true,
  "d-model": true,
  "d-ff": true,
  dropout: true,
  positional: true,
};

/** Flags that only read or print: they may accompany --resume. */
const RESUME_FLAGS = new Set(["resume", "json", "log-every", "help", "profile"]);

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

function configFromFlags(f: ReturnType<typeof parseFlags>): TrainConfig {
  const loss = typeof f.loss === "string" ? f.loss : "softmax";
  const lossOptions = keyValueFlags("loss-opt", f["loss-opt"]);
  checkLoss(loss, lossOptions, "--loss", true); // fail early on a bad name or option
  if (f.simix && isBatchLoss(loss)) {
    throw new UsageError(`--simix mixes list candidates; --loss ${loss} is a batch loss`);
  }
  const head = choiceFlag("head", f.head, ["auto", "linear", "mlp", "adapter"] as const, "auto");
  const data = typeof f.data === "string" ? f.data : null;
  const generator = dataGeneratorFlag(f);
  const dataTag = data ? data.replace(/\/+$/, "").split("/").pop() : "default";
  return {
    data,
    loss,
    lossOptions,
    ...(f.simix ? { simix: true } : {}),
    epochs: numberFlag("epochs", f.epochs, 10, { integer: true, min: 1 }),
    batch: numberFlag("batch", f.batch, 128, { integer: true, min: 2 }),
    captionsPerImage: numberFlag("captions-per-image", f["captions-per-image"], 2, {
      integer: true,
      min: 1,
    }),
    lr: f.lr === undefined || f.lr === "auto" ? null : numberFlag("lr", f.lr, 0.002, { min: 0 }),
    minLrRatio: numberFlag("min-lr-ratio", f["min-lr-ratio"], 0.01, { min: 0, max: 1 }),
    warmup: numberFlag("warmup", f.warmup, 0.05, { min: 0, max: 1 }),
    weightDecay: numberFlag("weight-decay", f["weight-decay"], 0.01, { min: 0 }),
    decayTo: choiceFlag("decay-to", f["decay-to"], ["auto", "zero", "init"] as const, "auto"),
    clip: numberFlag("clip", f.clip, 1, { min: 0 }),
    seed: numberFlag("seed", f.seed, 0, { integer: true, min: 0 }),
    ...splitFlags(f),
    ...(data === null ? { dataGenerator: generator ?? DEFAULT_GENERATOR } : {}),
    model: {
      head,
      embedDim: numberFlag("embed-dim", f["embed-dim"], 256, { integer: true, min: 1 }),
      hidden: numberFlag("hidden", f.hidden, 512, { integer: true, min: 1 }),
      activation: choiceFlag("activation", f.activation, ["relu", "gelu"] as const, "gelu"),
      initScale: f.temperature === undefined || f.temperature === "auto"
        ? undefined
        : 1 / numberFlag("temperature", f.temperature, 0.07, { min: 1e-4 }),
      learnScale: !f["fixed-temperature"],
    },
    logEvery: numberFlag("log-every", f["log-every"], 50, { integer: true, min: 1 }),
    maxSteps: numberFlag("max-steps", f["max-steps"], 0, { integer: true, min: 0 }),
    out: typeof f.out === "string" ? f.out : `runs/${timestamp()}-${dataTag}-${loss}`,
    maxImagePixels: maxImagePixelsFlag(f),
  };
}

async function rerankMain(
  flags: ReturnType<typeof parseFlags>,
  progress: Progress,
): Promise<number> {
  const firstStage = flags["first-stage"];
  if (typeof firstStage !== "string") throw new UsageError("--rerank needs --first-stage RUN_DIR");
  if (flags.simix) throw new UsageError("--simix applies to retrieval training, not to --rerank");
  for (const flag of ["data-seed", "data-generator", "val-fraction", "test-fraction", "resume"]) {
    if (flags[flag] !== undefined) {
      throw new UsageError(
        `--${flag} does not apply to --rerank: a reranker uses its first stage's data and split`,
      );
    }
  }
  const loss = typeof flags.loss === "string" ? flags.loss : "softmax";
  const lossOptions = keyValueFlags("loss-opt", flags["loss-opt"]);
  checkLoss(loss, lossOptions);
  const dModel = numberFlag("d-model", flags["d-model"], 64, { integer: true, min: 1 });
  const config: RerankConfig = {
    firstStage,
    data: typeof flags.data === "string" ? flags.data : null,
    loss,
    lossOptions,
    k: numberFlag("k", flags.k, 20, { integer: true, min: 2 }),
    residual: !flags["rerank-absolute"],
    epochs: numberFlag("epochs", flags.epochs, 10, { integer: true, min: 1 }),
    batch: numberFlag("batch", flags.batch, 64, { integer: true, min: 1 }),
    lr: numberFlag("lr", flags.lr, 0.001, { min: 0 }),
    weightDecay: numberFlag("weight-decay", flags["weight-decay"], 0.01, { min: 0 }),
    seed: numberFlag("seed", flags.seed, 0, { integer: true, min: 0 }),
    model: {
      dModel,
      layers: numberFlag("layers", flags.layers, 2, { integer: true, min: 0 }),
      heads: numberFlag("heads", flags.heads, 4, { integer: true, min: 1 }),
      dFF: numberFlag("d-ff", flags["d-ff"], 2 * dModel, { integer: true, min: 1 }),
      dropout: numberFlag("dropout", flags.dropout, 0.1, { min: 0, max: 0.9 }),
      positionalEncoding: choiceFlag(
        "positional",
        flags.positional,
        ["none", "fixed", "learned"] as const,
        "none",
      ),
    },
    out: typeof flags.out === "string" ? flags.out : `runs/${timestamp()}-rerank-${loss}`,
    maxImagePixels: maxImagePixelsFlag(flags),
  };
  const s = await runRerankTraining(config, { progress, force: Boolean(flags.force) });
  const v = s.val;
  (flags.json ? (line: string) => progress.log(line) : console.log)(
    `done: val t2i R@1 ${v.before.t2i["R@1"].toFixed(1)} (first stage) → ${
      v.after.t2i["R@1"].toFixed(1)
    } (reranked, epoch ${s.bestEpoch}); +${v.rerankMsPerQuery.toFixed(2)} ms per query ` +
      `(batched), ${v.singleQueryMs.toFixed(1)} ms for one query alone; run folder ${s.run}`,
  );
  if (flags.json) console.log(JSON.stringify(s));
  return 0;
}

/**
 * The flags given with --resume that contradict the saved config, as `--flag given (saved: x)`.
 * Flags that only read or print are allowed; a flag equal to the saved value is allowed.
 */
function resumeConflicts(
  flags: ReturnType<typeof parseFlags>,
  saved: TrainConfig,
): string[] {
  const given = Object.keys(flags).filter((f) => flags[f] !== undefined && !RESUME_FLAGS.has(f));
  if (given.length === 0) return [];
  const fresh = configFromFlags(flags) as unknown as Record<string, unknown>;
  const old = saved as unknown as Record<string, unknown>;
  const field: Record<string, (c: Record<string, unknown>) => unknown> = {
    "embed-dim": (c) => (c.model as Record<string, unknown>).embedDim,
    hidden: (c) => (c.model as Record<string, unknown>).hidden,
    activation: (c) => (c.model as Record<string, unknown>).activation,
    head: (c) => (c.model as Record<string, unknown>).head,
    temperature: (c) => (c.model as Record<string, unknown>).initScale,
    "fixed-temperature": (c) => (c.model as Record<string, unknown>).learnScale,
  };
  const conflicts: string[] = [];
  for (const flag of given) {
    const key = flag.replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase())
      .replace(/^lossOpt$/, "lossOptions");
    const read = field[flag] ?? ((c: Record<string, unknown>) => c[key]);
    const now = JSON.stringify(read(fresh) ?? null);
    const before = JSON.stringify(read(old) ?? null);
    if (now !== before) conflicts.push(`--${flag} ${now} (saved: ${before})`);
  }
  return conflicts;
}

/** How the user started this command, for the resume hint (`npx -y deno@… task train` or not). */
function commandPrefix(): string {
  const viaNpx = (Deno.env.get("npm_config_user_agent") ?? "").includes("npm") ||
    /[\\/]_npx[\\/]/.test(Deno.execPath());
  return viaNpx ? `npx -y deno@${Deno.version.deno} task train` : "deno task train";
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const progress = new Progress();
  if (!flags.rerank) {
    const rerankOnly = Object.keys(RERANK_ONLY).filter((f) => flags[f] !== undefined);
    if (rerankOnly.length > 0) {
      throw new UsageError(`${rerankOnly.map((f) => `--${f}`).join(", ")} need --rerank`);
    }
  }
  if (flags.rerank) {
    try {
      return await rerankMain(flags, progress);
    } catch (e) {
      if (e instanceof RunDirError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (flags.resume !== undefined && flags.force) {
    throw new UsageError("--force clears a run folder; it cannot be combined with --resume");
  }
  const resumeDir = typeof flags.resume === "string" ? flags.resume : null;
  let config: TrainConfig;
  if (resumeDir) {
    config = await readRunConfig(resumeDir);
    // A run of the embedded default saved before the graded generator existed used v1.
    if (config.data === null) config.dataGenerator ??= "v1";
    const conflicts = resumeConflicts(flags, config);
    if (conflicts.length > 0) {
      throw new UsageError(
        `--resume ${resumeDir} continues that run with its saved settings; these flags ` +
          `contradict them: ${conflicts.join(", ")}. Start a new run (--out) to change them`,
      );
    }
    config.out = resumeDir;
  } else {
    config = configFromFlags(flags);
  }
  let interruptRequested = false;
  const onSigint = () => {
    if (interruptRequested) Deno.exit(130);
    interruptRequested = true;
    progress.log(
      "interrupt: finishing this step and saving a resumable state (Ctrl-C again to abort)",
    );
  };
  Deno.addSignalListener("SIGINT", onSigint);
  // The runtime reads it when the GPU starts (in runTraining); the trainer marks the steps.
  if (flags.profile) Deno.env.set("CROSSRANK_PROFILE", "1");
  try {
    const result = await runTraining(config, {
      resume: resumeDir !== null,
      force: Boolean(flags.force),
      progress,
      interrupted: () => interruptRequested,
      pictures: runPictures(),
    });
    const profiler = startedRuntime()?.disableProfiler();
    if (profiler) progress.log(await profiler.report());
    if (result.interrupted) {
      progress.log(
        `interrupted at step ${result.step}; resume with: ${commandPrefix()} --resume ${config.out}`,
      );
      return 130;
    }
    if (result.error) {
      progress.log(result.error);
      return 1;
    }
    const s = result.summary!;
    const fmt = (m: RetrievalMetrics | null) => (m ? m.rsum.toFixed(1) : "n/a");
    const data = s.dataSource?.name ?? s.dataset;
    // The result goes to stdout (one JSON object with --json, else the line), progress to stderr.
    (flags.json ? (line: string) => progress.log(line) : console.log)(
      `done: ${s.steps} steps in ${formatDuration(s.trainSeconds)} ` +
        `(${s.stepsPerSec.toFixed(1)} steps/s); ${data} val rsum ${fmt(s.initial)} before → ` +
        `${fmt(s.best)} at epoch ${s.bestEpoch}` +
        (s.test ? `; ${data} test rsum ${fmt(s.test)} (held out)` : "") +
        `; run folder ${config.out}`,
    );
    if (flags.json) console.log(JSON.stringify(s));
    return 0;
  } catch (e) {
    if (e instanceof RunDirError) throw new UsageError(e.message);
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

if (import.meta.main) {
  await runMain(
    main,
    HELP,
    "a lower --batch (the per-step score matrices), or smaller --embed-dim / --hidden; the " +
      "training part's features are kept in one GPU buffer per modality, so a larger dataset " +
      "needs fewer items or lower-dimensional features",
  );
}
