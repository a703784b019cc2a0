/**
 * `deno task eval`: retrieval metrics of a dataset, both directions, computed on the GPU.
 *
 * Zero-shot (no checkpoint): the raw text and image features are scored by cosine, which needs
 * equal dims. With `--checkpoint RUN_DIR`: the features are projected by the saved model first
 * (its feature dims must match the data's), and all of `--data` is test data. Prints a table, or
 * with `--json` exactly one JSON object on stdout (logs go to stderr).
 *
 * @example
 * ```sh
 * deno task eval --data ../shared/data/flickr8k-clip-b32-val --json
 * ```
 *
 * @module
 */

import { initGpu, rt } from "../gpu/runtime.ts";
import { loadRetrievalData, type SplitName } from "../data/load.ts";
import type { RetrievalDataset } from "../data/types.ts";
import { evaluateDataset, evaluateRetrieval } from "../eval/retrieval.ts";
import { DualEncoder } from "../model/dual_encoder.ts";
import { readCheckpoint, readRunConfig } from "../train/run_dir.ts";
import { evaluateRerank, isRerankRun, loadFirstStage, readReranker } from "../train/rerank.ts";
import { distractorNote, imageQueryCount } from "../eval/metrics.ts";
import { formatMetricsTable, metricsJson } from "../eval/report.ts";
import {
  choiceFlag,
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
    help: "part of the data to evaluate, split by image",
    default: "all with --data, test without",
  },
  seed: {
    type: "string",
    value: "S",
    help: "seed of the split and the default dataset",
    default: "0",
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
  "max-megapixels": {
    type: "string",
    value: "MP",
    help: "largest image of a raw collection, checked before decoding",
    default: "40",
  },
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task eval [--checkpoint RUN_DIR] [--data DIR] [--json]",
  "Image–text retrieval metrics (R@1/5/10, MedR, MeanR, mAP, NDCG@10, rsum) in both directions.\n" +
    "Without a checkpoint, the raw features are scored by cosine (zero-shot): their dims must match.\n" +
    "With --checkpoint, the saved model embeds the data first; without --data, a run trained on the\n" +
    "embedded default is evaluated on that dataset's test split.",
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

/** Evaluates a rerank run: metrics of the first stage alone and with text → image reranked. */
async function evalRerank(run: string, ds: RetrievalDataset, json: boolean): Promise<number> {
  const { reranker, alpha, k, firstStage } = await readReranker(run);
  const model = await loadFirstStage(firstStage);
  console.error(`eval: ${ds.name}: first stage ${firstStage}, reranker ${run} (top ${k})`);
  const r = await evaluateRerank(model, reranker, ds, k, { alpha });
  reranker.dispose();
  alpha?.dispose();
  model.dispose();
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
      JSON.stringify({ ...after, firstStage: JSON.parse(metricsJson(r.before)), rerank: latency }),
    );
    return 0;
  }
  const info = (scoring: string, seconds: number) => ({
    name: ds.name,
    numTexts: ds.numTexts,
    numImages: ds.numImages,
    dim: model.config.text.outDim,
    imageQueries: imageQueryCount(ds.textToImage, ds.numImages),
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

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args, SPECS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const data = flags.data as string | undefined;
  if (data === "") throw new UsageError("--data needs a path");
  const split = choiceFlag<SplitName>(
    "split",
    flags.split,
    ["all", "train", "val", "test"],
    data === undefined ? "test" : "all",
  );
  const seed = numberFlag("seed", flags.seed, 0, { integer: true, min: 0 });
  const imageChunk = optionalInt("image-chunk", flags["image-chunk"]);
  const textChunk = optionalInt("text-chunk", flags["text-chunk"]);

  const started = performance.now();
  const checkpoint = typeof flags.checkpoint === "string" ? flags.checkpoint : null;
  let dataSeed = seed;
  if (checkpoint && data === undefined && flags.seed === undefined) {
    // A run on the default dataset: regenerate it with the run's data seed.
    dataSeed = Number(
      (await readRunConfig(checkpoint, "any").catch(() => ({ dataSeed: 0 }))).dataSeed ?? 0,
    );
  }
  console.error(`eval: loading ${data ?? "the default dataset"} (split ${split})`);
  const maxImagePixels = 1e6 *
    numberFlag("max-megapixels", flags["max-megapixels"], 40, { min: 0 });
  const ds = await loadRetrievalData(data, { split, seed: dataSeed, maxImagePixels });
  const runtime = await initGpu();
  if (checkpoint && await isRerankRun(checkpoint)) {
    return await evalRerank(checkpoint, ds, Boolean(flags.json));
  }
  let scoring = "zero-shot cosine of the raw features";
  let dim = ds.textDim;
  let t0: number;
  let metrics;
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
    console.error(
      `eval: ${ds.name}: ${ds.numTexts} texts × ${ds.numImages} images${
        distractorNote(ds.textToImage, ds.numImages)
      }, ` +
        `${scoring}, on ${runtime.gpu.adapterName}`,
    );
    t0 = performance.now();
    const texts = await model.embedAll("texts", ds.texts, ds.numTexts);
    const images = await model.embedAll("images", ds.images, ds.numImages);
    model.dispose();
    metrics = await evaluateRetrieval(
      { texts, images, textDim: dim, imageDim: dim, textToImage: ds.textToImage },
      { normalize: false, imageChunk, textChunk },
    );
  } else {
    // Zero-shot: the raw features are the embeddings.
    if (ds.textDim !== ds.imageDim) throw zeroShotDimError(ds);
    console.error(
      `eval: ${ds.name}: ${ds.numTexts} texts × ${ds.numImages} images${
        distractorNote(ds.textToImage, ds.numImages)
      }, ` +
        `${ds.textDim}-d, on ${runtime.gpu.adapterName}`,
    );
    t0 = performance.now();
    metrics = await evaluateDataset(ds, { imageChunk, textChunk });
  }
  const seconds = (performance.now() - t0) / 1000;
  console.error(
    `eval: scored in ${seconds.toFixed(2)} s (${
      ((performance.now() - started) / 1000).toFixed(2)
    } s ` +
      "with loading)",
  );
  if (flags.json) {
    console.log(metricsJson(metrics));
  } else {
    console.log(formatMetricsTable(metrics, {
      name: split === "all" ? ds.name : `${ds.name} (${split})`,
      numTexts: ds.numTexts,
      numImages: ds.numImages,
      dim,
      imageQueries: imageQueryCount(ds.textToImage, ds.numImages),
      scoring,
      seconds,
      adapter: rt().gpu.adapterName,
    }));
  }
  return 0;
}

if (import.meta.main) await runMain(main, HELP);
