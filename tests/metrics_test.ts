import { assertAllClose, assertEquals, assertThrows, rng } from "./util.ts";
import {
  directionMetrics,
  flooredMedian,
  imageQueryCount,
  queryStats,
  retrievalMetrics,
  rsum,
  textsByImage,
} from "../src/eval/metrics.ts";
import { directionMetricsRef } from "../src/reference/retrieval.ts";

const l = (r: number) => 1 / Math.log2(r + 1);

Deno.test("metrics of four hand-worked queries", () => {
  // Relevant ranks: q0 [1], q1 [3], q2 [2, 7], q3 [11, 12] (CSR).
  // Best ranks 1, 3, 2, 11: R@1 1/4, R@5 3/4, R@10 3/4; median of 1,2,3,11 is 2.5 → MedR 2;
  // MeanR 17/4. AP: 1, 1/3, (1/2 + 2/7)/2, (1/11 + 2/12)/2.
  // NDCG@10: 1, 1/log2 4, (1/log2 3 + 1/log2 8)/(1 + 1/log2 3), 0 (nothing in the top 10).
  const m = directionMetrics([0, 1, 2, 4, 6], [1, 3, 7, 2, 12, 11]);
  const expected = {
    "R@1": 25,
    "R@5": 75,
    "R@10": 75,
    MedR: 2,
    MeanR: 17 / 4,
    mAP: 100 * (1 + 1 / 3 + (1 / 2 + 2 / 7) / 2 + (1 / 11 + 2 / 12) / 2) / 4,
    "NDCG@10": 100 * (1 + l(3) + (l(2) + l(7)) / (l(1) + l(2)) + 0) / 4,
  };
  for (const [key, value] of Object.entries(expected)) {
    assertAllClose([m[key as keyof typeof m]], [value], { atol: 1e-12 }, key);
  }
});

Deno.test("queryStats: best rank, AP and NDCG@10 of one query", () => {
  assertEquals(queryStats([1]), { best: 1, ap: 1, ndcg10: 1 });
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
    t2i: new Uint32Array([1, 2, 4, 1]),
    i2t: new Uint32Array([3, 1, 2, 5]),
  });
  assertEquals([m.t2i["R@1"], m.t2i.MeanR], [50, 2]);
  // i2t queries: image 0 (ranks 3, 1), image 1 (2), image 2 (5): best 1, 2, 5.
  assertEquals([m.i2t["R@1"], m.i2t["R@5"], m.i2t.MedR, m.i2t.MeanR], [100 / 3, 100, 2, 8 / 3]);
  assertAllClose([m.i2t.mAP], [100 * ((1 + 2 / 3) / 2 + 1 / 2 + 1 / 5) / 3], { atol: 1e-12 });
  assertEquals(m.rsum, rsum(m.t2i, m.i2t));
  assertAllClose([m.rsum], [50 + 100 + 100 + 100 / 3 + 100 + 100], { atol: 1e-12 }, "rsum");
  assertEquals(imageQueryCount(textToImage, 4), 3);
  const { offsets, order } = textsByImage(textToImage, 4);
  assertEquals([Array.from(offsets), Array.from(order)], [[0, 2, 3, 4, 4], [0, 1, 2, 3]]);
});

Deno.test("bad ranks are rejected with a clear message", () => {
  assertThrows(() => queryStats([]), /at least one relevant item/);
  assertThrows(() => queryStats([2, 2]), /distinct integers ≥ 1, got 2,2/);
  assertThrows(() => queryStats([0]), /distinct integers ≥ 1/);
  assertThrows(() => directionMetrics([0], []), /no queries/);
  assertThrows(() => directionMetrics([0, 1, 1], [1]), /query 1 has no relevant item/);
});
