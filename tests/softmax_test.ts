// The loss `softmax` (kernels/softmax.wgsl, src/losses/softmax.ts) against its float64 CPU twin
// (src/reference/softmax.ts): the suite every loss passes (tests/losses_fixtures.ts) and InfoNCE in closed form.

import { lossSuite } from "./losses_fixtures.ts";
import { assertAllClose, gpuTest } from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";

lossSuite("softmax");

gpuTest("softmax with one relevant item is InfoNCE: -log softmax(s)[positive]", async () => {
  const scores = [[2.0, -1.0, 0.5, 0.25], [0.1, 0.2, 0.3, 0.4]];
  const labels = [[0, 0, 1, 0], [1, 0, 0, 0]];
  const infoNce = scores.map((row, l) => {
    const pos = labels[l].indexOf(1);
    return -Math.log(Math.exp(row[pos]) / row.reduce((a, v) => a + Math.exp(v), 0));
  });
  const gpu = await rankingLoss("softmax", scores, labels);
  assertAllClose([gpu], [(infoNce[0] + infoNce[1]) / 2], { atol: 1e-6, rtol: 1e-6 }, "InfoNCE");
  // several relevant items: the target is uniform over them (binary labels)
  const multi = await rankingLoss("softmax", [[1, 2, 3]], [[1, 1, 0]]);
  const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  assertAllClose([multi], [0.5 * (lse - 1) + 0.5 * (lse - 2)], { rtol: 1e-6 }, "two positives");
});

/** Exact NDCG of one list (no cutoff), ties impossible in the data below. */
