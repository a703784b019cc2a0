/**
 * Shared fixtures of the training tests: a small learnable feature dataset, its files on disk, a
 * quiet progress reporter, and a small training config.
 *
 * @module
 */

import { randn } from "./util.ts";
import type { RetrievalDataset } from "../src/data/types.ts";
import { writeNpy } from "../src/data/npy.ts";
import type { TrainConfig } from "../src/train/trainer.ts";
import { Progress } from "../src/train/progress.ts";

/** Shape and noise of a {@link toyDataset}. */
export interface ToyOptions {
  /** Images. */
  images: number;
  /** Captions per image. */
  captions?: number;
  /** Image feature dim. */
  imageDim?: number;
  /** Text feature dim. */
  textDim?: number;
  /** Seed of the image features and the noise (the map is fixed per dims). */
  seed: number;
  /** Noise standard deviation added to each text feature. */
  noise?: number;
  /** Dataset name. */
  name?: string;
}

/**
 * A learnable problem: each text is a fixed random linear map of its image's features plus noise,
 * in another dimension; text t belongs to image ⌊t / captions⌋.
 */
export function toyDataset(o: ToyOptions): RetrievalDataset {
  const { images, captions = 2, imageDim: di = 16, textDim: dt = 12, seed, noise = 0.3 } = o;
  const map = randn(di * dt, 99, 1 / Math.sqrt(di));
  const img = randn(images * di, seed);
  const nt = images * captions;
  const texts = new Float32Array(nt * dt);
  const textToImage = new Int32Array(nt);
  const eps = randn(nt * dt, seed + 1, noise);
  for (let t = 0; t < nt; t++) {
    const i = Math.floor(t / captions);
    textToImage[t] = i;
    for (let c = 0; c < dt; c++) {
      let s = 0;
      for (let k = 0; k < di; k++) s += img[i * di + k] * map[k * dt + c];
      texts[t * dt + c] = s + eps[t * dt + c];
    }
  }
  return {
    name: o.name ?? "toy",
    images: Float32Array.from(img),
    numImages: images,
    imageDim: di,
    texts,
    numTexts: nt,
    textDim: dt,
    textToImage,
  };
}

/** Writes a dataset as a feature directory (`images.npy`, `texts.npy`, the k-captions layout). */
export async function writeFeatureDir(dir: string, ds: RetrievalDataset): Promise<void> {
  await writeNpy(`${dir}/images.npy`, ds.images, [ds.numImages, ds.imageDim]);
  await writeNpy(`${dir}/texts.npy`, ds.texts, [ds.numTexts, ds.textDim]);
}

/** A progress reporter that prints nothing. */
export function quietProgress(): Progress {
  const quiet = new Progress(1e9, false);
  quiet.log = () => {};
  quiet.update = () => {};
  return quiet;
}

/** A small training config writing to `out` (MLP heads, a few epochs, fast). */
export function smallConfig(out: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    data: null,
    loss: "softmax",
    lossOptions: {},
    epochs: 3,
    batch: 16,
    captionsPerImage: 2,
    lr: 0.01,
    minLrRatio: 0.01,
    warmup: 0.1,
    weightDecay: 0.01,
    decayTo: "auto",
    clip: 1,
    seed: 3,
    dataSeed: 0,
    valFraction: 0.2,
    testFraction: 0,
    model: { head: "mlp", embedDim: 8, hidden: 16, activation: "gelu" },
    logEvery: 4,
    maxSteps: 0,
    out,
    ...overrides,
  };
}
