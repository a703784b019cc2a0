// The loss `hinge` (kernels/hinge.wgsl, src/losses/hinge.ts) against its float64 CPU twin
// (src/reference/hinge.ts): the suite every loss passes (tests/losses_fixtures.ts) and a hand-computed list.

import { lossSuite } from "./losses_fixtures.ts";
import { assertAllClose, gpuTest } from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";

lossSuite("hinge");

gpuTest("hinge: sum over negatives and max violation on a hand-computed list", async () => {
  // positives 0 (s = 1.0) and 3 (s = 0.1); negatives 1 (0.9), 2 (-1.0); margin 0.2
  const scores = [[1.0, 0.9, -1.0, 0.1]];
  const labels = [[1, 0, 0, 2]];
  // sum: pos 0: max(0, .2 - 1 + .9) + 0 = 0.1; pos 3: max(0, .2 - .1 + .9) + 0 = 1.0
  const sum = await rankingLoss("hinge", scores, labels);
  assertAllClose([sum], [1.1], { atol: 1e-6 }, "sum of violations");
  const hard = await rankingLoss("hinge", scores, labels, { maxViolation: true, margin: 1 });
  // pos 0: max(0, 1 - 1 + .9) = 0.9; pos 3: max(0, 1 - .1 + .9) = 1.8
  assertAllClose([hard], [2.7], { atol: 1e-6 }, "hardest negative");
});
