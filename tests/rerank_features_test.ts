// The reranker's input features (kernels/rerank_features.wgsl, src/ops/rerank_features.ts)
// against their CPU twin (src/reference/rerank_features.ts), and their refusals.

import { assertAllClose, assertEquals, assertThrows, gpuTest, randn, rng } from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { rerankFeatureDim, rerankFeatures } from "../src/ops/rerank_features.ts";
import { rerankFeaturesRef } from "../src/reference/rerank_features.ts";

gpuTest("rerankFeatures matches the CPU reference", async () => {
  const [queries, gallery, e, k] = [5, 11, 6, 4];
  const q = randn(queries * e, 1);
  const g = randn(gallery * e, 2);
  const u = rng(3);
  const topk = Array.from({ length: queries * k }, () => Math.floor(u() * gallery));
  const scores = randn(queries * k, 4);
  const ref = rerankFeaturesRef(q, g, topk, scores, e, k);
  assertEquals(rerankFeatureDim(e), 3 * e + 2);
  for (const onGpu of [false, true]) {
    const out = scope(() => {
      const s = onGpu ? Tensor.from(scores) : scores;
      return rerankFeatures(Tensor.from(q, [queries, e]), Tensor.from(g, [gallery, e]), topk, s, k);
    });
    assertEquals(out.shape, [queries * k, 3 * e + 2]);
    assertAllClose(
      await out.read(),
      ref,
      { atol: 1e-6, rtol: 1e-6 },
      `features (gpu scores ${onGpu})`,
    );
    out.dispose();
  }
  // The rank feature of slot j is (j + 1) / k; row 6 is query 1's third candidate.
  assertAllClose([ref[6 * (3 * e + 2) + 3 * e + 1]], [3 / 4], {}, "rank feature");
});

gpuTest("rerankFeatures rejects bad indices and lengths with clear errors", () => {
  scope(() => {
    const q = Tensor.zeros([2, 3]);
    const g = Tensor.zeros([4, 3]);
    assertThrows(
      () => rerankFeatures(q, g, [0, 1, 2, 4], [0, 0, 0, 0], 2),
      /topk\[3\] = 4 is outside 0..3/,
    );
    assertThrows(
      () => rerankFeatures(q, g, [0, 1, 2], [0, 0, 0], 2),
      /topk has 3 indices, expected queries·k = 2·2/,
    );
    assertThrows(() => rerankFeatures(q, g, [0, 1, 2, 3], [0, 0], 2), /scores has 2 values/);
    assertThrows(
      () => rerankFeatures(q, Tensor.zeros([4, 5]), [0, 1, 2, 3], [0, 0, 0, 0], 2),
      /differ in embedding width/,
    );
    assertThrows(() => rerankFeatures(q, g, [], [], 0), /k must be a positive integer/);
  });
});
