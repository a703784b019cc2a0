import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertRejects,
  gpuTest,
  randn,
  rng,
  sharedData,
  withBindingLimit,
} from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import {
  asMatrix,
  ChunkRows,
  recordPairScores,
  recordScores,
  retrievalRanks,
  vec4s,
} from "../src/ops/retrieval.ts";
import { evaluateRetrieval } from "../src/eval/retrieval.ts";
import {
  type RetrievalMetrics,
  retrievalMetrics,
  type RetrievalRanks,
} from "../src/eval/metrics.ts";
import {
  prepareRowsRef,
  retrievalMetricsRef,
  retrievalRanksRef,
  retrievalRef,
  scoreMatrixRef,
} from "../src/reference/retrieval.ts";
import { readNpy } from "../src/data/npy.ts";
import { buildRelation } from "../src/data/relation.ts";
import { randomRelation } from "./graded_fixtures.ts";

/** `n` seeded integers in [lo, hi] as float32: their dot products are exact in float32. */
function ints(n: number, seed: number, lo = -2, hi = 2): Float32Array<ArrayBuffer> {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(u() * (hi - lo + 1));
  return out;
}

function floats(n: number, seed: number): Float32Array<ArrayBuffer> {
  return Float32Array.from(randn(n, seed));
}

/** Texts 0..n-1 cycle over the images (several captions per image when n > images). */
function cyclic(n: number, images: number): Int32Array {
  return Int32Array.from({ length: n }, (_, t) => t % images);
}

function assertMetricsClose(actual: RetrievalMetrics, expected: RetrievalMetrics, what: string) {
  for (const dir of ["t2i", "i2t"] as const) {
    for (const [key, value] of Object.entries(expected[dir])) {
      assertAllClose(
        [actual[dir][key as keyof typeof actual.t2i]],
        [value],
        { atol: 1e-9, rtol: 1e-9 },
        `${what} ${dir} ${key}`,
      );
    }
  }
  assertAllClose([actual.rsum], [expected.rsum], { atol: 1e-9 }, `${what} rsum`);
}

function assertRanksEqual(actual: RetrievalRanks, expected: RetrievalRanks, what: string) {
  assertEquals(Array.from(actual.t2i), Array.from(expected.t2i), `${what}: text → image ranks`);
  assertEquals(Array.from(actual.i2t), Array.from(expected.i2t), `${what}: image → text ranks`);
}

gpuTest(
  "70000 texts against 2 images: the ranks stay exact past llvmpipe's loop limit",
  async () => {
    // The text chunk is capped at MAX_LINE, so no invocation of count_i2t loops over all 70000
    // texts (llvmpipe stops an invocation's loops at 65535 iterations without an error).
    const [nt, ni, dim] = [70000, 2, 4];
    // Integer features, raw dot products: exact scores in float32 and float64, many exact ties.
    const texts = ints(nt * dim, 71);
    const images = ints(ni * dim, 72);
    const textToImage = Int32Array.from({ length: nt }, (_, t) => t % 2);
    const input = { texts, images, textDim: dim, imageDim: dim, textToImage };
    const ranks = await retrievalRanks(input, { normalize: false });
    const ref = retrievalRef(texts, images, dim, textToImage, false).ranks;
    assertRanksEqual(ranks, ref, "70000 x 2");
  },
);

