/**
 * Seeded pseudo-random numbers for reproducible runs: initialisers, shuffles, batch sampling.
 *
 * @module
 */

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32: 32-bit state, fast, good enough for
 * sampling and initialisation; not cryptographic).
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const r = new Random(42);
 * r.uniform(); // same sequence for the same seed
 * ```
 */
export class Random {
  /** The current 32-bit state (save it to resume the sequence). */
  state: number;

  /** @param seed any integer */
  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
