// Ranking losses (kernels/losses.wgsl, src/losses/*.ts) against their float64 CPU references
// (src/reference/losses.ts), allRank's published values, independent formulas, and finite
// differences of the references.

import { assertAllClose, assertEquals, assertOk, gpuTest, gradCheck } from "./util.ts";
import {
  caseName,
  CASES,
  flat,
  type LossCase,
  randomLists,
  readAll,
  toRows,
} from "./losses_fixtures.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { getLoss, type LossOptions, rankingLoss, rankingLossTensor } from "../src/losses/mod.ts";
import { labelOrderRef, tieSlotRef } from "../src/reference/losses.ts";

const reference = (c: LossCase, scores: number[][], labels: number[][]) =>
  getLoss(c.name).reference(scores, labels, c.options as LossOptions);

// allRank's tests: tests/test_lambdaloss.py, test_approxndcg.py, tests/losses/test_listmle.py.
const PUBLISHED: { case: LossCase; scores: number[][]; labels: number[][]; value: number }[] = [
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
  {
    case: { name: "approxndcg", options: { alpha: 1 } },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[0.5, 0.3, 0.5]],
    value: -0.8499219417,
  },
  {
    case: { name: "listmle", options: {} },
    scores: [[0.5, 0.3, 0.5]],
    labels: [[1, 0, -1]],
    value: 0.5981389284,
  },
];

gpuTest("allRank's published values hold on the GPU and in the CPU reference", async () => {
  for (const p of PUBLISHED) {
    const what = caseName(p.case);
    const tol = { atol: 0, rtol: 1e-5 };
    assertAllClose([reference(p.case, p.scores, p.labels)], [p.value], tol, `${what} CPU`);
    const gpu = await rankingLoss(p.case.name, p.scores, p.labels, p.case.options);
    assertAllClose([gpu], [p.value], tol, `${what} GPU`);
    // allRank's "ignores padded" variants: a padded item with score 1.0 changes nothing
    if (p.case.name !== "listmle") {
      const padded = await rankingLoss(
        p.case.name,
        [[...p.scores[0], 1.0]],
        [[...p.labels[0], -1]],
        p.case.options,
      );
      assertAllClose([padded], [p.value], tol, `${what} GPU, padded`);
    }
  }
});

// Shapes: 1x1, lists not a multiple of the workgroup (64), items straddling workgroups, more lists
// than a workgroup, and a long list.
const SHAPES: [number, number][] = [[1, 1], [1, 5], [3, 7], [70, 3], [2, 65], [5, 64], [2, 300]];

gpuTest(
  "every loss matches its CPU reference on random lists (graded, binary, padded)",
  async () => {
    let seed = 1;
    for (const [lists, n] of SHAPES) {
      for (const kind of [{ graded: true }, { padding: 0.25 }, { graded: true, padding: 0.4 }]) {
        const { scores, labels } = randomLists(lists, n, seed++, kind);
        const expected = CASES.map((c) => reference(c, scores, labels));
        const values = await scope(() => {
          const s = Tensor.fromRows(scores);
          const y = Tensor.fromRows(labels);
          const losses = CASES.map((c) => rankingLossTensor(c.name, s, y, c.options));
          return readAll(losses);
        });
        CASES.forEach((c, i) => {
          const what = `${caseName(c)} ${lists}x${n} ${JSON.stringify(kind)}`;
          assertAllClose([values[i]], [expected[i]], { atol: 2e-5, rtol: 2e-4 }, what);
        });
      }
    }
  },
);

gpuTest("losses match the CPU reference on a larger batch (16 x 300, graded, padded)", async () => {
  const { scores, labels } = randomLists(16, 300, 99, { graded: true, padding: 0.1 });
  const values = await scope(() => {
    const s = Tensor.fromRows(scores);
    const y = Tensor.fromRows(labels);
    return readAll(CASES.map((c) => rankingLossTensor(c.name, s, y, c.options)));
  });
  CASES.forEach((c, i) => {
    const expected = reference(c, scores, labels);
    assertAllClose([values[i]], [expected], { atol: 1e-4, rtol: 5e-4 }, caseName(c));
  });
});

async function checkGradient(c: LossCase, lists: number, n: number, seed: number, scale = 1) {
  const { scores, labels } = randomLists(lists, n, seed, { graded: true, padding: 0.2, scale });
  await gradCheck(
    [{ shape: [lists, n], data: flat(scores) }, {
      shape: [lists, n],
      data: flat(labels),
      grad: false,
    }],
    (s, y) => rankingLossTensor(c.name, s, y, c.options),
    (s, y) => [reference(c, toRows(s, n), toRows(y, n))],
    { maxChecks: 40, seed },
  );
}

for (const c of CASES) {
  gpuTest(`gradient of ${caseName(c)} matches finite differences`, async () => {
    await checkGradient(c, 3, 9, 11);
    await checkGradient(c, 2, 70, 12);
  });
}

gpuTest(
  "smoothap's gradient at its default temperature 0.01 matches finite differences",
  async () => {
    // scores within a few temperatures of each other, so the sigmoids are not saturated
    await checkGradient({ name: "smoothap", options: {} }, 3, 8, 21, 0.02);
  },
);

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
function ndcg(scores: number[], labels: number[]): number {
  const valid = labels.flatMap((y, i) => y >= 0 ? [i] : []);
  const byScore = [...valid].sort((a, b) => scores[b] - scores[a]);
  const dcg = byScore.reduce((a, i, r) => a + (2 ** labels[i] - 1) / Math.log2(r + 2), 0);
  const ideal = valid.map((i) => labels[i]).sort((a, b) => b - a)
    .reduce((a, y, r) => a + (2 ** y - 1) / Math.log2(r + 2), 0);
  return ideal > 0 ? dcg / ideal : 0;
}

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

gpuTest(
  "sharp approxndcg is -NDCG and sharp smoothap is 1 - AP (independent formulas)",
  async () => {
    // distinct scores at least 0.05 apart: alpha = 1e4 and temperature 1e-4 make the sigmoids steps
    const scores = [[0.9, 0.1, 0.5, -0.3, 0.35, 1.2], [0.0, 0.6, -0.6, 0.3, 0.15, 0.45]];
    const labels = [[2, 0, 1, 3, -1, 0], [0, 1, 0, 1, 1, -1]];
    const exactNdcg = (ndcg(scores[0], labels[0]) + ndcg(scores[1], labels[1])) / 2;
    const approx = await rankingLoss("approxndcg", scores, labels, { alpha: 1e4 });
    assertAllClose([approx], [-exactNdcg], { atol: 1e-6, rtol: 1e-5 }, "approxndcg vs NDCG");
    const ap = (averagePrecision(scores[0], labels[0]) + averagePrecision(scores[1], labels[1])) /
      2;
    const smooth = await rankingLoss("smoothap", scores, labels, { temperature: 1e-4 });
    assertAllClose([smooth], [1 - ap], { atol: 1e-6, rtol: 1e-5 }, "smoothap vs AP");
  },
);

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

Deno.test("the tie permutation is a permutation of every class size", () => {
  for (const m of [1, 2, 3, 7, 64, 255, 1000]) {
    for (const h of [0, 1, 0xdeadbeef, 123456789]) {
      const slots = new Set(Array.from({ length: m }, (_, k) => tieSlotRef(k, m, h)));
      assertEquals(slots.size, m);
      assertOk([...slots].every((v) => v >= 0 && v < m));
    }
  }
});

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