gpuTest(
  "prepare_rows normalises and zero-pads rows, from host arrays, tensors and gathers",
  async () => {
    for (const [rows, dim] of [[1, 1], [3, 4], [65, 5], [70, 13]]) {
      const x = floats(rows * dim, rows * 31 + dim);
      x.fill(0, 0, dim); // a zero row stays zero (norm floor, no NaN)
      for (const normalize of [true, false]) {
        const ref = prepareRowsRef(x, rows, dim, normalize);
        const d4 = vec4s(dim);
        const padded = new Float64Array(rows * d4 * 4);
        for (let r = 0; r < rows; r++) padded.set(ref.subarray(r * dim, (r + 1) * dim), r * d4 * 4);
        const tensor = Tensor.from(x, [rows, dim]);
        for (const source of [x, tensor]) {
          const m = asMatrix("test", "rows", source, source === x ? dim : undefined);
          const chunk = new ChunkRows(m, rows, normalize);
          chunk.load(0, rows);
          const got = new Float32Array(await rt().read(chunk.buffer, rows * d4 * 16));
          const what = `${rows}x${dim} ${source === x ? "host" : "tensor"} normalize=${normalize}`;
          assertAllClose(got, padded, { atol: 1e-6, rtol: 1e-6 }, what);
          // Gathered rows (reversed order) are the same rows, bit for bit.
          const index = Uint32Array.from({ length: rows }, (_, r) => rows - 1 - r);
          chunk.gather(index);
          const gathered = new Float32Array(await rt().read(chunk.buffer, rows * d4 * 16));
          for (let r = 0; r < rows; r++) {
            const a = gathered.subarray(r * d4 * 4, (r + 1) * d4 * 4);
            const b = got.subarray(index[r] * d4 * 4, (index[r] + 1) * d4 * 4);
            assertEquals(Array.from(a), Array.from(b), `${what}: gathered row ${r}`);
          }
          chunk.release();
        }
        tensor.dispose();
      }
    }
  },
);

/**
 * The planner's choice, then every tile of the storage-buffer kernel and every tile of the texture
 * kernel that reads B as stored (its `DOT` arithmetic), in both orientations, forced.
 */
const PLANS = [
  undefined,
  ...(["large", "medium", "small", "thin"] as const).flatMap((tile) =>
    [false, true].map((dual) => ({ tile, dual }))
  ),
  ...(["medium", "small", "thin"] as const).flatMap((tile) =>
    [false, true].map((dual) => ({ tile, dual, path: "texture" as const }))
  ),
];

/** A plan for messages. */
function planName(plan: (typeof PLANS)[number]): string {
  if (!plan) return "planned";
  return `${"path" in plan ? "texture " : ""}${plan.tile}${plan.dual ? " dual" : ""}`;
}

gpuTest("scores: blocks of cosines match the float64 reference on edge shapes", async () => {
  // [gallery rows, queries, dim]: 1×1, sizes off the 16-row / 512-query tiles, odd dims.
  for (const [ng, nq, dim] of [[1, 1, 1], [17, 513, 5], [33, 9, 64], [1, 1000, 3], [40, 1, 130]]) {
    const g = floats(ng * dim, ng + dim);
    const q = floats(nq * dim, nq * 3 + dim);
    const gc = new ChunkRows(asMatrix("test", "gallery", g, dim), ng, true);
    const qc = new ChunkRows(asMatrix("test", "queries", q, dim), nq, true);
    gc.load(0, ng);
    qc.load(0, nq);
    const out = rt().pool.acquire(ng * nq * 4);
    const ref = scoreMatrixRef(g, q, dim); // [gallery × queries]
    for (const plan of PLANS) {
      recordScores(gc, qc, dim, out, plan);
      const got = new Float32Array(await rt().read(out, ng * nq * 4));
      const what = planName(plan);
      assertAllClose(got, ref, { atol: 2e-6, rtol: 1e-5 }, `${what} ${ng}x${nq}x${dim}`);
    }
    [gc, qc].forEach((c) => c.release());
    rt().pool.release(out);
  }
});

