// The loss `listmle` (kernels/listmle.wgsl, src/losses/listmle.ts) against its float64 CPU twin
// (src/reference/listmle.ts) and allRank's published value: the suite every loss passes (tests/losses_fixtures.ts), and its tie orders.

import { checkPublished, lossSuite, type Published } from "./losses_fixtures.ts";
import { assertAllClose, assertEquals, assertOk, gpuTest } from "./util.ts";
import { rankingLoss } from "../src/losses/mod.ts";
import { labelOrderRef } from "../src/reference/losses.ts";

lossSuite("listmle");

// allRank's tests/losses/test_listmle.py
const PUBLISHED: Published[] = [
  {
    case: { name: "listmle", options: {} },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[1, 0, -1]],
    value: 0.5981389284,
  },
];

gpuTest("allRank's published listmle values hold on the GPU and in the CPU twin", async () => {
  await checkPublished(PUBLISHED, false);
});

gpuTest("listmle ties: index order, a seeded order, and a fresh order per call", async () => {
  // labels [1, 1, 0]: items 0 and 1 tie
  const s = [0.2, 1.5, -0.4];
  const pl = (order: number[]) =>
    order.reduce((acc, i, r) => {
      const rest = order.slice(r).reduce((a, j) => a + Math.exp(s[j]), 0);
      return acc + Math.log(rest) - s[i];
    }, 0);
  const byIndex = await rankingLoss("listmle", [s], [[1, 1, 0]], { ties: "index" });
  assertAllClose([byIndex], [pl([0, 1, 2])], { atol: 1e-5, rtol: 1e-5 }, "index order");
  assertOk(Math.abs(pl([1, 0, 2]) - pl([0, 1, 2])) > 0.1, "the other tie order differs");
  // a fixed seed gives one of the two orders, always the same, as the CPU twin computes it
  const seeded = await rankingLoss("listmle", [s], [[1, 1, 0]], { seed: 7 });
  const order = labelOrderRef([1, 1, 0], 7, 0);
  assertAllClose([seeded], [pl(order)], { atol: 1e-5, rtol: 1e-5 }, "seeded order");
  assertEquals(await rankingLoss("listmle", [s], [[1, 1, 0]], { seed: 7 }), seeded);
  // the default draws a fresh order per call: over 40 calls both orders appear
  const seen = new Set<number>();
  for (let i = 0; i < 40; i++) {
    seen.add(Math.round((await rankingLoss("listmle", [s], [[1, 1, 0]])) * 1e4));
  }
  assertEquals(seen.size, 2);
});
