/**
 * `deno task eval`: retrieval metrics of a dataset, both directions, computed on the GPU, always
 * naming the data and the part scored.
 *
 * - Zero-shot (no checkpoint): the raw text and image features are scored by cosine, which needs
 *   equal dims. All of `--data` by default; the default dataset's test part without `--data`.
 * - `--checkpoint RUN_DIR`: the run's own data (reloaded from the path in its `config.json` and
 *   checked against its fingerprint), on the part the run held out (test, else val). `--data`
 *   naming the same data (by content) gives the same; other data is scored whole. Scoring items the
 *   run trained on takes `--split train` or `--split all` and is flagged in the output. Rerank runs
 *   evaluate through their first stage's data.
 *
 * Prints a table, or with `--json` exactly one JSON object on stdout (logs go to stderr).
 *
 * @example
 * ```sh
 * deno task eval --data ../shared/data/flickr8k-clip-b32-val --json
 * deno task eval --checkpoint runs/my-run            # its held-out test part
 * ```
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { loadDataset, type SplitName } from "../data/load.ts";
import { DEFAULT_SPLIT, splitByImage } from "../data/split.ts";
import type { DataSource } from "../data/source.ts";
import type { RetrievalDataset } from "../data/types.ts";
import { evaluationRelation, relevanceOf } from "../data/relation.ts";
import { writeFileAtomic } from "../data/errors.ts";
import { retrievalRanks } from "../ops/retrieval.ts";
import {
  distractorNote,
  imageQueryCount,
  retrievalMetrics,
  type RetrievalRanks,
} from "../eval/metrics.ts";
import { formatMetricsTable, metricsJson } from "../eval/report.ts";
import { Progress } from "../train/progress.ts";
import { ranksCsv } from "../eval/ranks_file.ts";
import { DualEncoder } from "../model/dual_encoder.ts";
import { readCheckpoint, readRunConfig } from "../train/run_dir.ts";
import {
  bankNorms,
  formatNormParams,
  NORM_DEFAULTS,
  NORM_METHODS,
  normGrid,
  type NormMethod,
  type NormParams,
  normParams,
  NormStatsCache,
} from "../eval/bank_norm.ts";
import type { Embeddings, RetrievalOptions } from "../ops/retrieval.ts";
import { MAX_BANK_TOPK } from "../ops/bank_norm.ts";
import { evaluateRerank, isRerankRun, loadFirstStage, readReranker } from "../train/rerank.ts";
import { type ResolvedRunData, resolveRunData, runDataRecord } from "../train/data.ts";
import {
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
  usage,
  UsageError,
} from "./args.ts";

const SPECS: Record<string, OptionSpec> = {
  data: {
    type: "string",
    value: "DIR",
    help: "dataset: features dir (images.npy/texts.npy), .safetensors, or image folder + captions",
    default: "the embedded default dataset",
  },
  split: {
    type: "string",
    value: "all|train|val|test",
    help: "part of the data to evaluate, split by image (the run's split with --checkpoint)",
    default: "a run's held-out test part; zero-shot: all of --data, the default's test part",
  },
  seed: {
    type: "string",
    value: "S",
    help: "zero-shot / other data: seed of the split and the default dataset",
    default: "0",
  },
  ...DATA_GENERATOR_OPTION,
  ranks: {
    type: "string",
    value: "FILE",
    help: "also write the per-query ranks (direction,query,item,rank) to FILE (CSV)",
  },
  checkpoint: {
    type: "string",
    value: "RUN_DIR",
    help: "evaluate a trained run (its checkpoint.safetensors) instead of raw features",
  },
  json: { type: "boolean", help: "print exactly one JSON object of metrics on stdout" },
  "image-chunk": {
    type: "string",
    value: "N",
    help: "images per GPU chunk",
    default: "up to 8192, ≤ 32 MiB",
  },
  "text-chunk": {
    type: "string",
    value: "N",
    help: "texts per GPU chunk",
    default: "one score block ≤ 32 MiB",
  },
  norm: {
    type: "string",
    value: "none|invsoftmax|dbnorm|nnn",
    help: "bank-normalised scores: QB-Norm's dynamic inverted softmax, DBNorm's dual inverted " +
      "softmax, or Nearest Neighbor Normalization",
    default: "none",
  },
  "norm-opt": {
    type: "string",
    value: "K=V",
    multiple: true,
    help:
      "a parameter of --norm, repeatable (invsoftmax beta=20,k=1; dbnorm beta1=0.5025,beta2=3; " +
      "nnn alpha=0.75,k=16)",
  },
  bank: {
    type: "string",
    value: "DIR",
    help: "the bank of --norm: all of DIR, or its train part when DIR is the evaluated data",
    default: "with --checkpoint, the run's training part",
  },
  "norm-tune": {
    type: "boolean",
    help:
      "pick --norm's parameters on the run's validation part (a small grid; needs --checkpoint)",
  },
  ...MAX_MEGAPIXELS_OPTION,
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task eval [--checkpoint RUN_DIR] [--data DIR] [--split PART] [--json]",
  "Image–text retrieval metrics (R@1/5/10, MedR, MeanR, mAP, MRR, NDCG@1/5/10, rsum) in both\n" +
    "directions; with graded relevance, R@K, MRR and ranks look for a query's highest grade and NDCG\n" +
    "uses gains 2^grade − 1.\n" +
    "Without a checkpoint, the raw features are scored by cosine (zero-shot): their dims must match.\n" +
    "With --checkpoint, the run's own data (from its config.json, checked by content) is scored on\n" +
    "the part the run held out (test, else val); --data with other data scores all of it. Items the\n" +
    "run trained on are scored only with --split train|all, and the output says so.\n" +
    "--norm scores with a bank of queries that are never the evaluated ones: the run's training\n" +
    "part, or --bank DIR.",
  SPECS,
);

/** The error of a zero-shot evaluation whose text and image dims differ. */
export function zeroShotDimError(ds: RetrievalDataset): Error {
  return new Error(
    `texts have ${ds.textDim} dims, images ${ds.imageDim}: zero-shot cosine needs equal dims; ` +
      "train a model first or pass --checkpoint",
  );
}