gpuTest("pair scores equal the block entries bit for bit (so exact ties stay ties)", async () => {
  for (const [ni, nt, dim] of [[50, 200, 512], [7, 600, 7], [700, 20, 64]]) {
    const images = floats(ni * dim, dim);
    const texts = floats(nt * dim, dim + 1);
    const own = Uint32Array.from({ length: nt }, (_, t) => (t * 7) % ni);
    const im = asMatrix("test", "images", images, dim);
    const ic = new ChunkRows(im, ni, true);
    const tc = new ChunkRows(asMatrix("test", "texts", texts, dim), nt, true);
    const oc = new ChunkRows(im, nt, true);
    ic.load(0, ni);
    tc.load(0, nt);
    oc.gather(own);
    const block = rt().pool.acquire(ni * nt * 4);
    const rel = rt().pool.acquire(nt * 4);
    recordPairScores(oc, tc, dim, 0, rel);
    const r = new Float32Array(await rt().read(rel, nt * 4));
    for (const plan of PLANS) {
      recordScores(ic, tc, dim, block, plan);
      const s = new Float32Array(await rt().read(block, ni * nt * 4));
      const fromBlock = Array.from(own, (i, t) => s[i * nt + t]);
      const what = planName(plan);
      assertEquals(Array.from(r), fromBlock, `pair scores vs ${what} ${ni}x${nt}x${dim}`);
    }
    [ic, tc, oc].forEach((c) => c.release());
    [block, rel].forEach((b) => rt().pool.release(b));
  }
});

// Hand-computed case (cosine). Images I0 = (1,0), I1 = (0,1), I2 = (1,1)/√2. Texts (image):
// T0 = (1,0) (I0), T1 = (1,0) (I1), T2 = (0,1) (I2), T3 = (-1,0) (I2), T4 = (1,1)/√2 (I0).
// Text → image, scores over (I0, I1, I2) and the rank of the text's image:
//   T0: (1, 0, .707)     I0 first                                   → 1
//   T1: (1, 0, .707)     I1 last                                    → 3
//   T2: (0, 1, .707)     I1, I2                                     → 2
//   T3: (-1, 0, -.707)   I1, I2                                     → 2
//   T4: (.707, .707, 1)  I2, then I0 tied with I1: I1 (not T4's) above I0 (pessimistic) → 3
// Best ranks 1,3,2,2,3: R@1 20, R@5 = R@10 = 100, MedR 2, MeanR 11/5,
// mAP = MRR = mean(1, 1/3, 1/2, 1/2, 1/3) (one relevant image per text), NDCG@10 = mean of
// 1/log2(rank + 1).
// Image → text, scores over (T0..T4) and the ranking:
//   I0 (texts T0, T4): (1, 1, 0, -1, .707): T1 (tie, not I0's) above T0 → T1 T0 T4 T2 T3; ranks 2, 3
//   I1 (text T1):      (0, 0, 1, 0, .707):  T2 T4, then the tie at 0: T0 T3 above T1 → rank 5
//   I2 (texts T2, T3): (.707, .707, .707, -.707, 1): T4, T0 T1 above T2 (tie) → T2 4, T3 5
// Best ranks 2, 5, 4: R@1 0, R@5 = R@10 = 100, MedR 4, MeanR 11/3,
// AP: I0 (1/2 + 2/3)/2, I1 1/5, I2 (1/4 + 2/5)/2; MRR: mean(1/2, 1/5, 1/4) (the tie-ranked best); NDCG: I0 (1/log2 3 + 1/log2 4)/(1 + 1/log2 3),
// I1 1/log2 6, I2 (1/log2 5 + 1/log2 6)/(1 + 1/log2 3). rsum = 220 + 200 = 420.
const HAND = {
  images: new Float32Array([1, 0, 0, 1, 1, 1]),
  texts: new Float32Array([1, 0, 1, 0, 0, 1, -1, 0, 1, 1]),
  textToImage: new Int32Array([0, 1, 2, 2, 0]),
};

