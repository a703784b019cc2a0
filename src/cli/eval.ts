/**
 * `deno task eval`: retrieval metrics of a dataset, both directions, computed on the GPU.
 *
 * Zero-shot (no checkpoint): the raw text and image features are scored by cosine, which needs
 * equal dims. Prints a table, or with `--json` exactly one JSON object on stdout (logs go to
 * stderr).
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
import { evaluateDataset } from "../eval/retrieval.ts";
import { imageQueryCount } from "../eval/metrics.ts";
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
  help: { type: "boolean", help: "show this help" },
};

const HELP = usage(
  "deno task eval [--data DIR] [--json]",
  "Image–text retrieval metrics (R@1/5/10, MedR, MeanR, mAP, NDCG@10, rsum) in both directions.\n" +
    "Without a checkpoint, the raw features are scored by cosine (zero-shot): their dims must match.",
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
  console.error(`eval: loading ${data ?? "the default dataset"} (split ${split})`);
  const ds = await loadRetrievalData(data, { split, seed });
  // Zero-shot: the raw features are the embeddings (a --checkpoint would project them here).
  if (ds.textDim !== ds.imageDim) throw zeroShotDimError(ds);
  const runtime = await initGpu();
  console.error(
    `eval: ${ds.name}: ${ds.numTexts} texts × ${ds.numImages} images, ${ds.textDim}-d, ` +
      `on ${runtime.gpu.adapterName}`,
  );
  const t0 = performance.now();
  const metrics = await evaluateDataset(ds, { imageChunk, textChunk });
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
      dim: ds.textDim,
      imageQueries: imageQueryCount(ds.textToImage, ds.numImages),
      scoring: "zero-shot cosine of the raw features",
      seconds,
      adapter: rt().gpu.adapterName,
    }));
  }
  return 0;
}

if (import.meta.main) await runMain(main, HELP);
