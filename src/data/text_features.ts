/**
 * The built-in text featuriser (CPU): signed feature hashing of word unigrams, word bigrams and,
 * optionally, character trigrams into a fixed dimension, tf-weighted and L2-normalised.
 *
 * Tokenisation: Unicode NFKD, combining marks dropped (é → e), lower-cased, apostrophes removed
 * (`don't` → `dont`), then split on every run of characters that are neither letters nor digits
 * (so punctuation separates words and disappears).
 *
 * Hashing: each feature string (`w:word`, `b:word1 word2`, `c:xyz` for trigrams of `<word>`) is
 * hashed with 32-bit FNV-1a over its UTF-16 code units; the column is `hash mod dim` and the sign
 * is the top bit of a murmur3 finaliser of the hash, so colliding features tend to cancel rather
 * than pile up. Each occurrence adds ±weight (unigrams and bigrams 1, character trigrams 0.5):
 * raw term frequency. The row is then scaled to unit L2 norm; a text without tokens gives a zero
 * row. Deterministic: no randomness, no vocabulary, the same text always gives the same row.
 *
 * @example
 * ```ts
 * import { featuriseTexts, tokenize } from "./text_features.ts";
 * tokenize("A red circle, top-left!"); // ["a", "red", "circle", "top", "left"]
 * const rows = featuriseTexts(["a red circle", "a blue star"]); // 2 × 1024 floats
 * ```
 *
 * @module
 */

import { fmix32 } from "../util/random.ts";

/** Default feature dimension. */
export const TEXT_FEATURE_DIM = 1024;

/** Options of the text featuriser. */
export interface TextFeatureOptions {
  /** Output dimension (default {@link TEXT_FEATURE_DIM}). */
  dim?: number;
  /** Hash word bigrams too (default true). */
  bigrams?: boolean;
  /** Hash character trigrams of each word, padded as `<word>` (default false). */
  charTrigrams?: boolean;
}

const TRIGRAM_WEIGHT = 0.5;

/** Splits a text into lower-case word tokens (see the module notes). */
export function tokenize(text: string): string[] {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/['\u2019]/g, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0);
}

/** 32-bit FNV-1a over the UTF-16 code units of `s`. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkDim(dim: number): number {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`text features: dim ${dim} must be a positive integer`);
  }
  return dim;
}

/** Adds the hashed features of `text` into `row` (length `dim`) and L2-normalises it. */
function fillRow(row: Float32Array, text: string, options: TextFeatureOptions): void {
  const dim = row.length;
  const { bigrams = true, charTrigrams = false } = options;
  const acc = new Float64Array(dim);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    acc[h % dim] += fmix32(h) >>> 31 ? -weight : weight;
  };
  const tokens = tokenize(text);
  for (let i = 0; i < tokens.length; i++) {
    add(`w:${tokens[i]}`, 1);
    if (bigrams && i + 1 < tokens.length) add(`b:${tokens[i]} ${tokens[i + 1]}`, 1);
    if (charTrigrams) {
      const padded = `<${tokens[i]}>`;
      for (let j = 0; j + 3 <= padded.length; j++) {
        add(`c:${padded.slice(j, j + 3)}`, TRIGRAM_WEIGHT);
      }
    }
  }
  let ss = 0;
  for (let j = 0; j < dim; j++) ss += acc[j] * acc[j];
  const scale = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let j = 0; j < dim; j++) row[j] = acc[j] * scale;
}

/** The feature row of one text (length `dim`). */
export function textFeatures(text: string, options: TextFeatureOptions = {}): Float32Array {
  const row = new Float32Array(checkDim(options.dim ?? TEXT_FEATURE_DIM));
  fillRow(row, text, options);
  return row;
}

/** Feature rows of many texts: `texts.length × dim` floats, row-major. */
export function featuriseTexts(
  texts: readonly string[],
  options: TextFeatureOptions = {},
): Float32Array {
  const dim = checkDim(options.dim ?? TEXT_FEATURE_DIM);
  const out = new Float32Array(texts.length * dim);
  texts.forEach((text, i) => fillRow(out.subarray(i * dim, (i + 1) * dim), text, options));
  return out;
}