gpuTest("hand-computed 5 texts × 3 images: ranks, ties and every metric", async () => {
  const input = { ...HAND, textDim: 2, imageDim: 2 };
  const l = (r: number) => 1 / Math.log2(r + 1);
  const expected: RetrievalMetrics = {
    t2i: {
      "R@1": 20,
      "R@5": 100,
      "R@10": 100,
      MedR: 2,
      MeanR: 11 / 5,
      mAP: 100 * (1 + 1 / 3 + 1 / 2 + 1 / 2 + 1 / 3) / 5,
      MRR: 100 * (1 + 1 / 3 + 1 / 2 + 1 / 2 + 1 / 3) / 5,
      "NDCG@1": 20,
      "NDCG@5": 100 * (l(1) + l(3) + l(2) + l(2) + l(3)) / 5,
      "NDCG@10": 100 * (l(1) + l(3) + l(2) + l(2) + l(3)) / 5,
    },
    i2t: {
      "R@1": 0,
      "R@5": 100,
      "R@10": 100,
      MedR: 4,
      MeanR: 11 / 3,
      mAP: 100 * ((1 / 2 + 2 / 3) / 2 + 1 / 5 + (1 / 4 + 2 / 5) / 2) / 3,
      MRR: 100 * (1 / 2 + 1 / 5 + 1 / 4) / 3,
      "NDCG@1": 0,
      "NDCG@5": 100 *
        ((l(2) + l(3)) / (l(1) + l(2)) + l(5) + (l(4) + l(5)) / (l(1) + l(2))) / 3,
      "NDCG@10": 100 *
        ((l(2) + l(3)) / (l(1) + l(2)) + l(5) + (l(4) + l(5)) / (l(1) + l(2))) / 3,
    },
    rsum: 420,
  };
  for (const options of [{}, { imageChunk: 1, textChunk: 1 }, { imageChunk: 2, textChunk: 3 }]) {
    const ranks = await retrievalRanks(input, options);
    assertEquals(Array.from(ranks.t2i), [1, 3, 2, 2, 3], "t2i ranks");
    assertEquals(Array.from(ranks.i2t), [2, 5, 4, 5, 3], "i2t ranks");
    assertMetricsClose(retrievalMetrics(ranks), expected, `GPU ${JSON.stringify(options)}`);
  }
  const ref = retrievalRanksRef(HAND.texts, HAND.images, 2, HAND.textToImage);
  assertEquals(Array.from(ref.t2i), [1, 3, 2, 2, 3], "reference t2i ranks");
  assertEquals(Array.from(ref.i2t), [2, 5, 4, 5, 3], "reference i2t ranks");
  assertMetricsClose(
    retrievalMetricsRef(HAND.texts, HAND.images, 2, HAND.textToImage),
    expected,
    "reference",
  );
});

gpuTest(
  "integer data (exact scores, many ties): GPU ranks equal the reference for every chunking",
  async () => {
    // [texts, images, dim, relation]: 1×1, rectangular with several captions per image, one caption
    // per image, uneven random captions per image (and images without any: distractors).
    const u = rng(5);
    const cases: [number, number, number, Int32Array][] = [
      [1, 1, 3, new Int32Array([0])],
      [37, 11, 6, cyclic(37, 11)],
      [50, 50, 4, cyclic(50, 50)],
      [300, 70, 9, Int32Array.from({ length: 300 }, () => Math.floor(u() * 60))],
    ];
    for (const [nt, ni, dim, textToImage] of cases) {
      const texts = ints(nt * dim, nt + dim);
      const images = ints(ni * dim, ni * 7 + dim);
      const ref = retrievalRanksRef(texts, images, dim, textToImage, false);
      const refMetrics = retrievalMetricsRef(texts, images, dim, textToImage, false);
      const input = { texts, images, textToImage, textDim: dim, imageDim: dim };
      const chunkings = [{}, { imageChunk: 7, textChunk: 13 }, { imageChunk: 16, textChunk: 512 }];
      if (nt <= 50) chunkings.push({ imageChunk: 1, textChunk: 1 }); // one block per score
      for (const options of chunkings) {
        const what = `${nt}x${ni}x${dim} ${JSON.stringify(options)}`;
        const ranks = await retrievalRanks(input, { ...options, normalize: false });
        assertRanksEqual(ranks, ref, what);
        assertMetricsClose(retrievalMetrics(ranks), refMetrics, what);
      }
    }
  },
);