function optionalInt(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  return numberFlag(name, raw as string, 0, { integer: true, min: 1 });
}

/** What was scored, as the JSON output's `data` object and the table's header say. */
interface Scored {
  /** The data's path (null for the embedded default). */
  path: string | null;
  /** Dataset name. */
  name: string;
  /** Part scored. */
  split: SplitName;
  /** Images in the gallery. */
  images: number;
  /** Text queries. */
  texts: number;
  /** Whether the items include ones the evaluated run trained on. */
  includesTrainingItems: boolean;
  /** Content fingerprint of the whole data. */
  fingerprint: string;
}

function scored(source: DataSource, ds: RetrievalDataset, split: SplitName, training: boolean) {
  return {
    path: source.path,
    name: source.name,
    split,
    images: ds.numImages,
    texts: ds.numTexts,
    includesTrainingItems: training,
    fingerprint: source.fingerprint,
  } satisfies Scored;
}

/** Names the data and the part scored, with the training-items warning where it applies. */
function describeScored(d: Scored): string {
  const part = d.split === "all" ? "all of it" : `${d.split} part`;
  return `${d.name} (${d.path ?? "embedded default"}), ${part}` +
    (d.includesTrainingItems ? " — INCLUDES TRAINING ITEMS of this run" : "");
}

async function writeRanks(path: string | undefined, ranks: RetrievalRanks): Promise<void> {
  if (path === undefined) return;
  await writeFileAtomic(path, new TextEncoder().encode(ranksCsv(ranks)));
  console.error(`eval: wrote per-query ranks to ${path}`);
}

