/**
 * The embedded default dataset: rendered scenes of coloured shapes with five differently worded
 * captions each, generated deterministically from a seed (nothing is downloaded) and featurised by
 * the built-in featurisers. Two generators:
 *
 * - **`v2` (the default): graded relevance and headroom** (`./scene_v2.ts`). Busier scenes (2–4
 *   objects, 12 colours a small hue step apart, more position jitter) and captions that describe 1
 *   to 3 of a scene's objects; every (caption, scene) pair is graded exactly from what the caption
 *   says and the scene holds (3: all of it holds; 2: all there, one attribute a step off; 1: one
 *   described object fully present; see {@link captionGrade}), and the dataset carries that
 *   relation (`relevance`). A caption's own scene is its primary image, at grade 3.
 * - **`v1`: the original.** A background (white, light grey, dark grey, black or cream) and one or
 *   two objects; an object is one of 7 shapes (circle, square, triangle, star, diamond, cross,
 *   hexagon) in one of 8 colours, small or large, in one of the 9 cells of a 3 × 3 layout (top left
 *   … bottom right), with small random jitter of position, size, rotation and colour. Two objects
 *   never share a cell. Captions come from 5 template families (one per caption, in a random
 *   order) with synonyms for every attribute ("a small red circle in the top left", "top-left
 *   corner: one crimson disc", …) and describe every object; each caption is relevant to its own
 *   scene alone. Retrieval needs the colour, shape, size and place of each object: scenes that
 *   share a shape in another colour or place are the hard negatives, and they are everywhere.
 *
 * Scenes are drawn on an imagescript canvas with 4 × 4 supersampled anti-aliasing
 * (`./scenes.ts`). Scene `i` and its captions depend only on `(generator, seed, i)`, so a larger
 * dataset extends a smaller one. The split into train / val / test is by image
 * ({@link splitByImage}, seeded).
 *
 * @example
 * ```ts
 * import { generateDefaultDataset } from "./synthetic.ts";
 * const { train, val, test } = await generateDefaultDataset({ seed: 1 });
 * console.log(train.numImages, train.numTexts, train.imageDim, train.textDim); // 1600 8000 312 1024
 * const { width, rgba } = await test.renderImage!(0); // pixels of the first test scene
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "./types.ts";
import { computeImageFeatures, IMAGE_FEATURE_GRID, IMAGE_FEATURE_SIZE } from "./image_features.ts";
import { featuriseTexts, TEXT_FEATURE_DIM } from "./text_features.ts";
import { pick, randomInt, seededRandom, shuffle } from "../util/random.ts";
import { type RetrievalSplits, splitByImage } from "./split.ts";
import { buildRelation } from "./relation.ts";
import { type CaptionSpec, generateSceneV2, gradeRelation, sceneCaptionsV2 } from "./scene_v2.ts";
import {
  BACKGROUND_WORDS,
  BACKGROUNDS,
  fixArticles,
  PLACE_WORDS,
  randomObject,
  renderScene,
  type Scene,
  type SceneObject,
  sceneSeed,
  SHAPE_WORDS,
  SIZE_WORDS,
} from "./scenes.ts";

export { BACKGROUNDS, renderScene, type Scene, type SceneObject, SHAPES } from "./scenes.ts";
export type { ShapeName } from "./scenes.ts";

/** Object colours: name and RGB. */
export const COLOURS = [
  { name: "red", rgb: [220, 35, 35] },
  { name: "orange", rgb: [245, 140, 20] },
  { name: "yellow", rgb: [235, 215, 30] },
  { name: "green", rgb: [40, 165, 60] },
  { name: "cyan", rgb: [30, 190, 210] },
  { name: "blue", rgb: [40, 80, 220] },
  { name: "purple", rgb: [135, 50, 185] },
  { name: "pink", rgb: [245, 125, 180] },
] as const;

const COLOUR_WORDS: Record<string, string[]> = {
  red: ["red", "crimson", "scarlet"],
  orange: ["orange", "tangerine", "orange-coloured"],
  yellow: ["yellow", "golden", "lemon"],
  green: ["green", "emerald", "grass-green"],
  cyan: ["cyan", "turquoise", "aqua"],
  blue: ["blue", "azure", "cobalt"],
  purple: ["purple", "violet", "plum"],
  pink: ["pink", "rose", "rosy"],
};

