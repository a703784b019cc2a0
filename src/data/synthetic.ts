/**
 * The embedded default dataset: rendered scenes of coloured shapes with five differently worded
 * captions each, generated deterministically from a seed (nothing is downloaded) and featurised by
 * the built-in featurisers.
 *
 * A scene has a background (white, light grey, dark grey, black or cream) and one or two objects;
 * an object is one of 7 shapes (circle, square, triangle, star, diamond, cross, hexagon) in one of
 * 8 colours, small or large, in one of the 9 cells of a 3 × 3 layout (top left … bottom right),
 * with small random jitter of position, size, rotation and colour. Two objects never share a cell.
 * Scenes are drawn on an imagescript canvas with 4 × 4 supersampled anti-aliasing.
 *
 * Captions come from 5 template families (one per caption, in a random order) with synonyms for
 * every attribute ("a small red circle in the top left", "top-left corner: one crimson disc", …).
 * So retrieval needs the colour, shape, size and place of each object: scenes that share a shape
 * in another colour or place are the hard negatives, and they are everywhere.
 *
 * Scene `i` depends only on `(seed, i)`, so a larger dataset extends a smaller one. The split into
 * train / val / test is by image ({@link splitByImage}, seeded).
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

import { Image } from "imagescript";
import type { RetrievalDataset } from "./types.ts";
import { computeImageFeatures, IMAGE_FEATURE_GRID, IMAGE_FEATURE_SIZE } from "./image_features.ts";
import { featuriseTexts, TEXT_FEATURE_DIM } from "./text_features.ts";
import { fmix32, gaussian, pick, randomInt, seededRandom, shuffle } from "../util/random.ts";
import { type RetrievalSplits, splitByImage } from "./split.ts";

/** The shapes scenes are made of. */
export const SHAPES = [
  "circle",
  "square",
  "triangle",
  "star",
  "diamond",
  "cross",
  "hexagon",
] as const;
/** A shape name. */
export type ShapeName = typeof SHAPES[number];

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

/** Background colours: name and RGB. */
export const BACKGROUNDS = [
  { name: "white", rgb: [245, 245, 245] },
  { name: "light grey", rgb: [185, 185, 185] },
  { name: "dark grey", rgb: [75, 75, 75] },
  { name: "black", rgb: [15, 15, 15] },
  { name: "cream", rgb: [240, 228, 195] },
] as const;

const SHAPE_WORDS: Record<ShapeName, string[]> = {
  circle: ["circle", "disc", "round dot"],
  square: ["square", "box", "block"],
  triangle: ["triangle", "three-sided shape", "wedge"],
  star: ["star", "five-pointed star", "star shape"],
  diamond: ["diamond", "rhombus", "lozenge"],
  cross: ["cross", "plus sign", "plus"],
  hexagon: ["hexagon", "six-sided shape", "hex"],
};

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

const BACKGROUND_WORDS: Record<string, string[]> = {
  "white": ["white", "pale", "bright white"],
  "light grey": ["light grey", "light gray", "silver"],
  "dark grey": ["dark grey", "dark gray", "charcoal"],
  "black": ["black", "dark", "jet-black"],
  "cream": ["cream", "beige", "ivory"],
};

/** Place words of the 3 × 3 layout, row-major from the top left. */
const PLACE_WORDS: string[][] = [
  ["top left", "upper left", "top-left corner"],
  ["top", "top middle", "upper centre"],
  ["top right", "upper right", "top-right corner"],
  ["left", "middle left", "left side"],
  ["center", "middle", "centre"],
  ["right", "middle right", "right side"],
  ["bottom left", "lower left", "bottom-left corner"],
  ["bottom", "bottom middle", "lower centre"],
  ["bottom right", "lower right", "bottom-right corner"],
];

const SIZE_WORDS = { small: ["small", "little", "tiny"], large: ["large", "big", "huge"] };