gpuTest(
  "graded relations: GPU ranks equal the float64 reference (several images per text, shared images, ties by grade)",
  async () => {
    // Integer features make exact ties common, so the grade order of tied items is exercised.
    const cases: [number, number, number, number][] = [
      [1, 1, 3, 1],
      [2, 3, 2, 2],
      [40, 12, 4, 3],
      [150, 45, 5, 4],
    ];
    for (const [nt, ni, dim, seed] of cases) {
      const { relation, textToImage } = randomRelation(nt, ni, seed);
      const texts = ints(nt * dim, seed * 13, -1, 1);
      const images = ints(ni * dim, seed * 17, -1, 1);
      const { ranks: ref, metrics: refMetrics } = retrievalRef(
        texts,
        images,
        dim,
        relation,
        false,
      );
      const input = {
        texts,
        images,
        textToImage,
        relevance: relation,
        textDim: dim,
        imageDim: dim,
      };
      const chunkings = [{}, { imageChunk: 5, textChunk: 7 }, { imageChunk: 1, textChunk: 3 }];
      for (const options of chunkings) {
        const what = `${nt}x${ni}x${dim} graded ${JSON.stringify(options)}`;
        const ranks = await retrievalRanks(input, { ...options, normalize: false });
        assertEquals(ranks.relevance, relation, `${what}: relation`);
        assertRanksEqual(ranks, ref, what);
        assertMetricsClose(retrievalMetrics(ranks), refMetrics, what);
      }
    }
    // Cosine scores (few ties), with tensors as inputs.
    const [nt, ni, dim] = [120, 40, 16];
    const { relation, textToImage } = randomRelation(nt, ni, 9);
    const texts = floats(nt * dim, 21);
    const images = floats(ni * dim, 22);
    const { ranks: ref, metrics: refMetrics } = retrievalRef(texts, images, dim, relation);
    const tt = Tensor.from(texts, [nt, dim]);
    const ti = Tensor.from(images, [ni, dim]);
    const ranks = await retrievalRanks({ texts: tt, images: ti, textToImage, relevance: relation });
    tt.dispose();
    ti.dispose();
    assertRanksEqual(ranks, ref, "graded cosine");
    assertMetricsClose(retrievalMetrics(ranks), refMetrics, "graded cosine");
  },
);

gpuTest(
  "graded ties: a constant score row ranks every item below all items of lower grade",
  async () => {
    // One text, 4 identical images with grades 0, 2, 1, 2: the grade-0 image ranks first, then the
    // grade-1 image, then the grade-2 images by index.
    const { relation, textToImage } = buildRelation(1, 4, [
      { text: 0, image: 1, grade: 2 },
      { text: 0, image: 2, grade: 1 },
      { text: 0, image: 3, grade: 2 },
    ], "t");
    const ranks = await retrievalRanks({
      texts: new Float32Array([1, 1]),
      images: new Float32Array(8).fill(1),
      textToImage,
      relevance: relation,
      textDim: 2,
      imageDim: 2,
    });
    assertEquals(Array.from(relation.images), [1, 2, 3]);
    assertEquals(Array.from(ranks.t2i), [3, 2, 4]);
    assertEquals(Array.from(ranks.i2t), [1, 1, 1]);
    await assertRejects(
      () =>
        retrievalRanks({
          texts: new Float32Array([1, 1]),
          images: new Float32Array(8).fill(1),
          textToImage: [2],
          relevance: relation,
          textDim: 2,
          imageDim: 2,
        }),
      /relevance: text 0's relevance row starts with image 1, not its image 2/,
    );
  },
);

