// The loss `lambdaloss` (kernels/lambdaloss.wgsl, src/losses/lambdaloss.ts) against its float64 CPU twin
// (src/reference/lambdaloss.ts) and allRank's published values: the suite every loss passes (tests/losses_fixtures.ts).

import { checkPublished, lossSuite, type Published } from "./losses_fixtures.ts";
import { gpuTest } from "./util.ts";

lossSuite("lambdaloss");

// allRank's tests/test_lambdaloss.py
const PUBLISHED: Published[] = [
  {
    case: { name: "lambdaloss", options: { scheme: "ndcgLoss1", log: "binary" } },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[0.5, 0.3, 0.5]],
    value: 2.9272110462,
  },
  {
    case: { name: "lambdaloss", options: { scheme: "ndcgLoss2PP", log: "binary" } },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[0.5, 0.3, 0.5]],
    value: 1.1244146823,
  },
  {
    case: { name: "lambdaloss", options: { scheme: "rankNet", log: "natural" } },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[0.5, 0.3, 0.5]],
    value: 1.1962778568,
  },
];

gpuTest("allRank's published lambdaloss values hold on the GPU and in the CPU twin", async () => {
  await checkPublished(PUBLISHED);
});