/** The generators of the default dataset: `v2` (graded, the default) and `v1` (the original). */
export const GENERATORS = ["v2", "v1"] as const;

/** One of {@link GENERATORS}. */
export type GeneratorVersion = typeof GENERATORS[number];

/** The generator used when none is named. */
export const DEFAULT_GENERATOR: GeneratorVersion = "v2";

/** Options of {@link generateDefaultDataset}. */
export interface DefaultDatasetOptions {
  /** Which generator (default {@link DEFAULT_GENERATOR}; see the module notes). */
  generator?: GeneratorVersion;
  /** Seed of everything (default 0). */
  seed?: number;
  /** Number of scenes (default 2000). */
  images?: number;
  /** Captions per scene, 1–5 (default 5). */
  captionsPerImage?: number;
  /** Fraction of scenes in the validation split (default 0.1). */
  valFraction?: number;
  /** Fraction of scenes in the test split (default 0.1). */
  testFraction?: number;
  /** Side of the rendered image the features are computed on (default 64). */
  imageSize?: number;
  /** Text feature dimension (default 1024). */
  textDim?: number;
  /** Side of the images returned by `renderImage` (default 128). */
  displaySize?: number;
}

/** The splits plus the whole dataset (scene `i` of `all` is image `i`). */
export interface DefaultDataset extends RetrievalSplits {
  /** All scenes, before splitting. */
  all: RetrievalDataset;
}

/** Scene `i` of the dataset generated from `seed` (deterministic). */
export function generateScene(seed: number, i: number): Scene {
  const random = seededRandom(sceneSeed(seed, i));
  const background = randomInt(random, BACKGROUNDS.length);
  const count = random() < 0.5 ? 1 : 2;
  const places = shuffle(random, [0, 1, 2, 3, 4, 5, 6, 7, 8]).slice(0, count);
  const objects = places.map((place) =>
    randomObject(random, place, COLOURS, { jitter: 0.08, small: 0.085, large: 0.14 })
  );
  return { background, objects };
}

/**
 * `count` (≤ 5) captions of a scene, each from a different template family, synonyms drawn from
 * `random`.
 */
export function sceneCaptions(scene: Scene, count: number, random: () => number): string[] {
  const bg = pick(random, BACKGROUND_WORDS[BACKGROUNDS[scene.background].name]);
  const words = (o: SceneObject) => ({
    c: pick(random, COLOUR_WORDS[COLOURS[o.colour].name]),
    s: pick(random, SHAPE_WORDS[o.shape]),
    z: pick(random, o.large ? SIZE_WORDS.large : SIZE_WORDS.small),
    p: pick(random, PLACE_WORDS[o.place]),
  });
  const families = shuffle(random, [0, 1, 2, 3, 4]).slice(0, count);
  return families.map((family) => {
    const objects = shuffle(random, [...scene.objects]).map(words);
    if (objects.length === 1) {
      const [{ c, s, z, p }] = objects;
      return fixArticles(
        [
          `a ${z} ${c} ${s} in the ${p}`,
          `${p}: one ${c} ${s}`,
          `there is a ${c} ${s} at the ${p} on a ${bg} background`,
          `${c} ${s}, ${z}, ${p}`,
          `a picture of a ${z} ${s} coloured ${c} near the ${p}`,
        ][family],
      );
    }
    const [a, b] = objects;
    return fixArticles(
      [
        `a ${a.z} ${a.c} ${a.s} in the ${a.p} and a ${b.z} ${b.c} ${b.s} in the ${b.p}`,
        `${a.p}: one ${a.c} ${a.s}; ${b.p}: one ${b.c} ${b.s}`,
        `two shapes on a ${bg} background: a ${a.c} ${a.s} at the ${a.p} and a ${b.c} ${b.s} at ` +
        `the ${b.p}`,
        `${a.c} ${a.s}, ${a.p}; ${b.z} ${b.c} ${b.s}, ${b.p}`,
        `a picture of a ${a.s} coloured ${a.c} near the ${a.p} with a ${b.z} ${b.s} coloured ` +
        `${b.c} near the ${b.p}`,
      ][family],
    );
  });
}

/** The scenes and captions of the default dataset, before rendering and featurising. */
export interface DefaultScenes {
  /** Scene `i` is image `i`. */
  scenes: Scene[];
  /** All captions, scene by scene. */
  captions: string[];
  /** The scene each caption was written for. */
  textToImage: Int32Array;
  /** What each caption says (v2; empty for v1, whose captions describe every object). */
  specs: CaptionSpec[];
}