/** One object of a scene. */
export interface SceneObject {
  /** Its shape. */
  shape: ShapeName;
  /** Index into {@link COLOURS}. */
  colour: number;
  /** Whether it is large. */
  large: boolean;
  /** Cell of the 3 × 3 layout, 0 = top left … 8 = bottom right. */
  place: number;
  /** Centre, in units of the image side (jittered around the cell centre). */
  x: number;
  /** Centre, in units of the image side. */
  y: number;
  /** Radius, in units of the image side. */
  radius: number;
  /** Rotation in radians (jitter; 0 for circles). */
  angle: number;
  /** Final RGB after colour jitter. */
  rgb: [number, number, number];
}

/** A generated scene. */
export interface Scene {
  /** Index into {@link BACKGROUNDS}. */
  background: number;
  /** One or two objects, in drawing order. */
  objects: SceneObject[];
}

/** Options of {@link generateDefaultDataset}. */
export interface DefaultDatasetOptions {
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

/** Derives an independent seed for scene `i` (murmur3 finaliser of a combination). */
function sceneSeed(seed: number, i: number): number {
  return fmix32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
}

/** Scene `i` of the dataset generated from `seed` (deterministic). */
export function generateScene(seed: number, i: number): Scene {
  const random = seededRandom(sceneSeed(seed, i));
  const background = randomInt(random, BACKGROUNDS.length);
  const count = random() < 0.5 ? 1 : 2;
  const places = shuffle(random, [0, 1, 2, 3, 4, 5, 6, 7, 8]).slice(0, count);
  const objects = places.map((place): SceneObject => {
    const shape = pick(random, SHAPES);
    const colour = randomInt(random, COLOURS.length);
    const large = random() < 0.5;
    const jitter = () => (random() - 0.5) * 0.08;
    const base = COLOURS[colour].rgb;
    const shade = 1 + 0.08 * gaussian(random);
    const rgb = base.map((c) =>
      Math.max(0, Math.min(255, Math.round(c * shade + 6 * gaussian(random))))
    ) as [number, number, number];
    return {
      shape,
      colour,
      large,
      place,
      x: ((place % 3) + 0.5) / 3 + jitter(),
      y: (Math.floor(place / 3) + 0.5) / 3 + jitter(),
      radius: (large ? 0.14 : 0.085) * (1 + (random() - 0.5) * 0.2),
      angle: shape === "circle" ? 0 : (random() - 0.5) * 0.5,
      rgb,
    };
  });
  return { background, objects };
}

/** Vertices of a regular polygon or star (alternating radii) around the origin, y pointing down. */
function polygon(points: number, outer: number, inner = outer): [number, number][] {
  const n = inner === outer ? points : 2 * points;
  return Array.from({ length: n }, (_, k) => {
    const r = k % 2 === 1 && inner !== outer ? inner : outer;
    const a = -Math.PI / 2 + (2 * Math.PI * k) / n;
    return [r * Math.cos(a), r * Math.sin(a)];
  });
}

/** Even–odd point-in-polygon test. */
function insidePolygon(x: number, y: number, poly: readonly [number, number][]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const STAR = polygon(5, 1, 0.45);
const TRIANGLE = polygon(3, 1.1).map(([x, y]) => [x, y + 0.2] as [number, number]);
const HEXAGON = polygon(6, 1);

/** Whether the point (u, v), in units of the object's radius and unrotated, is inside the shape. */
function insideShape(shape: ShapeName, u: number, v: number): boolean {
  switch (shape) {
    case "circle":
      return u * u + v * v <= 1;
    case "square":
      return Math.abs(u) <= 0.82 && Math.abs(v) <= 0.82;
    case "diamond":
      return Math.abs(u) / 0.75 + Math.abs(v) <= 1;
    case "cross":
      return (Math.abs(u) <= 0.32 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.32 && Math.abs(u) <= 1);
    case "star":
      return insidePolygon(u, v, STAR);
    case "triangle":
      return insidePolygon(u, v, TRIANGLE);
    case "hexagon":
      return insidePolygon(u, v, HEXAGON);
  }
}

const SUPERSAMPLE = 4;

/** Draws a scene at `size × size` on an imagescript canvas; returns its RGBA pixels. */
export function renderScene(scene: Scene, size: number): Uint8Array {
  const [br, bg, bb] = BACKGROUNDS[scene.background].rgb;
  const canvas = new Image(size, size);
  canvas.fill(Image.rgbaToColor(br, bg, bb, 255));
  const px = canvas.bitmap;
  for (const o of scene.objects) {
    const cx = o.x * size;
    const cy = o.y * size;
    const r = o.radius * size;
    const cos = Math.cos(o.angle);
    const sin = Math.sin(o.angle);
    const reach = r * 1.5;
    const x0 = Math.max(0, Math.floor(cx - reach));
    const x1 = Math.min(size - 1, Math.ceil(cx + reach));
    const y0 = Math.max(0, Math.floor(cy - reach));
    const y1 = Math.min(size - 1, Math.ceil(cy + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let hits = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++) {
            const dx = x + (sx + 0.5) / SUPERSAMPLE - cx;
            const dy = y + (sy + 0.5) / SUPERSAMPLE - cy;
            const u = (cos * dx + sin * dy) / r;
            const v = (-sin * dx + cos * dy) / r;
            if (insideShape(o.shape, u, v)) hits++;
          }
        }
        if (hits === 0) continue;
        const a = hits / (SUPERSAMPLE * SUPERSAMPLE);
        const at = (y * size + x) * 4;
        for (let c = 0; c < 3; c++) px[at + c] = Math.round(px[at + c] * (1 - a) + o.rgb[c] * a);
      }
    }
  }
  return new Uint8Array(px.buffer, px.byteOffset, px.length);
}

