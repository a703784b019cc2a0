import { assertAllClose, assertEquals, assertOk, assertThrows } from "./util.ts";
import {
  featuriseTexts,
  fnv1a,
  TEXT_FEATURE_DIM,
  textFeatures,
  tokenize,
} from "../src/data/text_features.ts";

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

Deno.test("text features: tokenisation lower-cases, strips punctuation and accents", () => {
  assertEquals(tokenize("A red circle, top-left!"), ["a", "red", "circle", "top", "left"]);
  assertEquals(tokenize("  Don't   PANIC... "), ["dont", "panic"]);
  assertEquals(tokenize("Café crème 2 x"), ["cafe", "creme", "2", "x"]);
  assertEquals(tokenize("äöü—über"), ["aou", "uber"]);
  assertEquals(tokenize("?!  ..."), []);
  // FNV-1a 32-bit test vectors.
  assertEquals(fnv1a(""), 0x811c9dc5);
  assertEquals(fnv1a("a"), 0xe40c292c);
  assertEquals(fnv1a("foobar"), 0xbf9cf968);
});

Deno.test("text features: hashed unigrams and bigrams, signed, tf-weighted, unit norm", () => {
  const a = textFeatures("a red circle in the top left");
  assertEquals(a.length, TEXT_FEATURE_DIM);
  assertAllClose([Math.hypot(...a)], [1], { atol: 1e-6 }, "norm");
  // 7 unigrams + 6 bigrams = 13 features of weight ±1: each non-zero entry is a multiple of
  // 1/sqrt(13) unless features collide.
  const nz = a.filter((v) => v !== 0);
  assertOk(nz.length >= 11 && nz.length <= 13, `${nz.length} non-zero columns`);
  assertOk(nz.some((v) => v < 0) && nz.some((v) => v > 0), "signed hashing gives both signs");
  // Deterministic, and insensitive to case and punctuation.
  assertEquals(Array.from(textFeatures("A RED circle, in the top-left.")), Array.from(a));
  // Word order matters only through bigrams: same unigrams, different bigrams.
  const swapped = textFeatures("left top the in circle red a");
  const unigramsOnly = (t: string) => textFeatures(t, { bigrams: false });
  assertAllClose(
    unigramsOnly("left top the in circle red a"),
    unigramsOnly("a red circle in the top left"),
    {
      atol: 1e-7,
    },
    "unigrams",
  );
  assertOk(dot(a, swapped) < 0.999, "bigrams distinguish word order");
  // Related captions are closer than unrelated ones.
  const b = textFeatures("a red circle at the top left corner");
  const c = textFeatures("two dogs running on the beach");
  assertOk(dot(a, b) > dot(a, c) + 0.2, `related ${dot(a, b)} vs unrelated ${dot(a, c)}`);
  // Repeated words: raw term frequency (a word twice weighs twice its single neighbours).
  const rep = textFeatures("star star", { bigrams: false, dim: 4096 });
  assertEquals(rep.filter((v) => v !== 0).length, 1);
  // Empty text: a zero row, no NaN.
  assertEquals(Array.from(textFeatures("...", { dim: 8 })), new Array(8).fill(0));
});

Deno.test("text features: character trigrams, dimensions and batches", () => {
  const plain = textFeatures("circles", { dim: 2048 });
  const tri = textFeatures("circles", { dim: 2048, charTrigrams: true });
  // "<circles>" has 7 trigrams of weight 0.5 beside the one unigram.
  assertOk(tri.filter((v) => v !== 0).length > plain.filter((v) => v !== 0).length + 4, "trigrams");
  // Trigrams make morphological variants similar.
  const near = textFeatures("circle", { dim: 2048, charTrigrams: true });
  // Shared trigrams <ci cir irc rcl cle (weight 0.5): 1.25 / sqrt(2.5 × 2.75) = 0.477.
  assertAllClose(
    [dot(tri, near)],
    [1.25 / Math.sqrt(2.5 * 2.75)],
    { atol: 1e-6 },
    "circle~circles",
  );
  assertEquals(dot(plain, textFeatures("circle", { dim: 2048 })), 0);
  const rows = featuriseTexts(["a b", "", "c"], { dim: 16 });
  assertEquals(rows.length, 48);
  assertEquals(Array.from(rows.subarray(0, 16)), Array.from(textFeatures("a b", { dim: 16 })));
  assertEquals(Array.from(rows.subarray(16, 32)), new Array(16).fill(0));
  assertThrows(() => textFeatures("x", { dim: 0 }), /dim 0 must be a positive integer/);
});