/**
 * The scenes and captions {@link generateDefaultDataset} renders and featurises (no GPU needed):
 * deterministic from `generator`, `seed`, `images` and `captionsPerImage`.
 */
export function defaultScenes(
  options: Pick<DefaultDatasetOptions, "generator" | "seed" | "images" | "captionsPerImage"> = {},
): DefaultScenes {
  const { generator = DEFAULT_GENERATOR, seed = 0, images = 2000, captionsPerImage = 5 } = options;
  if (!Number.isInteger(images) || images < 1) {
    throw new RangeError(`generateDefaultDataset: images ${images} must be a positive integer`);
  }
  if (!Number.isInteger(captionsPerImage) || captionsPerImage < 1 || captionsPerImage > 5) {
    throw new RangeError(
      `generateDefaultDataset: captionsPerImage ${captionsPerImage} must be an integer in [1, 5]`,
    );
  }
  if (!(GENERATORS as readonly string[]).includes(generator)) {
    throw new RangeError(
      `generateDefaultDataset: generator ${generator} is not one of ${GENERATORS.join(", ")}`,
    );
  }
  const v2 = generator === "v2";
  const scenes = Array.from(
    { length: images },
    (_, i) => v2 ? generateSceneV2(seed, i) : generateScene(seed, i),
  );
  const captions: string[] = [];
  const specs: CaptionSpec[] = [];
  const textToImage = new Int32Array(images * captionsPerImage);
  scenes.forEach((scene, i) => {
    const random = seededRandom(sceneSeed(seed ^ 0x5bd1e995, i));
    const made = v2
      ? sceneCaptionsV2(scene, captionsPerImage, random)
      : sceneCaptions(scene, captionsPerImage, random).map((text) => ({ text, spec: null }));
    for (const { text, spec } of made) {
      textToImage[captions.length] = i;
      captions.push(text);
      if (spec) specs.push(spec);
    }
  });
  return { scenes, captions, textToImage, specs };
}

/**
 * Generates, renders and featurises the default dataset and splits it by image (see the module
 * notes). Image features: the built-in GPU featuriser (312 values); text features: the built-in
 * hashed n-grams (1024 values). Each split has `renderImage` (the scene at `displaySize`),
 * `imageNames` (`scene-00042`) and `captions`; the v2 generator's splits also have `relevance`,
 * every (caption, scene) pair's grade ({@link captionGrade}).
 */
export async function generateDefaultDataset(
  options: DefaultDatasetOptions = {},
): Promise<DefaultDataset> {
  const {
    seed = 0,
    images = 2000,
    valFraction = 0.1,
    testFraction = 0.1,
    imageSize = IMAGE_FEATURE_SIZE,
    textDim = TEXT_FEATURE_DIM,
    displaySize = 128,
  } = options;
  const { scenes, captions, textToImage, specs } = defaultScenes(options);
  const perImage = imageSize * imageSize * 4;
  const pixels = new Uint8Array(images * perImage);
  scenes.forEach((scene, i) => pixels.set(renderScene(scene, imageSize), i * perImage));
  const imageFeatures = await computeImageFeatures(pixels, images, {
    size: imageSize,
    grid: IMAGE_FEATURE_GRID,
  });
  const relevance = specs.length > 0
    ? buildRelation(
      captions.length,
      images,
      gradeRelation(scenes, specs, textToImage),
      "default dataset",
      textToImage,
    ).relation
    : null;
  const all: RetrievalDataset = {
    name: "default",
    images: imageFeatures,
    numImages: images,
    imageDim: imageFeatures.length / images,
    texts: featuriseTexts(captions, { dim: textDim }),
    numTexts: captions.length,
    textDim,
    textToImage,
    ...(relevance ? { relevance } : {}),
    imageNames: scenes.map((_, i) => `scene-${String(i).padStart(5, "0")}`),
    captions,
    renderImage: (i: number) => {
      if (!Number.isInteger(i) || i < 0 || i >= images) {
        return Promise.reject(
          new RangeError(`renderImage: image ${i} out of range [0, ${images})`),
        );
      }
      const rgba = renderScene(scenes[i], displaySize);
      return Promise.resolve({ width: displaySize, height: displaySize, rgba });
    },
  };
  return { ...splitByImage(all, { valFraction, testFraction, seed }), all };
}
