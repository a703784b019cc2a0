/**
 * The graded generator (`v2`, the default) of the embedded dataset: busier scenes, closer colours
 * and places, captions that describe only part of a scene, and an exact grade for every (caption,
 * scene) pair.
 *
 * **Scenes.** A background (5) and 2–4 objects, each one of 7 shapes in one of 12 colours that run
 * round the hue circle in small steps ({@link COLOURS_V2}: red, orange, yellow, lime, green, teal,
 * cyan, blue, indigo, purple, magenta, pink — each close to its two neighbours), small or large, in
 * one of the 9 cells of a 3 × 3 layout, jittered up to 0.07 of the image side from the cell centre
 * (v1: 0.04), with jitter of size, rotation and colour. No two objects share a cell.
 *
 * **Captions.** Each of a scene's five captions comes from a different template family and
 * describes 1 to 3 of its objects (at most all of them), chosen at random: always shape, colour
 * and place; three families also say the size, one the background. So a caption is true of its
 * own scene, and often of others that hold what it describes.
 *
 * **Grades** ({@link captionGrade}), from what a caption says and a scene holds. A scene object
 * *matches* a described object when shape, colour and place are equal, and the size where the
 * caption says it; it *nearly matches* when the shape is equal and exactly one of the stated colour,
 * place and size is one step off (a neighbouring colour on the hue circle, an edge-adjacent cell,
 * the other size) while the rest are equal. Described objects are assigned to distinct scene
 * objects; an assignment's errors are its near matches, plus one when the caption names a
 * background the scene does not have. Then:
 *
 * - **3**: an assignment in which every described object matches and the background, if named, is
 *   right (every described attribute of every described object holds);
 * - **2**: otherwise, an assignment with exactly one error (every described object is there, one
 *   attribute a step off);
 * - **1**: otherwise, at least one described object matches an object of the scene (one described
 *   object is fully present);
 * - **0**: otherwise (not relevant; not stored).
 *
 * A caption's own scene has grade 3 by construction. {@link gradeRelation} grades every caption
 * against every scene, exactly (an index by shape-and-colour and shape-and-place finds every scene
 * that can score ≥ 1).
 *
 * @example
 * ```ts
 * import { captionGrade, generateSceneV2, sceneCaptionsV2 } from "./scene_v2.ts";
 * import { seededRandom } from "../util/random.ts";
 * const scene = generateSceneV2(0, 7);
 * const [caption] = sceneCaptionsV2(scene, 1, seededRandom(1));
 * captionGrade(caption.spec, scene); // 3
 * ```
 *
 * @module
 */

import { pick, randomInt, seededRandom, shuffle } from "../util/random.ts";
import type { RelevancePair } from "./relation.ts";
import {
  BACKGROUND_WORDS,
  BACKGROUNDS,
  fixArticles,
  PLACE_WORDS,
  randomObject,
  type Scene,
  type SceneObject,
  sceneSeed,
  SHAPE_WORDS,
  type ShapeName,
  SHAPES,
  SIZE_WORDS,
} from "./scenes.ts";

/** The v2 palette: 12 colours round the hue circle; neighbours (cyclically) are one step apart. */
export const COLOURS_V2 = [
  { name: "red", rgb: [220, 40, 40] },
  { name: "orange", rgb: [240, 130, 30] },
  { name: "yellow", rgb: [230, 210, 40] },
  { name: "lime", rgb: [160, 210, 40] },
  { name: "green", rgb: [50, 165, 65] },
  { name: "teal", rgb: [30, 150, 130] },
  { name: "cyan", rgb: [40, 190, 215] },
  { name: "blue", rgb: [45, 90, 220] },
  { name: "indigo", rgb: [85, 60, 190] },
  { name: "purple", rgb: [140, 55, 180] },
  { name: "magenta", rgb: [210, 50, 170] },
  { name: "pink", rgb: [240, 130, 180] },
] as const;

const COLOUR_WORDS_V2: Record<string, string[]> = {
  red: ["red", "scarlet", "crimson"],
  orange: ["orange", "tangerine", "pumpkin"],
  yellow: ["yellow", "lemon", "golden"],
  lime: ["lime", "chartreuse", "citron"],
  green: ["green", "emerald", "jade"],
  teal: ["teal", "petrol", "spruce"],
  cyan: ["cyan", "turquoise", "aqua"],
  blue: ["blue", "cobalt", "azure"],
  indigo: ["indigo", "navy", "ultramarine"],
  purple: ["purple", "violet", "plum"],
  magenta: ["magenta", "fuchsia", "cerise"],
  pink: ["pink", "rose", "rosy"],
};

