// kernels/bank_norm.wgsl against its float64 twin (src/reference/bank_norm.ts): the bank
// statistics (log-sum-exp, running top-k) on edge shapes and chunkings (1 × 1, banks that are not
// a multiple of the chunk, k = bank size), the normalised ranks of every method in both directions
// (graded relations too), exact ties kept, and bad input named.

import {
  assertAllClose,
  assertEquals,
  assertRejects,
  bytesPattern,
  gpuTest,
  randn,
  rng,
  withBindingLimit,
} from "./util.ts";
import { bankLogSumExp, bankTopK, MAX_BANK_TOPK } from "../src/ops/bank_norm.ts";
import { retrievalRanks } from "../src/ops/retrieval.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { retrievalMetrics } from "../src/eval/metrics.ts";
import { bankNorms, normGrid, normParams, NormStatsCache } from "../src/eval/bank_norm.ts";
import {
  bankLseRef,
  type BankNormRef,
  bankNormRef,
  bankTopKRef,
  normedRetrievalRef,
} from "../src/reference/bank_norm.ts";
import { retrievalRef } from "../src/reference/retrieval.ts";
import { randomRelation } from "./graded_fixtures.ts";

function floats(n: number, seed: number): Float32Array<ArrayBuffer> {
  return Float32Array.from(randn(n, seed));
}

/** `n` seeded integers in [lo, hi]: exact dot products, many ties. */
function ints(n: number, seed: number, lo = -2, hi = 2): Float32Array<ArrayBuffer> {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => lo + Math.floor(u() * (hi - lo + 1)));
}

// [bank rows, gallery rows, dim, chunkings]: 1 × 1; a bank of 37 in chunks of 5 (not a multiple)
// against 11 items in chunks of 4; a bank of 300 in chunks of 64 (300 = 4 · 64 + 44) against 7;
// a gallery of 130 in chunks of 64 (3 chunks, the last a sliver).
const SHAPES: [number, number, number, { galleryChunk?: number; bankChunk?: number }[]][] = [
  [1, 1, 3, [{}]],
  [37, 11, 6, [{}, { galleryChunk: 4, bankChunk: 5 }, { galleryChunk: 1, bankChunk: 1 }]],
  [300, 7, 9, [{}, { bankChunk: 64 }]],
  [20, 130, 5, [{ galleryChunk: 64, bankChunk: 7 }]],
];

gpuTest(
  "bankLogSumExp equals the float64 log-sum-exp for every chunking (β up to 80)",
  async () => {
    for (const [nb, ng, dim, chunkings] of SHAPES) {
      const bank = floats(nb * dim, nb + dim);
      const gallery = floats(ng * dim, ng * 3 + dim);
      for (const beta of [1 / 1.99, 20, 80]) {
        const ref = bankLseRef(bank, gallery, dim, beta);
        for (const options of chunkings) {
          const got = await bankLogSumExp(bank, gallery, beta, { dim, ...options });
          const what = `lse ${nb}x${ng}x${dim} β=${beta} ${JSON.stringify(options)}`;
          assertAllClose(got, ref, { atol: 2e-5 * beta, rtol: 2e-6 }, what);
        }
      }
    }
  },
);

gpuTest(
  "bankTopK equals the float64 top-k (k = 1, 16, the whole bank up to 64) for every chunking",
  async () => {
    for (const [nb, ng, dim, chunkings] of SHAPES) {
      const bank = floats(nb * dim, nb + 2 * dim);
      const gallery = floats(ng * dim, ng + 5 * dim);
      for (const k of new Set([1, Math.min(16, nb), Math.min(nb, MAX_BANK_TOPK)])) {
        const ref = bankTopKRef(bank, gallery, dim, k);
        for (const options of chunkings) {
          const got = await bankTopK(bank, gallery, k, { dim, ...options });
          assertAllClose(
            got,
            ref,
            { atol: 1e-6, rtol: 1e-5 },
            `top-${k} ${nb}x${ng} ${JSON.stringify(options)}`,
          );
        }
      }
    }
    // Integer scores with many ties: the k largest values are exact.
    const bank = ints(50 * 4, 3);
    const gallery = ints(9 * 4, 4);
    const got = await bankTopK(bank, gallery, 10, { dim: 4, normalize: false, bankChunk: 7 });
    assertEquals(Array.from(got), Array.from(bankTopKRef(bank, gallery, 4, 10, false)));
  },
);

