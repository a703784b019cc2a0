/**
 * The data a training run sees: the embedded default's own train / validation split, or user data
 * split by image with a fixed seed (so every loss and training seed sees the same split).
 *
 * @module
 */

import { loadRetrievalSplits } from "../data/load.ts";
import type { RetrievalDataset } from "../data/types.ts";
import { distractorNote } from "../eval/metrics.ts";
import type { TrainData } from "./trainer.ts";

/** How to load and split. */
export interface TrainDataOptions {
  /** Validation fraction of user data's images (0 = no validation). The default dataset keeps its own split. */
  valFraction: number;
  /** Seed of the default dataset's generation and of the split (default 0). */
  dataSeed?: number;
  /** Log function for a one-line summary. */
  log?: (line: string) => void;
}

function describe(ds: RetrievalDataset): string {
  return `${ds.numImages} images${distractorNote(ds.textToImage, ds.numImages)} / ` +
    `${ds.numTexts} texts`;
}

/**
 * Loads `path` (or generates the default dataset) and returns the training and validation splits,
 * plus the default dataset's test split.
 */
export async function loadTrainData(
  path: string | null,
  options: TrainDataOptions,
): Promise<TrainData> {
  const seed = options.dataSeed ?? 0;
  const started = performance.now();
  const splits = path === null
    ? await loadRetrievalSplits(undefined, { seed })
    : await loadRetrievalSplits(path, { seed, valFraction: options.valFraction, testFraction: 0 });
  const val = splits.val.numImages > 0 ? splits.val : null;
  options.log?.(
    `data ${splits.train.name}: train ${describe(splits.train)}` +
      (val ? `, val ${describe(val)}` : ", no validation") +
      `; text dim ${splits.train.textDim}, image dim ${splits.train.imageDim} ` +
      `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  const test = splits.test.numImages > 0 ? splits.test : null;
  return { train: splits.train, val, test };
}