/** Objects per scene: 2 to 4. */
const MIN_OBJECTS = 2;
const MAX_OBJECTS = 4;
/** Objects a caption describes: 1 to 3 (at most the scene's). */
const MAX_DESCRIBED = 3;
/** Position jitter, in units of the image side, each way from the cell centre. */
const JITTER = 0.07;

/** The highest grade of {@link captionGrade}. */
export const TOP_GRADE = 3;

/** Scene `i` of the v2 dataset generated from `seed` (deterministic; see the module notes). */
export function generateSceneV2(seed: number, i: number): Scene {
  const random = seededRandom(sceneSeed(seed ^ 0x2c1b3c6d, i));
  const background = randomInt(random, BACKGROUNDS.length);
  const count = MIN_OBJECTS + randomInt(random, MAX_OBJECTS - MIN_OBJECTS + 1);
  const places = shuffle(random, [0, 1, 2, 3, 4, 5, 6, 7, 8]).slice(0, count);
  const objects = places.map((place) =>
    randomObject(random, place, COLOURS_V2, { jitter: 2 * JITTER, small: 0.075, large: 0.12 })
  );
  return { background, objects };
}

/** One object as a caption describes it. */
export interface DescribedObject {
  /** Its shape. */
  shape: ShapeName;
  /** Index into {@link COLOURS_V2}. */
  colour: number;
  /** Cell of the 3 × 3 layout. */
  place: number;
  /** Whether it is large; undefined when the caption does not say its size. */
  large?: boolean;
}

/** What a caption says: the objects it describes and, maybe, the background. */
export interface CaptionSpec {
  /** The described objects (1 to 3). */
  objects: DescribedObject[];
  /** Index into `BACKGROUNDS` when the caption names the background. */
  background?: number;
}

/** A caption's text and what it says. */
export interface SceneCaption {
  /** The caption. */
  text: string;
  /** What it describes, for grading. */
  spec: CaptionSpec;
}

/** Which template families say the size, and which the background. */
const SAYS_SIZE = [true, false, false, true, true];
const SAYS_BACKGROUND = [false, false, true, false, false];

/**
 * `count` (≤ 5) captions of a v2 scene, each from a different template family, each describing 1
 * to 3 of its objects (see the module notes), synonyms drawn from `random`.
 */
export function sceneCaptionsV2(
  scene: Scene,
  count: number,
  random: () => number,
): SceneCaption[] {
  const families = shuffle(random, [0, 1, 2, 3, 4]).slice(0, count);
  return families.map((family) => {
    const m = 1 + randomInt(random, Math.min(MAX_DESCRIBED, scene.objects.length));
    const described = shuffle(random, [...scene.objects]).slice(0, m);
    const w = described.map((o) => ({
      c: pick(random, COLOUR_WORDS_V2[COLOURS_V2[o.colour].name]),
      s: pick(random, SHAPE_WORDS[o.shape]),
      z: pick(random, o.large ? SIZE_WORDS.large : SIZE_WORDS.small),
      p: pick(random, PLACE_WORDS[o.place]),
    }));
    const bg = pick(random, BACKGROUND_WORDS[BACKGROUNDS[scene.background].name]);
    const and = (parts: string[]) =>
      parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
    const text = [
      () => and(w.map(({ z, c, s, p }) => `a ${z} ${c} ${s} in the ${p}`)),
      () => w.map(({ c, s, p }) => `${p}: one ${c} ${s}`).join("; "),
      () => `on a ${bg} background, ` + and(w.map(({ c, s, p }) => `a ${c} ${s} at the ${p}`)),
      () => w.map(({ z, c, s, p }) => `${c} ${s}, ${z}, ${p}`).join("; "),
      () =>
        "a picture of " +
        w.map(({ z, c, s, p }) => `a ${z} ${s} coloured ${c} near the ${p}`).join(" with "),
    ][family]();
    const spec: CaptionSpec = {
      objects: described.map((o) => ({
        shape: o.shape,
        colour: o.colour,
        place: o.place,
        ...(SAYS_SIZE[family] ? { large: o.large } : {}),
      })),
    };
    if (SAYS_BACKGROUND[family]) spec.background = scene.background;
    return { text: fixArticles(text), spec };
  });
}

