// The loss `approxndcg` (kernels/approxndcg.wgsl, src/losses/approxndcg.ts) against its float64 CPU twin
// (src/reference/approxndcg.ts) and allRank's published value: the suite every loss passes (tests/losses_fixtures.ts), and its sharp limit, NDCG.

import { checkPublished, lossSuite, type Published, SHARP } from "./losses_fixtures.ts";
import { assertAllClose, gpuTest } from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";

lossSuite("approxndcg");

// allRank's tests/test_approxndcg.py
const PUBLISHED: Published[] = [
  {
    case: { name: "approxndcg", options: { alpha: 1 } },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[0.5, 0.3, 0.5]],
    value: -0.8499219417,
  },
];

gpuTest("allRank's published approxndcg values hold on the GPU and in the CPU twin", async () => {
  await checkPublished(PUBLISHED);
});

function ndcg(scores: number[], labels: number[]): number {
  const valid = labels.flatMap((y, i) => y >= 0 ? [i] : []);
  const byScore = [...valid].sort((a, b) => scores[b] - scores[a]);
  const dcg = byScore.reduce((a, i, r) => a + (2 ** labels[i] - 1) / Math.log2(r + 2), 0);
  const ideal = valid.map((i) => labels[i]).sort((a, b) => b - a)
    .reduce((a, y, r) => a + (2 ** y - 1) / Math.log2(r + 2), 0);
  return ideal > 0 ? dcg / ideal : 0;
}

gpuTest("sharp approxndcg is -NDCG (an independent formula)", async () => {
  // distinct scores at least 0.05 apart: alpha = 1e4 makes the sigmoids steps
  const exactNdcg =
    (ndcg(SHARP.scores[0], SHARP.labels[0]) + ndcg(SHARP.scores[1], SHARP.labels[1])) / 2;
  const approx = await rankingLoss("approxndcg", SHARP.scores, SHARP.labels, { alpha: 1e4 });
  assertAllClose([approx], [-exactNdcg], { atol: 1e-6, rtol: 1e-5 }, "approxndcg vs NDCG");
});
