import { assertAllClose, assertEquals, assertThrows, rng } from "./util.ts";
import {
  directionMetrics,
  flooredMedian,
  imageQueryCount,
  queryOutcomes,
  queryStats,
  retrievalMetrics,
  rsum,
} from "../src/eval/metrics.ts";
import { directionMetricsRef, retrievalRef } from "../src/reference/retrieval.ts";
import { buildRelation, oneToOne, pairsByImage } from "../src/data/relation.ts";

const l = (r: number) => 1 / Math.log2(r + 1);

Deno.test("metrics of four hand-worked queries", () => {
  // Relevant ranks: q0 [1], q1 [3], q2 [2, 7], q3 [11, 12] (CSR).
  // Best ranks 1, 3, 2, 11: R@1 1/4, R@5 3/4, R@10 3/4; median of 1,2,3,11 is 2.5 → MedR 2;
  // MeanR 17/4. AP: 1, 1/3, (1/2 + 2/7)/2, (1/11 + 2/12)/2.
  // NDCG@10: 1, 1/log2 4, (1/log2 3 + 1/log2 8)/(1 + 1/log2 3), 0 (nothing in the top 10).
  // MRR: the reciprocal best ranks, mean(1, 1/3, 1/2, 1/11).
  const m = directionMetrics([0, 1, 2, 4, 6], [1, 3, 7, 2, 12, 11]);
  const expected = {
    "R@1": 25,
    "R@5": 75,
    "R@10": 75,
    MedR: 2,
    MeanR: 17 / 4,
    mAP: 100 * (1 + 1 / 3 + (1 / 2 + 2 / 7) / 2 + (1 / 11 + 2 / 12) / 2) / 4,
    MRR: 100 * (1 + 1 / 3 + 1 / 2 + 1 / 11) / 4,
    "NDCG@1": 25,
    "NDCG@5": 100 * (1 + l(3) + l(2) / (l(1) + l(2)) + 0) / 4,
    "NDCG@10": 100 * (1 + l(3) + (l(2) + l(7)) / (l(1) + l(2)) + 0) / 4,
  };
  for (const [key, value] of Object.entries(expected)) {
    assertAllClose([m[key as keyof typeof m]], [value], { atol: 1e-12 }, key);
  }
});

Deno.test("queryStats: best rank, AP and NDCG@10 of one query", () => {
  assertEquals(queryStats([1]), { best: 1, ap: 1, rr: 1, ndcg1: 1, ndcg5: 1, ndcg10: 1 });
  const s = queryStats([5, 2]); // order does not matter
  assertEquals(s.best, 2);
  assertAllClose([s.ap, s.ndcg10], [(1 / 2 + 2 / 5) / 2, (l(2) + l(5)) / (l(1) + l(2))], {
    atol: 1e-12,
  });
  // More than 10 relevant items: the ideal DCG stops at 10.
  const all = queryStats(Array.from({ length: 12 }, (_, i) => i + 1));
  assertAllClose([all.ap, all.ndcg10], [1, 1], { atol: 1e-12 });
});

Deno.test("flooredMedian follows VSE++ (floor of the 1-based median)", () => {
  assertEquals(flooredMedian([3]), 3);
  assertEquals(flooredMedian([1, 2]), 1);
  assertEquals(flooredMedian([4, 1, 3, 2]), 2);
  assertEquals(flooredMedian([1, 2, 9]), 2);
});

