/**
 * What the generated scenes of the embedded default dataset share, whichever generator made them
 * (`./synthetic.ts` v1, `./scene_v2.ts` v2): the shapes, backgrounds, place and size words, the
 * scene model, and the renderer (an imagescript canvas with 4 × 4 supersampled anti-aliasing).
 *
 * @module
 */

import { Image } from "imagescript";
import { fmix32, gaussian, pick, randomInt } from "../util/random.ts";

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

/** Background colours: name and RGB. */
export const BACKGROUNDS = [
  { name: "white", rgb: [245, 245, 245] },
  { name: "light grey", rgb: [185, 185, 185] },
  { name: "dark grey", rgb: [75, 75, 75] },
  { name: "black", rgb: [15, 15, 15] },
  { name: "cream", rgb: [240, 228, 195] },
] as const;

/** Synonyms of each shape in captions. */
export const SHAPE_WORDS: Record<ShapeName, string[]> = {
  circle: ["circle", "disc", "round dot"],
  square: ["square", "box", "block"],
  triangle: ["triangle", "three-sided shape", "wedge"],
  star: ["star", "five-pointed star", "star shape"],
  diamond: ["diamond", "rhombus", "lozenge"],
  cross: ["cross", "plus sign", "plus"],
  hexagon: ["hexagon", "six-sided shape", "hex"],
};

/** Synonyms of each background in captions. */
export const BACKGROUND_WORDS: Record<string, string[]> = {
  "white": ["white", "pale", "bright white"],
  "light grey": ["light grey", "light gray", "silver"],
  "dark grey": ["dark grey", "dark gray", "charcoal"],
  "black": ["black", "dark", "jet-black"],
  "cream": ["cream", "beige", "ivory"],
};

/** Place words of the 3 × 3 layout, row-major from the top left. */
export const PLACE_WORDS: string[][] = [
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

/** Synonyms of each size in captions. */
export const SIZE_WORDS = { small: ["small", "little", "tiny"], large: ["large", "big", "huge"] };

/** One object of a scene. */
export interface SceneObject {
  /** Its shape. */
  shape: ShapeName;
  /** Index into the generator's palette (`COLOURS` for v1, `COLOURS_V2` for v2). */
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
  /** Its objects, in drawing order (no two in one cell). */
  objects: SceneObject[];
}

/** How a generator places and sizes objects. */
export interface ObjectLook {
  /** Total width of the position jitter around the cell centre, in units of the image side. */
  jitter: number;
  /** Radius of a small object, in units of the image side (±10 % jitter). */
  small: number;
  /** Radius of a large object. */
  large: number;
}

/**
 * A random object in cell `place`: shape, palette colour (with shade and per-channel jitter), size,
 * jittered position, radius and rotation, drawn from `random` in that order.
 */
export function randomObject(
  random: () => number,
  place: number,
  palette: readonly { rgb: readonly number[] }[],
  look: ObjectLook,
): SceneObject {
  const shape = pick(random, SHAPES);
  const colour = randomInt(random, palette.length);
  const large = random() < 0.5;
  const jitter = () => (random() - 0.5) * look.jitter;
  const shade = 1 + 0.08 * gaussian(random);
  const rgb = palette[colour].rgb.map((c) =>
    Math.max(0, Math.min(255, Math.round(c * shade + 6 * gaussian(random))))
  ) as [number, number, number];
  return {
    shape,
    colour,
    large,
    place,
    x: ((place % 3) + 0.5) / 3 + jitter(),
    y: (Math.floor(place / 3) + 0.5) / 3 + jitter(),
    radius: (large ? look.large : look.small) * (1 + (random() - 0.5) * 0.2),
    angle: shape === "circle" ? 0 : (random() - 0.5) * 0.5,
    rgb,
  };
}

/** Derives an independent seed for scene `i` (murmur3 finaliser of a combination). */
export function sceneSeed(seed: number, i: number): number {
  return fmix32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
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
export function fixArticles(phrase: string): string {
  return phrase.replace(/\ba ([a-z])/g, (_, c: string) => `${article(c)} ${c}`);
}