gpuTest("random cosine data: GPU ranks and metrics equal the float64 reference", async () => {
  const [nt, ni, dim] = [250, 50, 32];
  const images = floats(ni * dim, 11);
  // Captions near their image (plus noise), so ranks spread from 1 to the whole gallery.
  const noise = floats(nt * dim, 12);
  const textToImage = cyclic(nt, ni);
  const texts = Float32Array.from(
    { length: nt * dim },
    (_, e) => images[textToImage[Math.floor(e / dim)] * dim + (e % dim)] * 0.3 + noise[e],
  );
  const input = { texts, images, textToImage, textDim: dim, imageDim: dim };
  const ref = retrievalRanksRef(texts, images, dim, textToImage);
  const refMetrics = retrievalMetricsRef(texts, images, dim, textToImage);
  assertOk(refMetrics.t2i["R@1"] > 5 && refMetrics.t2i["R@10"] < 95, "a non-trivial case");
  for (const options of [{}, { imageChunk: 9, textChunk: 100 }]) {
    const ranks = await retrievalRanks(input, options);
    assertRanksEqual(ranks, ref, JSON.stringify(options));
    assertMetricsClose(
      await evaluateRetrieval(input, options),
      refMetrics,
      JSON.stringify(options),
    );
  }
});

gpuTest("ties: constant scores give every relevant item the worst ranks it can have", async () => {
  const [nt, ni, dim] = [12, 4, 8];
  const row = floats(dim, 3);
  const images = Float32Array.from({ length: ni * dim }, (_, e) => row[e % dim]);
  const texts = floats(nt * dim, 4);
  const textToImage = cyclic(nt, ni); // 3 texts per image
  for (const options of [{}, { imageChunk: 1, textChunk: 5 }]) {
    const ranks = await retrievalRanks(
      { texts, images, textToImage, textDim: dim, imageDim: dim },
      options,
    );
    // Every text scores all (identical) images the same: its image ranks last.
    assertEquals(Array.from(ranks.t2i), new Array(nt).fill(ni), "t2i worst rank");
    const m = retrievalMetrics(ranks);
    assertEquals([m.t2i["R@1"], m.t2i.MedR, m.t2i.MeanR], [0, ni, ni], "t2i metrics");
  }
  // Identical texts: each image's 3 texts take the last 3 places, in index order.
  const sameTexts = Float32Array.from({ length: nt * dim }, (_, e) => row[e % dim]);
  const ranks = await retrievalRanks({
    texts: sameTexts,
    images: floats(ni * dim, 5),
    textToImage,
    textDim: dim,
    imageDim: dim,
  }, { textChunk: 5 });
  assertEquals(Array.from(ranks.i2t), Array.from(textToImage, (_, t) => 10 + Math.floor(t / ni)));
});

gpuTest("tensor inputs give the same ranks as host arrays and are left intact", async () => {
  const [nt, ni, dim] = [40, 10, 12];
  const texts = floats(nt * dim, 21);
  const images = floats(ni * dim, 22);
  const textToImage = cyclic(nt, ni);
  const host = await retrievalRanks({ texts, images, textToImage, textDim: dim, imageDim: dim });
  const tt = Tensor.from(texts, [nt, dim]);
  const ti = Tensor.from(images, [ni, dim]);
  for (const options of [{}, { imageChunk: 3, textChunk: 7 }]) {
    const gpu = await retrievalRanks({ texts: tt, images: ti, textToImage }, options);
    assertRanksEqual(gpu, host, `tensors ${JSON.stringify(options)}`);
  }
  assertAllClose(await tt.read(), texts, { atol: 0 }, "texts tensor unchanged");
  tt.dispose();
  ti.dispose();
});

gpuTest("images without texts are text → image distractors, not image → text queries", async () => {
  const [nt, ni, dim] = [6, 9, 5];
  const texts = floats(nt * dim, 31);
  const images = floats(ni * dim, 32);
  const textToImage = new Int32Array([0, 0, 2, 5, 5, 5]);
  const input = { texts, images, textToImage, textDim: dim, imageDim: dim };
  const m = await evaluateRetrieval(input, { imageChunk: 4 });
  assertMetricsClose(m, retrievalMetricsRef(texts, images, dim, textToImage), "distractors");
});