Deno.test("rank-based metrics equal the reference's walk over sorted rankings", () => {
  const u = rng(9);
  for (const [queries, gallery] of [[1, 1], [20, 7], [50, 200]]) {
    const rankings: number[][] = [];
    const relevantSets: Set<number>[] = [];
    const offsets = [0];
    const ranks: number[] = [];
    for (let q = 0; q < queries; q++) {
      const order = Array.from({ length: gallery }, (_, g) => g);
      for (let i = gallery - 1; i > 0; i--) {
        const j = Math.floor(u() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const m = 1 + Math.floor(u() * Math.min(gallery, 13));
      const rel = new Set(order.slice(0, m).map(() => Math.floor(u() * gallery)));
      rankings.push(order);
      relevantSets.push(rel);
      order.forEach((g, pos) => {
        if (rel.has(g)) ranks.push(pos + 1);
      });
      offsets.push(ranks.length);
    }
    const got = directionMetrics(offsets, ranks);
    const ref = directionMetricsRef(rankings, relevantSets.map((s) => (g: number) => s.has(g)));
    assertEquals(Object.keys(got).sort(), Object.keys(ref).sort());
    for (const [key, value] of Object.entries(ref)) {
      assertAllClose([got[key as keyof typeof got]], [value], { atol: 1e-9 }, `${queries} ${key}`);
    }
  }
});

Deno.test("retrievalMetrics groups texts by image and skips images without texts", () => {
  // 4 images, image 3 has no text. Texts 0, 1 → image 0; 2 → 1; 3 → 2.
  const textToImage = new Int32Array([0, 0, 1, 2]);
  const m = retrievalMetrics({
    numImages: 4,
    textToImage,
    relevance: oneToOne(textToImage),
    t2i: new Uint32Array([1, 2, 4, 1]),
    i2t: new Uint32Array([3, 1, 2, 5]),
  });
  assertEquals([m.t2i["R@1"], m.t2i.MeanR], [50, 2]);
  // i2t queries: image 0 (ranks 3, 1), image 1 (2), image 2 (5): best 1, 2, 5.
  assertEquals([m.i2t["R@1"], m.i2t["R@5"], m.i2t.MedR, m.i2t.MeanR], [100 / 3, 100, 2, 8 / 3]);
  assertAllClose([m.i2t.mAP], [100 * ((1 + 2 / 3) / 2 + 1 / 2 + 1 / 5) / 3], { atol: 1e-12 });
  assertEquals(m.rsum, rsum(m.t2i, m.i2t));
  assertAllClose([m.rsum], [50 + 100 + 100 + 100 / 3 + 100 + 100], { atol: 1e-12 }, "rsum");
  assertEquals(imageQueryCount(oneToOne(textToImage), 4), 3);
  const { offsets, order } = pairsByImage(oneToOne(textToImage), 4);
  assertEquals([Array.from(offsets), Array.from(order)], [[0, 2, 3, 4, 4], [0, 1, 2, 3]]);
});

Deno.test("bad ranks are rejected with a clear message", () => {
  assertThrows(() => queryStats([]), /at least one relevant item/);
  assertThrows(() => queryStats([2, 2]), /distinct integers ≥ 1, got 2,2/);
  assertThrows(() => queryStats([0]), /distinct integers ≥ 1/);
  assertThrows(() => directionMetrics([0], []), /no queries/);
  assertThrows(() => directionMetrics([0, 1, 1], [1]), /query 1 has no relevant item/);
});

Deno.test("graded query: R@K and MedR look for the highest grade, mAP binarises, NDCG uses 2^g − 1", () => {
  // Ranks 1 (grade 1), 3 (grade 3), 4 (grade 2), 12 (grade 3).
  const s = queryStats([3, 1, 12, 4], [3, 1, 3, 2]);
  assertEquals(s.best, 3); // the first grade-3 item, not the grade-1 item at rank 1
  // MRR's rank is the same: 1/3, although a (grade-1) relevant item is at rank 1.
  assertEquals(s.rr, 1 / 3);
  const ideal = [7, 7, 3, 1]; // gains sorted: 2^3−1, 2^3−1, 2^2−1, 2^1−1
  const idcg = (k: number) => ideal.slice(0, k).reduce((a, g, j) => a + g * l(j + 1), 0);
  assertAllClose(
    [s.ap, s.ndcg1, s.ndcg5, s.ndcg10],
    [
      (1 / 1 + 2 / 3 + 3 / 4 + 4 / 12) / 4,
      1 / 7,
      (1 * l(1) + 7 * l(3) + 3 * l(4)) / idcg(5),
      (1 * l(1) + 7 * l(3) + 3 * l(4)) / idcg(10),
    ],
    { atol: 1e-12 },
  );
  // One grade: binary NDCG, whatever the grade.
  assertAllClose([queryStats([2, 5], [2, 2]).ndcg10], [queryStats([2, 5]).ndcg10], { atol: 1e-12 });
  assertThrows(() => queryStats([1, 2], [1]), /2 ranks but 1 grades/);
  assertThrows(() => queryStats([1], [0]), /grades must be integers ≥ 1/);
});

Deno.test("graded rank-based metrics equal the reference's walk over random graded rankings", () => {
  const u = rng(21);
  for (const [queries, gallery] of [[1, 1], [30, 9], [40, 150]]) {
    const rankings: number[][] = [];
    const gradeMaps: Map<number, number>[] = [];
    const offsets = [0];
    const ranks: number[] = [];
    const grades: number[] = [];
    for (let q = 0; q < queries; q++) {
      const order = Array.from({ length: gallery }, (_, g) => g);
      for (let i = gallery - 1; i > 0; i--) {
        const j = Math.floor(u() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const m = 1 + Math.floor(u() * Math.min(gallery, 14));
      const map = new Map<number, number>();
      for (let k = 0; k < m; k++) map.set(Math.floor(u() * gallery), 1 + Math.floor(u() * 4));
      rankings.push(order);
      gradeMaps.push(map);
      order.forEach((g, pos) => {
        if (map.has(g)) {
          ranks.push(pos + 1);
          grades.push(map.get(g)!);
        }
      });
      offsets.push(ranks.length);
    }
    const got = directionMetrics(offsets, ranks, grades);
    const ref = directionMetricsRef(rankings, gradeMaps.map((m) => (g: number) => m.get(g) ?? 0));
    for (const [key, value] of Object.entries(ref)) {
      assertAllClose([got[key as keyof typeof got]], [value], { atol: 1e-9 }, `${queries} ${key}`);
    }
  }
});

Deno.test("graded retrieval: an image relevant to several texts, ties by grade, both directions", () => {
  // 3 texts × 3 images, scores given directly (dim = number of images, one-hot images, so the
  // score of text t with image i is texts[t][i]).
  const images = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const texts = new Float32Array([
    0.9,
    0.5,
    0.5, // text 0: image 0 (3), image 2 (1); images 1 and 2 tie
    0.2,
    0.8,
    0.8, // text 1: image 1 (2), image 2 (2) tie at the top
    0.7,
    0.1,
    0.3, // text 2: image 2 (3), image 0 (2)
  ]);
  const { relation, textToImage } = buildRelation(3, 3, [
    { text: 0, image: 0, grade: 3 },
    { text: 0, image: 2, grade: 1 },
    { text: 1, image: 1, grade: 2 },
    { text: 1, image: 2, grade: 2 },
    { text: 2, image: 2, grade: 3 },
    { text: 2, image: 0, grade: 2 },
  ], "hand");
  const { ranks, metrics } = retrievalRef(texts, images, 3, relation, false);
  // t2i. text 0: 0 (.9), then 1 (grade 0) above 2 (grade 1) at .5 → image 2 ranks 3.
  //      text 1: 1 and 2 tie at .8, equal grades → by index: 1 first, 2 second.
  //      text 2: 0 (.7), 2 (.3), 1 → image 2 ranks 2, image 0 ranks 1.
  assertEquals(Array.from(relation.images), [0, 2, 1, 2, 2, 0]);
  assertEquals(Array.from(ranks.t2i), [1, 3, 1, 2, 2, 1]);
  // i2t. image 0 scores (.9, .2, .7): text 0 1st, text 2 2nd. image 1 (.5, .8, .1): text 1 1st.
  //      image 2 (.5, .8, .3): text 1 1st, text 0 2nd, text 2 3rd.
  assertEquals(Array.from(ranks.i2t), [1, 2, 1, 1, 3, 2]);
  // The rank-based metrics agree with the reference's walk.
  const got = retrievalMetrics(ranks);
  for (const dir of ["t2i", "i2t"] as const) {
    for (const [key, value] of Object.entries(metrics[dir])) {
      assertAllClose(
        [got[dir][key as keyof typeof got.t2i]],
        [value],
        { atol: 1e-12 },
        `${dir} ${key}`,
      );
    }
  }
  // t2i R@1: text 0 yes, text 1 yes (grade-2 tie: image 1 first), text 2 no (its grade-3 image is
  // 2nd, below a grade-2 image) → 2/3. i2t best top-grade ranks: image 0: text 0 (3) at 1;
  // image 1: text 1 at 1; image 2: top grade 3 is text 2, at 3 → R@1 2/3, MeanR 5/3.
  assertAllClose([got.t2i["R@1"], got.i2t["R@1"], got.i2t.MeanR], [200 / 3, 200 / 3, 5 / 3], {
    atol: 1e-12,
  });
  const outcomes = queryOutcomes(ranks);
  assertEquals(outcomes.imageQueries, [0, 1, 2]);
  assertEquals(outcomes.t2i.map((q) => q.best), [1, 1, 2]);
  assertEquals(textToImage, ranks.textToImage);
});
