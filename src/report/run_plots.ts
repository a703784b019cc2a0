/**
 * The PNGs of a training run: `curves.png` (loss and recall by epoch) and `examples.png` (text
 * queries with their top-5 retrieved images, the right one outlined in green).
 *
 * @module
 */

import { Image } from "imagescript";
import type { RetrievalDataset } from "../data/types.ts";
import type { RetrievalMetrics } from "../eval/metrics.ts";
import { grid, lineChart, outline } from "./charts.ts";
import { drawText } from "./text.ts";

/** The per-epoch values the curves need. */
export interface CurvePoint {
  /** Epoch (0 = before training). */
  epoch: number;
  /** Mean training loss (NaN for epoch 0). */
  loss: number;
  /** Validation metrics, if any. */
  metrics: RetrievalMetrics | null;
}

/**
 * Draws loss (left) and validation R@1/5/10 in both directions (right) by epoch, under a caption
 * line saying what was trained on which data (e.g. `softmax on default: validation part, 200
 * images / 1000 texts`).
 */
export async function curvesPng(
  points: CurvePoint[],
  title: string,
  caption = "",
): Promise<Uint8Array> {
  const xs = points.map((p) => p.epoch);
  const loss = await lineChart([{ name: "train loss", values: points.map((p) => p.loss) }], {
    title: `${title}: training loss`,
    xLabel: "epoch (0 = before training)",
    yLabel: "mean loss over the epoch",
    xs,
  });
  const withMetrics = points.filter((p) => p.metrics);
  const panels = [loss];
  if (withMetrics.length > 0) {
    const series = (["t2i", "i2t"] as const).flatMap((dir) =>
      (["R@1", "R@5", "R@10"] as const).map((k) => ({
        name: `${dir} ${k}`,
        values: withMetrics.map((p) => p.metrics![dir][k]),
      }))
    );
    panels.push(
      await lineChart(series, {
        title: "validation recall",
        xLabel: "epoch (0 = before training)",
        yLabel: "R@K (%)",
        xs: withMetrics.map((p) => p.epoch),
        width: 620,
      }),
    );
  }
  return await (await withCaption(grid([panels]), caption)).encode();
}

/** `img` under a caption, wrapped to its width (nothing added for an empty caption). */
async function withCaption(img: Image, caption: string): Promise<Image> {
  if (!caption) return img;
  const perLine = Math.max(20, Math.floor((img.width - 20) / 7.5)); // ~7.5 px per 13 px glyph
  const lines: string[] = [];
  for (const word of caption.split(" ")) {
    const last = lines.at(-1);
    if (last !== undefined && (last + " " + word).length <= perLine) {
      lines[lines.length - 1] = `${last} ${word}`;
    } else lines.push(word);
  }
  const header = new Image(img.width, 8 + 18 * lines.length);
  header.fill(0xffffffff);
  for (const [i, line] of lines.entries()) {
    await drawText(header, line, 10, 5 + 18 * i, 13, 0x333333ff);
  }
  return grid([[header], [img]], 0);
}

async function loadThumb(ds: RetrievalDataset, i: number, size: number): Promise<Image> {
  let img: Image;
  if (ds.renderImage) {
    const { width, height, rgba } = await ds.renderImage(i);
    img = new Image(width, height);
    img.bitmap.set(rgba);
  } else if (ds.imagePaths) {
    img = await Image.decode(await Deno.readFile(ds.imagePaths[i])) as Image;
  } else {
    throw new Error("dataset has no images to draw");
  }
  return img.contain(size, size);
}

/** Whether a dataset can be drawn (generated scenes or image files). */
export function hasImages(ds: RetrievalDataset): boolean {
  return Boolean(ds.renderImage || ds.imagePaths);
}

/**
 * Draws `queries` text rows with their top-5 images by the given embeddings (cosine; host-side,
 * few queries). The correct image is outlined in green, others in grey; `caption` (e.g. the data
 * and part shown) heads the picture.
 */
export async function examplesPng(
  ds: RetrievalDataset,
  textEmb: Float32Array,
  imageEmb: Float32Array,
  dim: number,
  queries: number[],
  k = 5,
  caption = "",
): Promise<Uint8Array> {
  const size = 96;
  const rows: Image[][] = [];
  for (const q of queries) {
    const scores = new Float32Array(ds.numImages);
    for (let i = 0; i < ds.numImages; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += textEmb[q * dim + d] * imageEmb[i * dim + d];
      scores[i] = s;
    }
    const top = Array.from({ length: ds.numImages }, (_, i) => i)
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, k);
    const caption = new Image(300, size);
    caption.fill(0xffffffff);
    const text = ds.captions?.[q] ?? `text ${q}`;
    const words = text.split(/\s+/);
    let line = "";
    let y = 4;
    for (const w of words) {
      if ((line + " " + w).length > 38 && line) {
        await drawText(caption, line, 4, y, 13);
        y += 17;
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    if (line && y < size - 14) await drawText(caption, line, 4, y, 13);
    const thumbs: Image[] = [caption];
    for (const i of top) {
      const cell = new Image(size, size);
      cell.fill(0xf4f4f4ff);
      const t = await loadThumb(ds, i, size - 8);
      cell.composite(t, (size - t.width) / 2, (size - t.height) / 2);
      outline(
        cell,
        i === ds.textToImage[q] ? 0x22aa22ff : 0xccccccff,
        i === ds.textToImage[q] ? 4 : 1,
      );
      thumbs.push(cell);
    }
    rows.push(thumbs);
  }
  return await (await withCaption(grid(rows), caption)).encode();
}
