import { assertAllClose, assertEquals, assertRejects, gpuTest, randn, rng } from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { topK } from "../src/ops/topk.ts";
import { topKRef } from "../src/reference/topk.ts";

/** Seeded integers in [lo, hi] as float32: exact dot products, many ties. */
function ints(n: number, seed: number, lo = -2, hi = 2): Float32Array<ArrayBuffer> {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(u() * (hi - lo + 1));
  return out;
}

gpuTest(
  "integer data (exact scores, ties → lower index first): indices equal the reference",
  async () => {
    // [queries, gallery, dim, k]: 1×1, k = gallery, sizes off the kernel tiles, k > a chunk.
    for (
      const [nq, ng, dim, k] of [[1, 1, 1, 1], [5, 9, 3, 9], [70, 300, 6, 10], [600, 40, 4, 25]]
    ) {
      const q = ints(nq * dim, nq + dim);
      const g = ints(ng * dim, ng * 3 + dim);
      const ref = topKRef(q, g, dim, k, false);
      for (
        const options of [{}, { queryChunk: 1, galleryChunk: 1 }, {
          queryChunk: 17,
          galleryChunk: 7,
        }]
      ) {
        if (nq * ng > 5000 && options.queryChunk === 1) continue; // keep the test fast
        const what = `${nq}x${ng}x${dim} k=${k} ${JSON.stringify(options)}`;
        const r = await topK(q, g, k, { dim, normalize: false, ...options });
        assertEquals(Array.from(r.indices), Array.from(ref.indices), `${what} indices`);
        assertAllClose(r.scores, ref.scores, { atol: 0 }, `${what} scores`);
      }
    }
  },
);

gpuTest("cosine top-k of random data matches the float64 reference", async () => {
  const [nq, ng, dim, k] = [33, 1000, 64, 10];
  const q = Float32Array.from(randn(nq * dim, 1));
  const g = Float32Array.from(randn(ng * dim, 2));
  const ref = topKRef(q, g, dim, k);
  const qt = Tensor.from(q, [nq, dim]);
  const gt = Tensor.from(g, [ng, dim]);
  for (
    const [what, r] of [
      ["host", await topK(q, g, k, { dim })],
      ["tensors, chunked", await topK(qt, gt, k, { queryChunk: 8, galleryChunk: 300 })],
    ] as const
  ) {
    assertAllClose(r.scores, ref.scores, { atol: 1e-6 }, `${what} scores`);
    // Scores are well separated here (random 64-d), so the order is unambiguous.
    assertEquals(Array.from(r.indices), Array.from(ref.indices), `${what} indices`);
  }
  qt.dispose();
  gt.dispose();
});

gpuTest("constant scores: the k lowest indices, in order", async () => {
  const g = new Float32Array(20 * 3).fill(1);
  const r = await topK(new Float32Array([1, 2, 3, 0, 0, 0]), g, 4, { dim: 3, galleryChunk: 3 });
  assertEquals(Array.from(r.indices), [0, 1, 2, 3, 0, 1, 2, 3]);
  assertAllClose(r.scores.subarray(4), [0, 0, 0, 0], { atol: 0 }, "a zero query scores 0");
});

gpuTest("bad arguments are rejected naming the field", async () => {
  const g = new Float32Array(6);
  await assertRejects(
    () => topK(new Float32Array(2), g, 4, { dim: 2 }),
    /k = 4 must be an integer in 1\.\.3/,
  );
  await assertRejects(() => topK(new Float32Array(2), g, 0, { dim: 2 }), /k = 0/);
  await assertRejects(() => topK(new Float32Array(3), g, 1, { dim: 2 }), /queries has 3 values/);
  await assertRejects(
    () => topK(new Float32Array(2), new Float32Array(0), 1, { dim: 2 }),
    /the gallery is empty/,
  );
  await assertRejects(
    () => topK(new Float32Array(2), g, 1, { dim: 2, queryChunk: -1 }),
    /queryChunk must be a positive integer, got -1/,
  );
  const r = await topK(new Float32Array(0), g, 2, { dim: 2 });
  assertEquals([r.numQueries, r.indices.length], [0, 0]);
});
