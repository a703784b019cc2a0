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
import { evaluateRerank, isRerankRun, loadFirstStage, readReranker } from "../train/rerank.ts";
import { type ResolvedRunData, resolveRunData, runDataRecord } from "../train/data.ts";
import {
  choiceFlag,
  DATA_GENERATOR_OPTION,
  dataGeneratorFlag,
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
    "run trained on are scored only with --split train|all, and the output says so.",
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
    return await evalRerank(checkpoint, resolved, json, ranksPath);
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
  let scoring = "zero-shot cosine of the raw features";
  let dim = ds.textDim;
  let t0: number;
  let ranks: RetrievalRanks;
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
    if (json) log(`${scoring}, on ${runtime.gpu.adapterName}`);
    t0 = performance.now();
    const texts = await model.embedAll("texts", ds.texts, ds.numTexts);
    const images = await model.embedAll("images", ds.images, ds.numImages);
    model.dispose();
    ranks = await retrievalRanks(
      {
        texts,
        images,
        textDim: dim,
        imageDim: dim,
        ...evaluationRelation(ds),
      },
      { normalize: false, imageChunk, textChunk, onProgress },
    );
  } else {
    // Zero-shot: the raw features are the embeddings.
    if (ds.textDim !== ds.imageDim) throw zeroShotDimError(ds);
    if (json) log(`${ds.textDim}-d, ${scoring}, on ${runtime.gpu.adapterName}`);
    t0 = performance.now();
    ranks = await retrievalRanks({
      texts: ds.texts,
      textDim: ds.textDim,
      images: ds.images,
      imageDim: ds.imageDim,
      ...evaluationRelation(ds),
    }, { imageChunk, textChunk, onProgress });
  }
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
    console.log(JSON.stringify({ ...JSON.parse(metricsJson(metrics)), data: what }));
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
