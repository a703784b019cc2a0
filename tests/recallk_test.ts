// The loss `recallk` (kernels/recallk.wgsl, src/losses/recallk.ts) against its float64 CPU twin
// (src/reference/recallk.ts): the suite every loss passes (tests/losses_fixtures.ts), its gradient
// at the paper's temperatures, its sharp limit (exact Recall@k), one-item lists, lists without a
// relevant item, and option errors.

import { checkGradient, lossSuite, SHARP } from "./losses_fixtures.ts";
import { assertAllClose, assertEquals, assertOk, assertRejects, gpuTest } from "./util.ts";
import { rankingLoss, rankingLossWithGrad } from "../src/losses/mod.ts";
import { recallKRef } from "../src/reference/recallk.ts";

lossSuite("recallk");

gpuTest("recallk's gradient at the paper's tau1 0.01 matches finite differences", async () => {
  // scores within a few temperatures of each other, so the rank sigmoids are not saturated
  await checkGradient({ name: "recallk", options: {} }, 3, 8, 21, 0.02);
  await checkGradient({ name: "recallk", options: { ks: "1,2" } }, 2, 6, 22, 0.02);
});

/**
 * Recall@k of one list in the surrogate's sharp limit (τ1, τ2 → 0): σ((k − r)/τ2) is 1 for an
 * integer rank r < k, 1/2 at r = k and 0 beyond; normalised by min(k, #relevant).
 */
function sharpRecallAt(scores: number[], labels: number[], k: number): number {
  const valid = labels.flatMap((y, i) => y >= 0 ? [i] : []);
  const byScore = [...valid].sort((a, b) => scores[b] - scores[a]);
  const rel = valid.filter((i) => labels[i] > 0).length;
  const kk = Math.min(k, valid.length);
  let hits = 0;
  byScore.forEach((i, r) => {
    if (labels[i] > 0) hits += r + 1 < kk ? 1 : r + 1 === kk ? 0.5 : 0;
  });
  return hits / Math.min(kk, rel);
}

gpuTest("sharp recallk is 1 − mean of the sharp Recall@k (an independent formula)", async () => {
  // distinct scores ≥ 0.05 apart: tau1 1e-4 makes the rank sigmoids steps, tau2 1e-3 the recall's
  for (const ks of [[1], [2], [3], [1, 2, 4, 8, 16]]) {
    const expected = 1 - ks.reduce(
          (a, k) =>
            a + (sharpRecallAt(SHARP.scores[0], SHARP.labels[0], k) +
                sharpRecallAt(SHARP.scores[1], SHARP.labels[1], k)) / 2,
          0,
        ) / ks.length;
    const loss = await rankingLoss("recallk", SHARP.scores, SHARP.labels, {
      ks: ks.join(","),
      tau1: 1e-4,
      tau2: 1e-3,
    });
    assertAllClose([loss], [expected], { atol: 1e-5, rtol: 1e-5 }, `sharp recallk K=${ks}`);
  }
});

gpuTest("recallk on one-item lists and lists without a relevant item", async () => {
  // a single relevant item has rank 1: RS@k = σ((1 − 1)/τ2) = 0.5 for every k′ = 1
  const one = await rankingLossWithGrad("recallk", [[0.3], [0.7]], [[1], [2]]);
  assertAllClose([one.loss], [0.5], { atol: 1e-6, rtol: 1e-6 }, "one-item lists");
  assertOk(one.grad.flat().every((v) => v === 0), "one-item lists have a gradient");
  // lists without a relevant item are skipped: the loss is that of the other list alone
  const scores = [[0.1, 0.4, -0.2], [0.5, 0.2, 0.3]];
  const labels = [[0, 0, 0], [1, 0, 0]];
  const opts = { ks: [1, 2, 4, 8, 16], tau1: 0.01, tau2: 1 };
  const mixed = await rankingLossWithGrad("recallk", scores, labels);
  assertAllClose([mixed.loss], [recallKRef([scores[1]], [labels[1]], opts)], {
    atol: 1e-6,
    rtol: 1e-5,
  }, "skipped list");
  assertOk(mixed.grad[0].every((v) => v === 0), "a list without a relevant item has a gradient");
  const none = await rankingLossWithGrad("recallk", [scores[0]], [labels[0]]);
  assertEquals(Math.abs(none.loss), 0, "no relevant item anywhere");
});

gpuTest("recallk option errors name the option", async () => {
  const s = [[0.1, 0.2]];
  const y = [[1, 0]];
  for (
    const [options, re] of [
      [{ ks: "" }, /'ks' must be 1 to 16/],
      [{ ks: "1,0" }, /'ks' must be/],
      [{ ks: "1.5" }, /'ks' must be/],
      [{ ks: Array.from({ length: 17 }, (_, i) => i + 1).join(",") }, /'ks' must be 1 to 16/],
      [{ tau1: 0 }, /'tau1' must be > 0/],
      [{ tau2: -1 }, /'tau2' must be > 0/],
    ] as const
  ) {
    await assertRejects(() => rankingLoss("recallk", s, y, options), re);
  }
});
