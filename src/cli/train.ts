/**
 * `deno task train`: trains projection heads with a ranking loss and writes a run folder.
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { lossNames } from "../losses/mod.ts";
import { getLoss, resolveOptions } from "../losses/registry.ts";
import {
  buildModel,
  initialState,
  type LoopState,
  NonFiniteError,
  type TrainConfig,
  trainLoop,
} from "../train/trainer.ts";
import { loadTrainData } from "../train/data.ts";
import {
  readRunConfig,
  readState,
  RUN_FILES,
  runPath,
  writeCheckpoint,
  writeJson,
  writeMetricsCsv,
  writeState,
} from "../train/run_dir.ts";
import { curvesPng, examplesPng, hasImages } from "../report/run_plots.ts";
import { writeFileAtomic } from "../data/errors.ts";
import { formatDuration, Progress } from "../train/progress.ts";
import {
  choiceFlag,
  keyValueFlags,
  numberFlag,
  type OptionSpec,
  parseFlags,
  runMain,
  usage,
} from "./args.ts";

const SPECS: Record<string, OptionSpec> = {
  data: {
    type: "string",
    value: "DIR",
    help: "dataset: features dir (images.npy/texts.npy), .safetensors, or image folder + captions",
    default: "the embedded default",
  },
  loss: { type: "string", value: "NAME", help: "ranking loss", default: "softmax" },
  "loss-opt": {
    type: "string",
    value: "K=V",
    multiple: true,
    help: "loss option, repeatable (e.g. --loss-opt scheme=ndcgLoss2PP)",
  },
  epochs: { type: "string", value: "N", help: "epochs", default: "10" },
  batch: { type: "string", value: "B", help: "images per batch (in-batch candidates)", default: "128" },
  "captions-per-image": {
    type: "string",
    value: "K",
    help: "captions drawn per image in a batch (all relevant to it)",
    default: "2",
  },
  lr: { type: "string", value: "X", help: "peak learning rate", default: "0.002" },
  "min-lr-ratio": { type: "string", value: "R", help: "final lr as a fraction of --lr (cosine)", default: "0.01" },
  warmup: { type: "string", value: "F", help: "linear warmup, fraction of all steps", default: "0.05" },
  "weight-decay": { type: "string", value: "W", help: "AdamW decoupled weight decay", default: "0.01" },
  "decay-to": {
    type: "string",
    value: "auto|zero|init",
    help: "decay weights toward zero or their initial values (auto: init for adapter heads)",
    default: "auto",
  },
  clip: { type: "string", value: "N", help: "clip the global gradient norm (0 = off)", default: "1" },
  seed: { type: "string", value: "S", help: "seed of initialisation and batch order", default: "0" },
  "data-seed": {
    type: "string",
    value: "S",
    help: "seed of the default dataset and of the train/val split",
    default: "0",
  },
  "val-fraction": {
    type: "string",
    value: "F",
    help: "validation fraction of the images (user data; 0 = train on all, keep final weights)",
    default: "0.2",
  },
  head: {
    type: "string",
    value: "KIND",
    help: "projection head: auto | linear | mlp | adapter (auto: adapter when dims match)",
    default: "auto",
  },
  "embed-dim": { type: "string", value: "D", help: "joint embedding dim (not for adapter)", default: "256" },
  hidden: { type: "string", value: "H", help: "hidden width of mlp/adapter heads", default: "512" },
  activation: { type: "string", value: "relu|gelu", help: "hidden activation", default: "gelu" },
  temperature: { type: "string", value: "T", help: "initial softmax temperature (scale 1/T)", default: "0.07" },
  "fixed-temperature": { type: "boolean", help: "do not learn the temperature" },
  "log-every": { type: "string", value: "N", help: "read the loss every N steps", default: "50" },
  "max-steps": { type: "string", value: "N", help: "stop after N steps in total (0 = no limit)", default: "0" },
  out: { type: "string", value: "DIR", help: "run folder", default: "runs/<time>-<data>-<loss>" },
  resume: { type: "string", value: "RUN_DIR", help: "continue an interrupted run (its config is reused)" },
  json: { type: "boolean", help: "print the summary as one JSON object on stdout" },
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task train [options]",
  "Trains a text and an image projection head with a ranking loss on in-batch similarity lists\n" +
    "(text → image rows and image → text columns), evaluates on validation each epoch, keeps the\n" +
    "best checkpoint by rsum, and writes a run folder.\n" +
    `Losses: ${lossNames().join(", ")}.`,
  SPECS,
);

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

function configFromFlags(f: ReturnType<typeof parseFlags>): TrainConfig {
  const loss = typeof f.loss === "string" ? f.loss : "softmax";
  const lossOptions = keyValueFlags("loss-opt", f["loss-opt"]);
  resolveOptions(getLoss(loss), lossOptions); // fail early on a bad name or option
  const head = choiceFlag("head", f.head, ["auto", "linear", "mlp", "adapter"] as const, "auto");
  const data = typeof f.data === "string" ? f.data : null;
  const dataTag = data ? data.replace(/\/+$/, "").split("/").pop() : "default";
  return {
    data,
    loss,
    lossOptions,
    epochs: numberFlag("epochs", f.epochs, 10, { integer: true, min: 1 }),
    batch: numberFlag("batch", f.batch, 128, { integer: true, min: 2 }),
    captionsPerImage: numberFlag("captions-per-image", f["captions-per-image"], 2, { integer: true, min: 1 }),
    lr: numberFlag("lr", f.lr, 0.002, { min: 0 }),
    minLrRatio: numberFlag("min-lr-ratio", f["min-lr-ratio"], 0.01, { min: 0, max: 1 }),
    warmup: numberFlag("warmup", f.warmup, 0.05, { min: 0, max: 1 }),
    weightDecay: numberFlag("weight-decay", f["weight-decay"], 0.01, { min: 0 }),
    decayTo: choiceFlag("decay-to", f["decay-to"], ["auto", "zero", "init"] as const, "auto"),
    clip: numberFlag("clip", f.clip, 1, { min: 0 }),
    seed: numberFlag("seed", f.seed, 0, { integer: true, min: 0 }),
    dataSeed: numberFlag("data-seed", f["data-seed"], 0, { integer: true, min: 0 }),
    valFraction: numberFlag("val-fraction", f["val-fraction"], 0.2, { min: 0, max: 0.9 }),
    model: {
      head,
      embedDim: numberFlag("embed-dim", f["embed-dim"], 256, { integer: true, min: 1 }),
      hidden: numberFlag("hidden", f.hidden, 512, { integer: true, min: 1 }),
      activation: choiceFlag("activation", f.activation, ["relu", "gelu"] as const, "gelu"),
      initScale: 1 / numberFlag("temperature", f.temperature, 0.07, { min: 1e-4 }),
      learnScale: !f["fixed-temperature"],
    },
    logEvery: numberFlag("log-every", f["log-every"], 50, { integer: true, min: 1 }),
    maxSteps: numberFlag("max-steps", f["max-steps"], 0, { integer: true, min: 0 }),
    out: typeof f.out === "string" ? f.out : `runs/${timestamp()}-${dataTag}-${loss}`,
  };
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const progress = new Progress();
  const resumeDir = typeof flags.resume === "string" ? flags.resume : null;
  const config: TrainConfig = resumeDir ? await readRunConfig(resumeDir) : configFromFlags(flags);
  if (resumeDir) config.out = resumeDir;
  const gpu = await initGpu();
  const started = performance.now();
  progress.log(`crossrank train: loss ${config.loss}, data ${config.data ?? "embedded default"}`);
  const data = await loadTrainData(config.data, {
    valFraction: config.valFraction,
    dataSeed: config.dataSeed,
    log: (l) => progress.log(l),
  });
  const { train, val } = data;
  const { model, optimizer } = buildModel(config, data);
  await Deno.mkdir(config.out, { recursive: true });
  let state: LoopState = initialState();
  if (resumeDir) {
    state = await readState(resumeDir, model, optimizer);
    progress.log(`resuming ${resumeDir} at epoch ${state.epoch + 1}, step ${state.globalStep}`);
  } else {
    await writeJson(runPath(config.out, RUN_FILES.config), {
      ...config,
      deno: Deno.version.deno,
      adapter: gpu.gpu.adapterName,
      backend: gpu.gpu.backend,
      dataset: {
        name: train.name,
        train: { images: train.numImages, texts: train.numTexts },
        val: val ? { images: val.numImages, texts: val.numTexts } : null,
        textDim: train.textDim,
        imageDim: train.imageDim,
      },
      model: { ...config.model, resolved: model.config },
    });
  }
  let interruptRequested = false;
  const onSigint = () => {
    if (interruptRequested) Deno.exit(130);
    interruptRequested = true;
    progress.log("interrupt: finishing this step and saving a resumable state (Ctrl-C again to abort)");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let lastCheckpoint = "";
  try {
    const result = await trainLoop(config, data, model, optimizer, state, {
      progress,
      interrupted: () => interruptRequested,
      onEpoch: async (_record, s) => {
        await writeMetricsCsv(config.out, s.history);
        await Deno.writeFile(runPath(config.out, RUN_FILES.curves), await curvesPng(s.history, config.loss));
      },
      onCheckpoint: async (m, record) => {
        await writeCheckpoint(runPath(config.out, RUN_FILES.checkpoint), m, {
          epoch: record.epoch,
          step: record.step,
          dataset: train.name,
          loss: config.loss,
          metrics: record.metrics,
        });
        lastCheckpoint = `epoch ${record.epoch}` + (record.metrics ? `, rsum ${record.metrics.rsum.toFixed(1)}` : "");
      },
      onSaveState: (m, o, s) => writeState(config.out, m, o, s),
    });
    if (result.interrupted) {
      progress.log(`interrupted at step ${result.state.globalStep}; resume with: deno task train --resume ${config.out}`);
      return 130;
    }
    const s = result.state;
    const best = s.history.find((r) => r.epoch === s.bestEpoch) ?? s.history.at(-1)!;
    const initial = s.history[0];
    const summary = {
      run: config.out,
      loss: config.loss,
      dataset: train.name,
      epochs: s.epoch,
      steps: s.globalStep,
      bestEpoch: best.epoch,
      best: best.metrics,
      initial: initial.metrics,
      stepsPerSec: result.stepsPerSec,
      trainSeconds: s.trainSeconds,
      wallSeconds: (performance.now() - started) / 1000,
      adapter: gpu.gpu.adapterName,
      submits: rt().stats.submits,
      readbacks: rt().stats.readbacks,
    };
    await writeJson(runPath(config.out, RUN_FILES.summary), summary);
    if (val && hasImages(val)) {
      const textEmb = await model.embedAll("texts", val.texts, val.numTexts);
      const imageEmb = await model.embedAll("images", val.images, val.numImages);
      const queries = [0, 1, 2, 3].map((i) => Math.floor((i * val.numTexts) / 4));
      await writeFileAtomic(
        runPath(config.out, RUN_FILES.examples),
        await examplesPng(val, textEmb, imageEmb, model.config.text.outDim, queries),
      );
    }
    const fmt = (m: typeof best.metrics) => (m ? m.rsum.toFixed(1) : "n/a");
    progress.log(
      `done: ${s.globalStep} steps in ${formatDuration(s.trainSeconds)} (${result.stepsPerSec.toFixed(1)} steps/s); ` +
        `val rsum ${fmt(initial.metrics)} before → ${fmt(best.metrics)} at epoch ${best.epoch}; run folder ${config.out}`,
    );
    if (flags.json) console.log(JSON.stringify(summary));
    return 0;
  } catch (e) {
    if (e instanceof NonFiniteError) {
      progress.log(
        `${e.message}. ${lastCheckpoint ? `The last good checkpoint (${lastCheckpoint})` : "No checkpoint was written; nothing"} ` +
          `is kept in ${config.out}. Try a lower --lr or --clip.`,
      );
      return 1;
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

if (import.meta.main) await runMain(main, HELP);
