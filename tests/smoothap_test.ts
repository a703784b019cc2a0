// The loss `smoothap` (kernels/smoothap.wgsl, src/losses/smoothap.ts) against its float64 CPU twin
// (src/reference/smoothap.ts): the suite every loss passes (tests/losses_fixtures.ts), its gradient at the default temperature, and its sharp limit, 1 − AP.

import { checkGradient, lossSuite, SHARP } from "./losses_fixtures.ts";
import { assertAllClose, gpuTest } from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";

lossSuite("smoothap");

gpuTest(
  "smoothap's gradient at its default temperature 0.01 matches finite differences",
  async () => {
    // scores within a few temperatures of each other, so the sigmoids are not saturated
    await checkGradient({ name: "smoothap", options: {} }, 3, 8, 21, 0.02);
  },
);

/** Exact average precision of one list (relevant: label > 0). */
function averagePrecision(scores: number[], labels: number[]): number {
  const valid = labels.flatMap((y, i) => y >= 0 ? [i] : []);
  const byScore = [...valid].sort((a, b) => scores[b] - scores[a]);
  let hits = 0;
  let sum = 0;
  byScore.forEach((i, r) => {
    if (labels[i] > 0) sum += ++hits / (r + 1);
  });
  return hits ? sum / hits : 0;
}

gpuTest("sharp smoothap is 1 - AP (an independent formula)", async () => {
  // distinct scores at least 0.05 apart: temperature 1e-4 makes the sigmoids steps
  const ap = (averagePrecision(SHARP.scores[0], SHARP.labels[0]) +
    averagePrecision(SHARP.scores[1], SHARP.labels[1])) / 2;
  const smooth = await rankingLoss("smoothap", SHARP.scores, SHARP.labels, { temperature: 1e-4 });
  assertAllClose([smooth], [1 - ap], { atol: 1e-6, rtol: 1e-5 }, "smoothap vs AP");
});