/** Evaluates a rerank run: metrics of the first stage alone and with text → image reranked. */
async function evalRerank(
  run: string,
  data: ResolvedRunData,
  json: boolean,
  ranksPath: string | undefined,
): Promise<number> {
  const ds = data.dataset;
  const { reranker, alpha, k, firstStage } = await readReranker(run);
  const model = await loadFirstStage(firstStage);
  const what = scored(data.source, ds, data.split, data.includesTrainingItems);
  if (json) {
    console.error(
      `eval: ${describeScored(what)}: ${ds.numTexts} texts × ${ds.numImages} images` +
        `${distractorNote(ds)}; first stage ${firstStage}, reranker ` +
        `${run} (top ${k})`,
    );
  }
  const r = await evaluateRerank(model, reranker, ds, k, { alpha });
  reranker.dispose();
  alpha?.dispose();
  model.dispose();
  await writeRanks(ranksPath, r.afterRanks);
  const latency = {
    k,
    coverage: Math.round(r.coverage * 100) / 100,
    firstStageMsPerQuery: Math.round(r.firstStageMsPerQuery * 1000) / 1000,
    rerankMsPerQuery: Math.round(r.rerankMsPerQuery * 1000) / 1000,
    singleQueryMs: Math.round(r.singleQueryMs * 100) / 100,
  };
  if (json) {
    const after = JSON.parse(metricsJson(r.after));
    console.log(
      JSON.stringify({
        ...after,
        data: what,
        firstStage: JSON.parse(metricsJson(r.before)),
        rerank: latency,
      }),
    );
    return 0;
  }
  const info = (scoring: string, seconds: number) => ({
    name: describeScored(what),
    numTexts: ds.numTexts,
    numImages: ds.numImages,
    dim: model.config.text.outDim,
    imageQueries: imageQueryCount(relevanceOf(ds), ds.numImages),
    scoring,
    seconds,
    adapter: rt().gpu.adapterName,
  });
  const firstSeconds = (r.firstStageMsPerQuery * ds.numTexts) / 1000;
  const rerankSeconds = (r.rerankMsPerQuery * ds.numTexts) / 1000;
  console.log(formatMetricsTable(r.before, info(`first stage ${firstStage}`, firstSeconds)));
  console.log();
  console.log(
    formatMetricsTable(
      r.after,
      info(`text → image reranked by ${run} over the top ${k}`, firstSeconds + rerankSeconds),
    ),
  );
  console.log(
    `\nreranking: the right image is in the top ${k} for ${r.coverage.toFixed(1)} % of texts; ` +
      `added latency ${r.rerankMsPerQuery.toFixed(3)} ms per query in batches of 256 ` +
      `(first stage ${r.firstStageMsPerQuery.toFixed(3)} ms), ${
        r.singleQueryMs.toFixed(1)
      } ms for ` +
      "one query alone (one GPU wait included)",
  );
  return 0;
}

/** The bank of `--norm` and what the JSON says about it. */
interface Bank {
  dataset: RetrievalDataset;
  record: {
    path: string | null;
    name: string;
    split: SplitName;
    texts: number;
    images: number;
    fingerprint: string;
    description: string;
  };
}

/**
 * The bank: `--bank DIR` (its train part when it is the evaluated data, by fingerprint; else all of
 * it), or the run's own training part with `--checkpoint`. Refused when it would hold evaluated
 * queries (the same data with an overlapping part).
 */
async function resolveBank(
  bankPath: string | undefined,
  resolved: ResolvedRunData,
  checkpoint: string | null,
  seed: number,
  maxImagePixels: number,
): Promise<Bank> {
  const make = (dataset: RetrievalDataset, source: DataSource, split: SplitName): Bank => ({
    dataset,
    record: {
      path: source.path,
      name: source.name,
      split,
      texts: dataset.numTexts,
      images: dataset.numImages,
      fingerprint: source.fingerprint,
      description: `${source.name} (${source.path ?? "embedded default"}), ` +
        `${split === "all" ? "all of it" : `${split} part`}: ${dataset.numTexts} texts, ` +
        `${dataset.numImages} images`,
    },
  });
  const overlap = (what: string) =>
    new UsageError(
      `the bank (${what}) would contain the evaluated queries (${resolved.split} part of ` +
        `${resolved.source.name}): score the held-out part (test or val), or pass another --bank`,
    );
  if (bankPath === undefined) {
    if (!checkpoint || !resolved.parts) {
      throw new UsageError(
        checkpoint
          ? "--norm on data other than the run's own needs a bank: --bank DIR"
          : "--norm needs a bank of queries that are not evaluated: --bank DIR (for a split of " +
            "the same data, its train part is used)",
      );
    }
    if (resolved.split === "train" || resolved.split === "all") {
      throw overlap("the run's training part");
    }
    return make(resolved.parts.train, resolved.source, "train");
  }
  const { dataset, source } = await loadDataset(bankPath, { seed, maxImagePixels });
  if (source.fingerprint !== resolved.source.fingerprint) return make(dataset, source, "all");
  if (resolved.split === "train" || resolved.split === "all") {
    throw overlap(`the train part of ${bankPath}, the evaluated data`);
  }
  const train = resolved.parts?.train ??
    splitByImage(dataset, { ...DEFAULT_SPLIT, seed }).train;
  return make(train, source, "train");
}

