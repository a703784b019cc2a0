/**
 * Seeded randomness, the same on every machine: initialisers, shuffles, batch order, splits and the
 * generated dataset all draw from mulberry32 (32-bit state, fast, good enough for sampling and
 * initialisation; not cryptographic).
 *
 * @module
 */

/**
 * A seeded uniform generator in [0, 1) (mulberry32).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./random.ts";
 * const next = seededRandom(42);
 * next(); // the same sequence for the same seed
 * ```
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The murmur3 32-bit finaliser: mixes every input bit into every output bit. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The "lowbias32" integer hash (Chris Wellons' hash-prospector): a bijection on u32 with low bias.
 * The same function as `lowbias32` in `kernels/prelude.wgsl` (dropout masks, seeded tie orders).
 */
export function lowbias32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** An integer in [0, n) from `random`. */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** A random element of `items`. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[randomInt(random, items.length)];
}

/** Shuffles `items` in place (Fisher–Yates) and returns it. */
export function shuffle<T>(random: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** A standard normal sample (Box–Muller) from `random`. */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * The same generator as an object, for code that passes one around (model initialisation, batch
 * sampling). The seed is scrambled first, so `new Random(s)` and `seededRandom(s)` differ.
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const r = new Random(42);
 * r.permutation(5); // the same order for the same seed
 * ```
 */
export class Random {
  #next: () => number;

  /** @param seed any integer */
  constructor(seed: number) {
    this.#next = seededRandom((seed >>> 0) ^ 0x9e3779b9);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.#next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return randomInt(this.#next, n);
  }

  /** Standard normal. */
  normal(): number {
    return gaussian(this.#next);
  }

  /** Shuffles `items` in place and returns it. */
  shuffle<T>(items: T[]): T[] {
    return shuffle(this.#next, items);
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
