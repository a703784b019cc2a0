/**
 * The pictures of a training run, drawn by the CLI through the trainer's hooks (the trainer draws
 * nothing): `curves.png` after every epoch and, for datasets with images, `examples.png` at the end.
 * Each carries a caption naming the loss, the data and the part shown.
 *
 * @module
 */

import { writeFileAtomic } from "../data/errors.ts";
import type { RetrievalDataset } from "../data/types.ts";
import { curvesPng, examplesPng, hasImages } from "../report/run_plots.ts";
import type { RunPictures } from "../train/run.ts";
import { RUN_FILES, runPath } from "../train/run_dir.ts";
import type { TrainData } from "../train/trainer.ts";

function dataName(data: TrainData): string {
  return data.source?.name ?? data.train.name.replace(/-train$/, "");
}

function sizes(ds: RetrievalDataset): string {
  return `${ds.numImages} images / ${ds.numTexts} texts`;
}

/** Picture hooks for `runTraining`: curves always, examples unless `examples` is false. */
export function runPictures(options: { examples?: boolean } = {}): RunPictures {
  return {
    onEpoch: async (dir, history, config, data) => {
      const caption = `${config.loss} on ${dataName(data)}: training part ${sizes(data.train)}` +
        (data.val ? `; recall on the validation part, ${sizes(data.val)}` : "");
      await writeFileAtomic(
        runPath(dir, RUN_FILES.curves),
        await curvesPng(history, config.loss, caption),
      );
    },
    onFinished: async (dir, model, data) => {
      const val = data.val;
      if (options.examples === false || !val || !hasImages(val)) return;
      const textEmb = await model.embedAll("texts", val.texts, val.numTexts);
      const imageEmb = await model.embedAll("images", val.images, val.numImages);
      const queries = [0, 1, 2, 3].map((i) => Math.floor((i * val.numTexts) / 4));
      const caption = `${dataName(data)}, validation part (${sizes(val)}): text queries and ` +
        "their top-5 images by the kept checkpoint; green = the text's own image";
      await writeFileAtomic(
        runPath(dir, RUN_FILES.examples),
        await examplesPng(val, textEmb, imageEmb, model.config.text.outDim, queries, 5, caption),
      );
    },
  };
}