gpuTest(
  "long bank lines stay under llvmpipe's loop limit: a 70000-row bank, rising top-64 and top-1024",
  async () => {
    // One gallery item: the default bank chunk would be the whole bank, one invocation looping
    // 2 × 70000 times (llvmpipe stops at 65535 with a wrong sum, no error) without the cap.
    const bank = floats(70000 * 4, 11);
    const gallery = floats(4, 12);
    const lse = await bankLogSumExp(bank, gallery, 20, { dim: 4 });
    assertAllClose(lse, bankLseRef(bank, gallery, 4, 20), { atol: 1e-4, rtol: 1e-5 }, "lse 70000");
    // Scores rising along the bank: every row is inserted at the head of the top-k list (k − 1
    // shifts each), 3000 × 64 steps in one invocation without the cap.
    const rising = Float32Array.from({ length: 3000 * 2 }, (_, i) => i % 2 === 0 ? i / 2 : 1);
    const one = new Float32Array([1, 0]);
    const top = await bankTopK(rising, one, 64, { dim: 2, normalize: false });
    assertEquals(Array.from(top), Array.from(bankTopKRef(rising, one, 2, 64, false)));
    // The largest k (k = 256 and 300 against 300 rows came back wrong before bank chunks shrank
    // with k): 3000 rising rows into a list of MAX_BANK_TOPK, and random scores at k = 300.
    const topMax = await bankTopK(rising, one, MAX_BANK_TOPK, { dim: 2, normalize: false });
    assertEquals(topMax[0], 2999);
    assertEquals(topMax[MAX_BANK_TOPK - 1], 3000 - MAX_BANK_TOPK);
    assertEquals(Array.from(topMax), Array.from(bankTopKRef(rising, one, 2, MAX_BANK_TOPK, false)));
    const bank300 = floats(300 * 8, 21);
    const gallery5 = floats(5 * 8, 22);
    assertAllClose(
      await bankTopK(bank300, gallery5, 300, { dim: 8 }),
      bankTopKRef(bank300, gallery5, 8, 300),
      { atol: 1e-6, rtol: 1e-5 },
      "top-300 of 300",
    );
    await assertRejects(
      () => bankTopK(rising, one, 64, { dim: 2, normalize: false, bankChunk: 3000 }),
      /bankChunk \d+ is over \d+.*llvmpipe/,
    );
    await assertRejects(
      () => bankLogSumExp(bank, gallery, 20, { dim: 4, bankChunk: 70000 }),
      /bankChunk \d+ is over \d+.*llvmpipe/,
    );
  },
);

gpuTest(
  "bankTopK refuses a k over the limit or one whose statistics exceed a binding",
  async () => {
    const one = new Float32Array([1, 0]);
    const bank = floats(2 * (MAX_BANK_TOPK + 1), 5);
    await assertRejects(
      () => bankTopK(bank, one, MAX_BANK_TOPK + 1, { dim: 2 }),
      /k = 1025 must be/,
    );
    // With the binding limit forced to 1 MiB (the same refusal on any adapter): 257 gallery rows
    // need 257 × 1024 × 4 bytes of top-1024 statistics.
    const gallery = new Float32Array(257 * 2).fill(1);
    await withBindingLimit(2 ** 20, () =>
      assertRejects(
        () => bankTopK(bank, gallery, MAX_BANK_TOPK, { dim: 2 }),
        new RegExp(
          `k = 1024 for 257 gallery rows needs ${bytesPattern(257 * 4096)} of statistics, over ` +
            `this device's maxStorageBufferBindingSize of ${
              bytesPattern(2 ** 20)
            }: use a smaller k`,
        ),
      ));
  },
);

gpuTest("bank statistics of tensors equal those of host arrays", async () => {
  const [nb, ng, dim] = [23, 9, 8];
  const bank = floats(nb * dim, 1);
  const gallery = floats(ng * dim, 2);
  const tb = Tensor.from(bank, [nb, dim]);
  const tg = Tensor.from(gallery, [ng, dim]);
  try {
    assertAllClose(
      await bankTopK(tb, tg, 3, { bankChunk: 5 }),
      await bankTopK(bank, gallery, 3, { dim }),
      { atol: 1e-6 },
    );
    assertAllClose(
      await bankLogSumExp(tb, tg, 20, { galleryChunk: 2 }),
      await bankLogSumExp(bank, gallery, 20, { dim }),
      { atol: 1e-4 },
    );
  } finally {
    tb.dispose();
    tg.dispose();
  }
});

/** Random cosine data: evaluated texts/images, a disjoint bank, a graded or one-to-one relation. */
function data(nt: number, ni: number, dim: number, seed: number, graded: boolean) {
  const rel = graded
    ? randomRelation(nt, ni, seed)
    : { relation: undefined, textToImage: Int32Array.from({ length: nt }, (_, t) => t % ni) };
  return {
    texts: floats(nt * dim, seed),
    images: floats(ni * dim, seed + 1),
    bankTexts: floats(3 * nt * dim, seed + 2),
    bankImages: floats(2 * ni * dim, seed + 3),
    dim,
    ...rel,
  };
}