/** "a" or "an" before `word`. */
function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/** `phrase` with its leading "a " turned into "an " where the next word starts with a vowel. */
function fixArticles(phrase: string): string {
  return phrase.replace(/\ba ([a-z])/g, (_, c: string) => `${article(c)} ${c}`);
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

/**
 * Generates, renders and featurises the default dataset and splits it by image (see the module
 * notes). Image features: the built-in GPU featuriser (312 values); text features: the built-in
 * hashed n-grams (1024 values). Each split has `renderImage` (the scene at `displaySize`),
 * `imageNames` (`scene-00042`) and `captions`.
 */
export async function generateDefaultDataset(
  options: DefaultDatasetOptions = {},
): Promise<DefaultDataset> {
  const {
    seed = 0,
    images = 2000,
    captionsPerImage = 5,
    valFraction = 0.1,
    testFraction = 0.1,
    imageSize = IMAGE_FEATURE_SIZE,
    textDim = TEXT_FEATURE_DIM,
    displaySize = 128,
  } = options;
  if (!Number.isInteger(images) || images < 1) {
    throw new RangeError(`generateDefaultDataset: images ${images} must be a positive integer`);
  }
  if (!Number.isInteger(captionsPerImage) || captionsPerImage < 1 || captionsPerImage > 5) {
    throw new RangeError(
      `generateDefaultDataset: captionsPerImage ${captionsPerImage} must be an integer in [1, 5]`,
    );
  }
  const scenes = Array.from({ length: images }, (_, i) => generateScene(seed, i));
  const perImage = imageSize * imageSize * 4;
  const pixels = new Uint8Array(images * perImage);
  scenes.forEach((scene, i) => pixels.set(renderScene(scene, imageSize), i * perImage));
  const imageFeatures = await computeImageFeatures(pixels, images, {
    size: imageSize,
    grid: IMAGE_FEATURE_GRID,
  });

  const captions: string[] = [];
  const textToImage = new Int32Array(images * captionsPerImage);
  scenes.forEach((scene, i) => {
    const random = seededRandom(sceneSeed(seed ^ 0x5bd1e995, i));
    for (const caption of sceneCaptions(scene, captionsPerImage, random)) {
      textToImage[captions.length] = i;
      captions.push(caption);
    }
  });
  const all: RetrievalDataset = {
    name: "default",
    images: imageFeatures,
    numImages: images,
    imageDim: imageFeatures.length / images,
    texts: featuriseTexts(captions, { dim: textDim }),
    numTexts: captions.length,
    textDim,
    textToImage,
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