/** Whether two cells of the 3 × 3 layout share an edge. */
function adjacentPlaces(a: number, b: number): boolean {
  return Math.abs((a % 3) - (b % 3)) + Math.abs(Math.floor(a / 3) - Math.floor(b / 3)) === 1;
}

/** Whether two palette colours are neighbours on the hue circle. */
function adjacentColours(a: number, b: number): boolean {
  const d = (a - b + COLOURS_V2.length) % COLOURS_V2.length;
  return d === 1 || d === COLOURS_V2.length - 1;
}

/** 0 when `o` matches `d`, 1 when it nearly matches, Infinity otherwise (module notes). */
function errors(d: DescribedObject, o: SceneObject): number {
  if (d.shape !== o.shape) return Infinity;
  let off = 0;
  if (d.colour !== o.colour) {
    if (!adjacentColours(d.colour, o.colour)) return Infinity;
    off++;
  }
  if (d.place !== o.place) {
    if (!adjacentPlaces(d.place, o.place)) return Infinity;
    off++;
  }
  if (d.large !== undefined && d.large !== o.large) off++;
  return off <= 1 ? off : Infinity;
}

/** The fewest errors of an assignment of the described objects to distinct scene objects. */
function fewestErrors(cost: number[][], k: number, used: number): number {
  if (k === cost.length) return 0;
  let best = Infinity;
  for (let j = 0; j < cost[k].length; j++) {
    if (used & (1 << j) || cost[k][j] === Infinity) continue;
    best = Math.min(best, cost[k][j] + fewestErrors(cost, k + 1, used | (1 << j)));
  }
  return best;
}

/**
 * The grade (0–3) of a caption for a scene, exactly as the module notes define it.
 *
 * @example
 * ```ts
 * import { captionGrade } from "./scene_v2.ts";
 * // "a small red circle in the top left" against a scene with a small orange circle there: 2
 * ```
 */
export function captionGrade(spec: CaptionSpec, scene: Scene): number {
  const cost = spec.objects.map((d) => scene.objects.map((o) => errors(d, o)));
  const background = spec.background !== undefined && spec.background !== scene.background ? 1 : 0;
  const fewest = fewestErrors(cost, 0, 0) + background;
  if (fewest === 0) return 3;
  if (fewest === 1) return 2;
  return cost.some((row) => row.includes(0)) ? 1 : 0;
}

/**
 * Every (caption, scene) pair of grade ≥ 1: caption `t` (spec `specs[t]`, written for scene
 * `own[t]`) against all `scenes`. The own scene comes first in each caption's pairs.
 * @throws {Error} if a caption does not grade 3 on its own scene (a generator bug).
 */
export function gradeRelation(
  scenes: readonly Scene[],
  specs: readonly CaptionSpec[],
  own: ArrayLike<number>,
): RelevancePair[] {
  // Every scene that can grade ≥ 1 holds an object with a described object's shape and its
  // colour (near places, sizes) or its place (near colours).
  const index = new Map<number, number[]>();
  const add = (key: number, i: number) => {
    const list = index.get(key);
    if (list) list.push(i);
    else index.set(key, [i]);
  };
  const shapeIndex = (s: ShapeName) => SHAPES.indexOf(s);
  scenes.forEach((scene, i) => {
    for (const o of scene.objects) {
      add(shapeIndex(o.shape) * 64 + o.colour, i);
      add(4096 + shapeIndex(o.shape) * 64 + o.place, i);
    }
  });
  const stamp = new Int32Array(scenes.length).fill(-1);
  const pairs: RelevancePair[] = [];
  specs.forEach((spec, t) => {
    const mine = captionGrade(spec, scenes[own[t]]);
    if (mine !== TOP_GRADE) {
      throw new Error(`gradeRelation: caption ${t} grades ${mine}, not 3, on its own scene`);
    }
    pairs.push({ text: t, image: own[t], grade: TOP_GRADE });
    stamp[own[t]] = t;
    for (const d of spec.objects) {
      for (
        const key of [
          shapeIndex(d.shape) * 64 + d.colour,
          4096 + shapeIndex(d.shape) * 64 + d.place,
        ]
      ) {
        for (const i of index.get(key) ?? []) {
          if (stamp[i] === t) continue;
          stamp[i] = t;
          const grade = captionGrade(spec, scenes[i]);
          if (grade > 0) pairs.push({ text: t, image: i, grade });
        }
      }
    }
  });
  return pairs;
}