gpuTest("bad input is rejected with a message naming the field", async () => {
  const t = new Float32Array(6);
  const i = new Float32Array([1, 0, 0, 1]);
  const base = { texts: t, images: i, textDim: 2, imageDim: 2, textToImage: [0, 1, 1] };
  const cases: [Record<string, unknown>, Record<string, unknown>, RegExp][] = [
    [{ textDim: 3 }, {}, /texts have 3 dims, images 2: similarity needs equal dims/],
    [{ textToImage: [0, 1] }, {}, /textToImage has 2 entries, texts have 3 rows/],
    [{ textToImage: [0, 2, 1] }, {}, /textToImage\[1\] = 2 is not an image index \(0\.\.1\)/],
    [{ textToImage: [0, 0.5, 1] }, {}, /textToImage\[1\] = 0.5/],
    [{ images: new Float32Array([1, 0, NaN, 1]) }, {}, /images row 1 has a non-finite value/],
    [{ textDim: undefined }, {}, /texts dim must be a positive integer/],
    [{ texts: new Float32Array(5) }, {}, /texts has 5 values, not a multiple of its dim 2/],
    [{ texts: new Float32Array(0), textToImage: [] }, {}, /nothing to evaluate \(0 texts/],
    [{}, { imageChunk: 0 }, /imageChunk must be a positive integer, got 0/],
    [{ texts: [1, 2] }, {}, /texts must be a Float32Array or a Tensor/],
  ];
  for (const [patch, options, pattern] of cases) {
    await assertRejects(
      () => retrievalRanks({ ...base, ...patch } as never, options),
      pattern,
    );
  }
  const flat = Tensor.zeros([4]);
  await assertRejects(
    () => retrievalRanks({ texts: flat, images: i, imageDim: 2, textToImage: [0] }),
    /texts must be a 2-D tensor, got \[4\]/,
  );
  flat.dispose();
});

gpuTest("a gallery larger than one GPU buffer binding is evaluated chunk by chunk", async () => {
  // 65 600 images × 520 dims = 136 MB of float32, over a binding limit forced down to 64 MiB (every
  // adapter allows at least 128 MiB): the evaluation must never hold the gallery in one buffer.
  const [ni, nt, dim] = [65600, 8, 520];
  const limit = Math.min(64 * 2 ** 20, rt().device.limits.maxStorageBufferBindingSize);
  assertOk(ni * dim * 4 > limit, `gallery of ${ni * dim * 4} bytes exceeds ${limit}`);
  const images = ints(ni * dim, 41, -1, 1);
  const texts = ints(nt * dim, 42, -1, 1);
  const textToImage = Int32Array.from({ length: nt }, (_, t) => t * 8191);
  // Make the relevant images close to their texts so ranks range from 1 to thousands.
  for (let t = 0; t < nt; t++) {
    const keep = (t * 65) % 520;
    for (let k = 0; k < keep; k++) images[textToImage[t] * dim + k] = texts[t * dim + k];
  }
  const ranks = await withBindingLimit(limit, () =>
    retrievalRanks(
      { texts, images, textToImage, textDim: dim, imageDim: dim },
      { normalize: false },
    ));
  // Reference t2i ranks (exact integer scores; ties rank above the relevant image).
  const expected = Array.from({ length: nt }, (_, t) => {
    const dot = (i: number) => {
      let s = 0;
      for (let k = 0; k < dim; k++) s += texts[t * dim + k] * images[i * dim + k];
      return s;
    };
    const own = dot(textToImage[t]);
    let above = 0;
    for (let i = 0; i < ni; i++) if (i !== textToImage[t] && dot(i) >= own) above++;
    return above + 1;
  });
  assertEquals(Array.from(ranks.t2i), expected, "t2i ranks over the large gallery");
  assertOk(expected.some((r) => r === 1) && expected.some((r) => r > 100), "ranks spread");
});

const FLICKR = sharedData("flickr8k-clip-b32-val");

Deno.test({
  name: "flickr8k CLIP features: GPU ranks equal the float64 reference (needs ../shared/data)",
  ignore: FLICKR === null,
  fn: async () => {
    const before = rt().pool.liveCount;
    // Row-aligned (k = 1): text row t belongs to image row t.
    const images = await readNpy(`${FLICKR}/images.npy`);
    const texts = await readNpy(`${FLICKR}/texts.npy`);
    const ds = {
      images: images.data,
      texts: texts.data,
      imageDim: images.shape[1],
      textDim: texts.shape[1],
      textToImage: Int32Array.from({ length: texts.shape[0] }, (_, t) => t),
    };
    const input = {
      texts: ds.texts,
      images: ds.images,
      textToImage: ds.textToImage,
      textDim: ds.textDim,
      imageDim: ds.imageDim,
    };
    const gpu = await retrievalRanks(input);
    const chunked = await retrievalRanks(input, { imageChunk: 300, textChunk: 333 });
    const { ranks: ref, metrics: refMetrics } = retrievalRef(
      ds.texts,
      ds.images,
      ds.textDim,
      ds.textToImage,
    );
    // Float32 vs float64 could only differ where two scores are within ~1e-6 of each other; on
    // this data the smallest such gap is 3.5e-7 apart from the exact tie of two identical
    // captions (texts 56 and 512), which the tie rule resolves the same way on both sides.
    assertRanksEqual(gpu, ref, "flickr8k whole");
    assertRanksEqual(chunked, ref, "flickr8k chunked");
    assertEquals([gpu.i2t[56], gpu.i2t[512]], [18, 46], "the duplicate captions' tie");
    const m = retrievalMetrics(gpu);
    assertMetricsClose(m, refMetrics, "flickr8k");
    // The independent numpy figures (float64 cosine, same tie rule): see the eval CLI test.
    assertEquals([m.t2i["R@1"], m.i2t["R@1"]], [55.9, 55.8]);
    assertAllClose([m.rsum], [456], { atol: 1e-9 }, "rsum");
    assertEquals(rt().pool.liveCount, before, "no GPU buffer left live");
  },
});

gpuTest(
  "cosine preparation is scale-invariant: features at 1e-15 or 1e19 rank as at 1",
  async () => {
    // The zero-shot path normalises raw features; a norm floor would distort tiny rows and squares
    // of 1e19 overflow float32. Integer features make the unscaled ranks exact.
    const [nt, ni, dim] = [30, 12, 8];
    const texts = ints(nt * dim, 41);
    const images = ints(ni * dim, 42);
    for (let r = 0; r < nt; r++) texts[r * dim] += 3; // no all-zero row
    for (let r = 0; r < ni; r++) images[r * dim] += 3;
    const relation = Int32Array.from({ length: nt }, (_, t) => t % ni);
    const at = (scale: number) =>
      retrievalRanks({
        texts: Float32Array.from(texts, (v) => v * scale),
        images: Float32Array.from(images, (v) => v * scale),
        textDim: dim,
        imageDim: dim,
        textToImage: relation,
      });
    const reference = retrievalRanksRef(texts, images, dim, relation);
    for (const scale of [1, 1e-15, 1e19]) {
      const got = await at(scale);
      assertEquals(retrievalMetrics(got), retrievalMetrics(reference), `scale ${scale}`);
    }
    const zero = prepareRowsRef([0, 0, 0, 3, 4, 0], 2, 3);
    assertAllClose(
      zero,
      [0, 0, 0, 0.6, 0.8, 0],
      { atol: 1e-15 },
      "a zero row stays zero in the twin",
    );
  },
);