const METHODS: BankNormRef[] = [
  { method: "invsoftmax", beta: 20, k: 1 },
  { method: "invsoftmax", beta: 5, k: 3 },
  { method: "dbnorm", beta1: 1 / 1.99, beta2: 3 },
  { method: "nnn", alpha: 0.75, k: 16 },
];

gpuTest(
  "normalised ranks: the GPU path equals the float64 twin for every method, both directions",
  async () => {
    for (const graded of [false, true]) {
      const d = data(60, 25, 12, graded ? 7 : 8, graded);
      const relation = d.relation ?? d.textToImage;
      const input = {
        texts: d.texts,
        images: d.images,
        textDim: d.dim,
        imageDim: d.dim,
        textToImage: d.textToImage,
        relevance: d.relation,
      };
      const raw = retrievalRef(d.texts, d.images, d.dim, relation);
      for (const norm of METHODS) {
        const { method, ...params } = norm;
        const refNorms = bankNormRef(norm, d);
        const ref = normedRetrievalRef(d.texts, d.images, d.dim, relation, refNorms);
        const gpuNorms = (await bankNorms(method, params, d))!;
        const what = `${JSON.stringify(norm)} graded=${graded}`;
        assertAllClose(
          gpuNorms.t2i!.bias,
          refNorms.t2i.bias,
          { atol: 2e-6, rtol: 1e-5 },
          `${what} t2i bias`,
        );
        assertAllClose(
          gpuNorms.i2t!.bias,
          refNorms.i2t.bias,
          { atol: 2e-6, rtol: 1e-5 },
          `${what} i2t bias`,
        );
        if (refNorms.t2i.active) {
          assertEquals(
            Array.from(gpuNorms.t2i!.active!),
            Array.from(refNorms.t2i.active),
            `${what} active`,
          );
        }
        for (
          const options of [{}, { imageChunk: 7, textChunk: 11 }, { imageChunk: 1, textChunk: 4 }]
        ) {
          const r = await retrievalRanks(input, { ...options, norm: gpuNorms });
          assertEquals(
            Array.from(r.t2i),
            Array.from(ref.ranks.t2i),
            `${what} t2i ${JSON.stringify(options)}`,
          );
          assertEquals(
            Array.from(r.i2t),
            Array.from(ref.ranks.i2t),
            `${what} i2t ${JSON.stringify(options)}`,
          );
        }
        // The normalisation changes the rankings (else this test would not test it).
        const changed = ref.ranks.t2i.some((v, p) => v !== raw.ranks.t2i[p]) ||
          ref.ranks.i2t.some((v, p) => v !== raw.ranks.i2t[p]);
        assertEquals(changed, true, `${what} changes some rank`);
        const m = retrievalMetrics(await retrievalRanks(input, { norm: gpuNorms }));
        assertAllClose(
          [m.rsum, m.t2i.MRR, m.i2t["NDCG@10"]],
          [
            ref.metrics.rsum,
            ref.metrics.t2i.MRR,
            ref.metrics.i2t["NDCG@10"],
          ],
          { atol: 1e-9 },
          `${what} metrics`,
        );
      }
    }
  },
);