/** The data of a `--checkpoint` evaluation (a rerank run's through its first stage). */
async function checkpointData(
  checkpoint: string,
  data: string | undefined,
  split: SplitName | undefined,
  seed: number,
  maxImagePixels: number,
): Promise<ResolvedRunData> {
  let run = checkpoint;
  if (await isRerankRun(checkpoint)) {
    const { reranker, alpha, firstStage } = await readReranker(checkpoint);
    reranker.dispose();
    alpha?.dispose();
    run = firstStage;
  }
  const config = await readRunConfig(run);
  if (config.dataSource === null && config.split === null && data === undefined) {
    throw new UsageError(
      `${checkpoint} was trained on data built in memory: pass --data DIR to evaluate it`,
    );
  }
  const record = data !== undefined && (!config.dataSource || !config.split)
    ? null
    : runDataRecord(run, config);
  if (record === null) {
    const { dataset, source } = await loadDataset(data!, { maxImagePixels });
    const part = split ?? "all";
    const ds = part === "all" ? dataset : splitByImage(dataset, { ...DEFAULT_SPLIT, seed })[part];
    return { dataset: ds, source, split: part, own: false, includesTrainingItems: false };
  }
  return await resolveRunData(run, record, {
    dataPath: data,
    split,
    otherSpec: { ...DEFAULT_SPLIT, seed },
    maxImagePixels,
  });
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const data = flags.data as string | undefined;
  if (data === "") throw new UsageError("--data needs a path");
  const checkpoint = typeof flags.checkpoint === "string" ? flags.checkpoint : null;
  const splitFlag = flags.split === undefined
    ? undefined
    : choiceFlag<SplitName>("split", flags.split, ["all", "train", "val", "test"], "all");
  const seed = numberFlag("seed", flags.seed, 0, { integer: true, min: 0 });
  const generator = dataGeneratorFlag(flags);
  const imageChunk = optionalInt("image-chunk", flags["image-chunk"]);
  const textChunk = optionalInt("text-chunk", flags["text-chunk"]);
  const ranksPath = typeof flags.ranks === "string" ? flags.ranks : undefined;
  const json = Boolean(flags.json);
  const normMethod = choiceFlag<NormMethod>("norm", flags.norm, [...NORM_METHODS], "none");
  const normGiven = keyValueFlags("norm-opt", flags["norm-opt"]);
  const bankPath = typeof flags.bank === "string" ? flags.bank : undefined;
  const tune = Boolean(flags["norm-tune"]);
  if (normMethod === "none" && (Object.keys(normGiven).length > 0 || bankPath || tune)) {
    throw new UsageError("--norm-opt, --bank and --norm-tune need --norm invsoftmax|dbnorm|nnn");
  }
  let params: NormParams = {};
  if (normMethod !== "none") {
    try {
      params = normParams(normMethod, normGiven);
    } catch (e) {
      throw new UsageError(`--norm-opt: ${(e as Error).message}`);
    }
  }
  if (tune && !checkpoint) {
    throw new UsageError(
      "--norm-tune picks --norm's parameters on a run's validation part: it needs --checkpoint RUN",
    );
  }
  if (tune && Object.keys(normGiven).length > 0) {
    throw new UsageError("--norm-tune chooses the parameters: drop --norm-opt");
  }

  const started = performance.now();
  const runtime = await initGpu();
  const maxImagePixels = maxImagePixelsFlag(flags);
  let resolved: ResolvedRunData;
  if (checkpoint) {
    if (generator !== undefined) {
      throw new UsageError(
        "--data-generator applies to zero-shot evaluation; a run's own data is regenerated as " +
          "its config.json records",
      );
    }
    resolved = await checkpointData(checkpoint, data, splitFlag, seed, maxImagePixels);
    if (resolved.own && flags.seed !== undefined) {
      throw new UsageError(
        "--seed applies to zero-shot evaluation and other data; a run's own data is split as " +
          "its config.json records",
      );
    }
  } else {
    const { dataset, source } = await loadDataset(data, {
      seed,
      maxImagePixels,
      defaultDataset: generator ? { generator } : undefined,
    });
    const split = splitFlag ?? (data === undefined ? "test" : "all");
    const ds = split === "all" ? dataset : splitByImage(dataset, { ...DEFAULT_SPLIT, seed })[split];
    resolved = { dataset: ds, source, split, own: false, includesTrainingItems: false };
  }
  const ds = resolved.dataset;
  const what = scored(resolved.source, ds, resolved.split, resolved.includesTrainingItems);
  if (checkpoint && await isRerankRun(checkpoint)) {
    if (normMethod !== "none") throw new UsageError("--norm applies to first-stage runs");
    return await evalRerank(checkpoint, resolved, json, ranksPath);
  }
  const bank = normMethod === "none"
    ? null
    : await resolveBank(bankPath, resolved, checkpoint, seed, maxImagePixels);
  if (tune && !resolved.parts?.val.numImages) {
    throw new UsageError(
      `--norm-tune needs the run's own data with a validation part (${checkpoint} has none here)`,
    );
  }
  if (tune && resolved.split === "val") {
    throw new UsageError(
      "--norm-tune picks the parameters on the validation part: score another part (test)",
    );
  }
  // With --json the table is not printed, so its facts go to stderr; without, the table has them.
  const log = (line: string) =>
    console.error(
      `eval: ${describeScored(what)}: ${ds.numTexts} texts × ${ds.numImages} images` +
        `${distractorNote(ds)}; ${line}`,
    );
  // Large galleries take a while: a progress line per score block (stderr), from the 2nd block on.
  const progress = new Progress();
  const onProgress = (done: number, total: number) => {
    if (total > 1) {
      progress.update({
        label: "eval: scoring",
        done,
        total,
        unit: "blocks",
        elapsed: (performance.now() - t0) / 1000,
      });
    }
  };
  let ranks: RetrievalRanks;
  let scoring = "zero-shot cosine of the raw features";
  let dim = ds.textDim;
  let t0 = performance.now();
  // How a part's texts and images become embeddings: the raw features, or the run's heads.
  let embed: (part: RetrievalDataset) => Promise<{ texts: Embeddings; images: Embeddings }>;
  let normalize = true;
  let dispose = () => {};
  if (checkpoint) {
    const saved = await readCheckpoint(checkpoint);
    const { text, image } = saved.config;
    if (text.inDim !== ds.textDim || image.inDim !== ds.imageDim) {
      throw new Error(
        `${checkpoint} was trained on ${text.inDim}-d texts and ${image.inDim}-d images; ` +
          `${ds.name} has ${ds.textDim}-d texts and ${ds.imageDim}-d images`,
      );
    }
    const model = new DualEncoder(saved.config, 0);
    model.loadStateDict(saved.tensors, checkpoint);
    dim = text.outDim;
    scoring = `checkpoint ${checkpoint} (${text.kind} heads, epoch ${saved.metadata.epoch ?? "?"})`;
    normalize = false;
    embed = async (part) => ({
      texts: await model.embedAll("texts", part.texts, part.numTexts),
      images: await model.embedAll("images", part.images, part.numImages),
    });
    dispose = () => model.dispose();
  } else {
    // Zero-shot: the raw features are the embeddings.
    if (ds.textDim !== ds.imageDim) throw zeroShotDimError(ds);
    embed = (part) => Promise.resolve({ texts: part.texts, images: part.images });
  }
  let normRecord: Record<string, unknown> = { method: "none" };
  let norm: RetrievalOptions["norm"] = undefined;
  if (bank) {
    if (bank.dataset.textDim !== ds.textDim || bank.dataset.imageDim !== ds.imageDim) {
      throw new UsageError(
        `the bank (${bank.record.name}) has ${bank.dataset.textDim}-d texts and ` +
          `${bank.dataset.imageDim}-d images; the evaluated data ${ds.textDim} and ${ds.imageDim}`,
      );
    }
    const bankEmb = await embed(bank.dataset);
    const inputs = (e: { texts: Embeddings; images: Embeddings }) => ({
      ...e,
      bankTexts: bankEmb.texts,
      bankImages: bankEmb.images,
      dim,
      normalize,
    });
    let tuned: Record<string, unknown> | null = null;
    if (tune && normMethod !== "none") {
      const val = resolved.parts!.val;
      const valEmb = await embed(val);
      const cache = new NormStatsCache();
      const gallery = Math.min(val.numImages, val.numTexts);
      const bankRows = Math.min(bank.dataset.numImages, bank.dataset.numTexts);
      let best: { params: NormParams; rsum: number } | null = null;
      for (const p of normGrid(normMethod)) {
        if (normMethod === "invsoftmax" && p.k > gallery) continue;
        if (normMethod === "nnn" && p.k > Math.min(bankRows, MAX_BANK_TOPK)) continue;
        const vNorm = await bankNorms(normMethod, p, inputs(valEmb), cache);
        const vRanks = await retrievalRanks({
          ...valEmb,
          textDim: dim,
          imageDim: dim,
          ...evaluationRelation(val),
        }, { normalize, imageChunk, textChunk, norm: vNorm });
        const rsum = retrievalMetrics(vRanks).rsum;
        console.error(
          `eval: --norm-tune ${normMethod} ${formatNormParams(p)}: validation rsum ` +
            `${rsum.toFixed(2)} (bank ${bank.record.description})`,
        );
        if (!best || rsum > best.rsum) best = { params: p, rsum };
      }
      if (!best) throw new UsageError(`--norm-tune: no ${normMethod} grid point fits these sizes`);
      params = best.params;
      tuned = {
        on: "val",
        validationRsum: Math.round(best.rsum * 1e4) / 1e4,
        grid: normGrid(normMethod),
      };
      console.error(
        `eval: --norm-tune chose ${normMethod} ${formatNormParams(params)} on the validation ` +
          `part (rsum ${best.rsum.toFixed(2)}; defaults ${
            formatNormParams(NORM_DEFAULTS[normMethod])
          })`,
      );
    }
    t0 = performance.now();
    const emb = await embed(ds);
    norm = await bankNorms(normMethod, params, inputs(emb));
    normRecord = { method: normMethod, params, bank: bank.record, tuned };
    scoring += `; ${normMethod} (${formatNormParams(params)}${tuned ? ", tuned on val" : ""}) ` +
      `with bank ${bank.record.description}`;
    if (json) log(`${scoring}, on ${runtime.gpu.adapterName}`);
    ranks = await retrievalRanks(
      { ...emb, textDim: dim, imageDim: dim, ...evaluationRelation(ds) },
      { normalize, imageChunk, textChunk, onProgress, norm },
    );
  } else {
    if (json) log(`${dim}-d, ${scoring}, on ${runtime.gpu.adapterName}`);
    t0 = performance.now();
    const emb = await embed(ds);
    ranks = await retrievalRanks(
      { ...emb, textDim: dim, imageDim: dim, ...evaluationRelation(ds) },
      { normalize, imageChunk, textChunk, onProgress },
    );
  }
  dispose();
  const metrics = retrievalMetrics(ranks);
  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    console.error(
      `eval: scored in ${seconds.toFixed(2)} s (${
        ((performance.now() - started) / 1000).toFixed(2)
      } s with loading)`,
    );
  }
  await writeRanks(ranksPath, ranks);
  if (json) {
    console.log(
      JSON.stringify({ ...JSON.parse(metricsJson(metrics)), data: what, norm: normRecord }),
    );
  } else {
    console.log(formatMetricsTable(metrics, {
      name: describeScored(what),
      numTexts: ds.numTexts,
      numImages: ds.numImages,
      dim,
      imageQueries: imageQueryCount(relevanceOf(ds), ds.numImages),
      scoring,
      seconds,
      adapter: rt().gpu.adapterName,
    }));
  }
  return 0;
}

if (import.meta.main) {
  await runMain(
    main,
    HELP,
    "lower --image-chunk / --text-chunk (the gallery and queries are scored in chunks); a " +
      "single feature row wider than the limit cannot be scored",
  );
}