gpuTest(
  "normalised ranks keep exact ties (pessimistic rule) and leave inactive queries raw",
  async () => {
    // Integer scores (exact in float32) and biases exactly representable: ties stay ties after the
    // subtraction, in the pair scores and the blocks alike.
    const [nt, ni, dim] = [40, 13, 4];
    const texts = ints(nt * dim, 11);
    const images = ints(ni * dim, 12);
    const { relation, textToImage } = randomRelation(nt, ni, 5);
    const u = rng(6);
    const norms = {
      t2i: {
        bias: Float64Array.from({ length: ni }, () => Math.floor(u() * 4) / 2),
        active: Uint8Array.from({ length: nt }, (_, t) => t % 3 === 0 ? 0 : 1),
      },
      i2t: { bias: Float64Array.from({ length: nt }, () => Math.floor(u() * 4) / 2) },
    };
    const ref = normedRetrievalRef(texts, images, dim, relation, norms, false);
    const input = { texts, images, textDim: dim, imageDim: dim, textToImage, relevance: relation };
    for (const options of [{}, { imageChunk: 5, textChunk: 9 }, { imageChunk: 1, textChunk: 1 }]) {
      const r = await retrievalRanks(input, { ...options, normalize: false, norm: norms });
      assertEquals(Array.from(r.t2i), Array.from(ref.ranks.t2i), `t2i ${JSON.stringify(options)}`);
      assertEquals(Array.from(r.i2t), Array.from(ref.ranks.i2t), `i2t ${JSON.stringify(options)}`);
    }
    // A constant bias changes nothing (the tie rule included); inactive queries keep raw ranks.
    const raw = await retrievalRanks(input, { normalize: false });
    const constant = await retrievalRanks(input, {
      normalize: false,
      norm: {
        t2i: { bias: new Float64Array(ni).fill(0.5) },
        i2t: { bias: new Float64Array(nt).fill(-2) },
      },
    });
    assertEquals([Array.from(constant.t2i), Array.from(constant.i2t)], [
      Array.from(raw.t2i),
      Array.from(raw.i2t),
    ]);
    const off = await retrievalRanks(input, {
      normalize: false,
      norm: { t2i: { bias: norms.t2i.bias, active: new Uint8Array(nt) } },
    });
    assertEquals(Array.from(off.t2i), Array.from(raw.t2i), "no active query: raw ranks");
  },
);

gpuTest("bad normalisation input is refused with the field named", async () => {
  const d = data(6, 3, 4, 1, false);
  const input = {
    texts: d.texts,
    images: d.images,
    textDim: 4,
    imageDim: 4,
    textToImage: d.textToImage,
  };
  await assertRejects(
    () => retrievalRanks(input, { norm: { t2i: { bias: new Float32Array(2) } } }),
    /norm\.t2i\.bias has 2 values, one per gallery item \(3 images\)/,
  );
  await assertRejects(
    () => retrievalRanks(input, { norm: { i2t: { bias: Float64Array.of(0, 0, NaN, 0, 0, 0) } } }),
    /norm\.i2t\.bias\[2\] = NaN is not finite/,
  );
  await assertRejects(
    () => retrievalRanks(input, { norm: { i2t: { bias: new Float32Array(6), active: [1] } } }),
    /norm\.i2t\.active has 1 values, one per query \(3 images\)/,
  );
  await assertRejects(
    () => bankTopK(d.texts, d.images, 7, { dim: 4 }),
    new RegExp(`k = 7 must be an integer in 1\\.\\.6 \\(bank rows, at most ${MAX_BANK_TOPK}\\)`),
  );
  await assertRejects(
    () => bankLogSumExp(d.texts, d.images, 0, { dim: 4 }),
    /beta must be a positive number/,
  );
  await assertRejects(
    () => bankLogSumExp(new Float32Array(0), d.images, 1, { dim: 4 }),
    /the bank is empty/,
  );
});

Deno.test("normParams: defaults, overrides, and bad keys or values named", () => {
  assertEquals(normParams("invsoftmax"), { beta: 20, k: 1 });
  assertEquals(normParams("nnn", { alpha: "0.5", k: "8" }), { alpha: 0.5, k: 8 });
  assertEquals(normParams("dbnorm").beta1, 1 / 1.99);
  const bad = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      if (re.test((e as Error).message)) return;
      throw e;
    }
    throw new Error(`no error matching ${re}`);
  };
  bad(
    () => normParams("nnn", { beta: 1 }),
    /nnn has no parameter 'beta' \(its parameters: alpha, k\)/,
  );
  bad(() => normParams("nnn", { k: "2.5" }), /nnn k must be an integer ≥ 1, got "2.5"/);
  bad(() => normParams("invsoftmax", { beta: "-1" }), /invsoftmax beta must be a positive number/);
  bad(() => normParams("nnn", { alpha: "x" }), /nnn alpha must be a number ≥ 0/);
  // The tuning grids start with the defaults.
  for (const m of ["invsoftmax", "dbnorm", "nnn"] as const) {
    assertEquals(normGrid(m)[0], normParams(m), `${m} grid starts at the defaults`);
  }
});

gpuTest("the statistics cache reuses one top-k sweep for smaller k", async () => {
  const d = data(30, 12, 8, 4, false);
  const cache = new NormStatsCache();
  const a = await bankNorms("nnn", { alpha: 1, k: 8 }, d, cache);
  const b = await bankNorms("nnn", { alpha: 1, k: 4 }, d, cache);
  const fresh = await bankNorms("nnn", { alpha: 1, k: 4 }, d);
  assertAllClose(b!.t2i!.bias, fresh!.t2i!.bias, { atol: 1e-7 }, "cached k=4 equals a fresh k=4");
  assertEquals(a!.t2i!.bias.length, 12);
});
