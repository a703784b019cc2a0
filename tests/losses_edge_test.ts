// Ranking losses at the edges: padding invariance, extreme scores, ties, all-zero labels,
// all-padding lists, low temperature, input validation, and the tensor path training uses
// (square and rectangular similarity matrices, both directions, no readbacks).

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertRejects,
  assertThrows,
  gpuTest,
  gradCheck,
} from "./util.ts";
import { caseName, CASES, flat, type LossCase, randomLists, toRows } from "./losses_fixtures.ts";
import { rt } from "../src/gpu/runtime.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { add } from "../src/ops/elementwise.ts";
import { transpose } from "../src/ops/transpose.ts";
import {
  getLoss,
  type LossOptions,
  rankingLoss,
  rankingLossTensor,
  rankingLossWithGrad,
} from "../src/losses/mod.ts";

const reference = (c: LossCase, scores: number[][], labels: number[][]) =>
  getLoss(c.name).reference(scores, labels, c.options as LossOptions);

function assertAllFinite(grad: number[][], what: string): void {
  grad.forEach((row, r) => assertFinite(row, `${what} grad row ${r}`));
}

gpuTest("padding anywhere leaves every loss and its gradient on real items unchanged", async () => {
  const { scores, labels } = randomLists(3, 6, 5, { graded: true });
  labels.forEach((row) => row[0] = Math.max(row[0], 1)); // a relevant item in every list
  labels.forEach((row) => row[1] = 0); // and a non-relevant one
  // each list gets 3 padded items at its own positions, with scores that would matter if used
  const padAt = [[0, 4, 8], [6, 7, 8], [2, 3, 5]];
  const padScores = [1e30, -5, 0.7];
  const padded = scores.map((row, l) => {
    const s: number[] = [];
    const y: number[] = [];
    const real: number[] = [];
    let k = 0;
    for (let c = 0; c < 9; c++) {
      if (padAt[l].includes(c)) {
        s.push(padScores[padAt[l].indexOf(c)]);
        y.push(-1);
      } else {
        real.push(c);
        s.push(row[k]);
        y.push(labels[l][k++]);
      }
    }
    return { s, y, real };
  });
  for (const c of CASES) {
    const what = caseName(c);
    const base = await rankingLossWithGrad(c.name, scores, labels, c.options);
    const pad = await rankingLossWithGrad(
      c.name,
      padded.map((p) => p.s),
      padded.map((p) => p.y),
      c.options,
    );
    assertAllClose([pad.loss], [base.loss], { atol: 1e-6, rtol: 1e-5 }, `${what} loss`);
    padded.forEach((p, l) => {
      const onReal = p.real.map((c) => pad.grad[l][c]);
      assertAllClose(onReal, base.grad[l], { atol: 1e-6, rtol: 1e-4 }, `${what} grad list ${l}`);
      for (const c of padAt[l]) assertEquals(pad.grad[l][c], 0, `${what} grad at padding`);
    });
  }
});

gpuTest(
  "extreme scores (±1e30) and ties give finite losses, gradients and the reference",
  async () => {
    const scores = [
      [1e30, -1e30, 0.5, 0.1, -1e30],
      [-1e30, -1e30, 1e30, 2, 1e30],
      [1e30, 1e30, 1e30, -1e30, -1e30],
      [0.25, 0.25, 0.25, 0.25, 0.25],
    ];
    const labels = [[1, 0, 2, 0, -1], [1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [2, 0, 1, 0, -1]];
    for (const c of CASES) {
      const what = caseName(c);
      const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
      assertFinite([loss], `${what} loss`);
      assertAllFinite(grad, what);
      const expected = reference(c, scores, labels);
      assertAllClose([loss], [expected], { atol: 1e-5, rtol: 1e-4 }, `${what} vs reference`);
    }
  },
);

gpuTest(
  "low temperature / sharp sigmoids (smoothap 1e-4, approxndcg alpha 1e4) stay finite",
  async () => {
    const { scores, labels } = randomLists(4, 12, 8, { graded: true, padding: 0.2 });
    scores[1] = scores[1].map(() => 0.5); // a list of ties
    for (
      const c of [
        { name: "smoothap", options: { temperature: 1e-4 } },
        { name: "approxndcg", options: { alpha: 1e4 } },
        { name: "lambdaloss", options: { sigma: 1e4 } },
      ]
    ) {
      const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
      assertFinite([loss], `${caseName(c)} loss`);
      assertAllFinite(grad, caseName(c));
      const expected = reference(c, scores, labels);
      assertAllClose([loss], [expected], { atol: 1e-5, rtol: 1e-4 }, `${caseName(c)} vs reference`);
    }
  },
);

const NDCG_TYPE = CASES.filter((c) =>
  c.name === "approxndcg" || (c.name === "lambdaloss" && c.options.scheme !== "rankNet")
);

gpuTest(
  "all-zero labels: NDCG-type losses give 0 (as allRank), the others the reference",
  async () => {
    const { scores } = randomLists(3, 7, 17);
    const labels = scores.map((row) => row.map(() => 0));
    labels[2][3] = -1;
    for (const c of CASES) {
      const what = caseName(c);
      const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
      assertAllFinite(grad, what);
      if (NDCG_TYPE.includes(c)) {
        assertEquals(Math.abs(loss), 0, `${what} loss`);
        assertOk(grad.flat().every((v) => v === 0), `${what}: nonzero gradient`);
      }
      assertAllClose([loss], [reference(c, scores, labels)], { atol: 1e-6, rtol: 1e-4 }, what);
    }
  },
);

gpuTest("all-padding lists contribute 0 and get a zero gradient", async () => {
  const { scores, labels } = randomLists(3, 6, 23, { graded: true });
  labels[0][0] = 2;
  labels[1] = labels[1].map(() => -1);
  for (const c of CASES) {
    const what = caseName(c);
    const { loss, grad } = await rankingLossWithGrad(c.name, scores, labels, c.options);
    assertAllFinite(grad, what);
    assertOk(grad[1].every((v) => v === 0), `${what}: padded list has a gradient`);
    assertAllClose([loss], [reference(c, scores, labels)], { atol: 1e-6, rtol: 1e-4 }, what);
    const none = await rankingLossWithGrad(
      c.name,
      [[1, 2], [3, 4]],
      [[-1, -1], [-1, -1]],
      c.options,
    );
    assertEquals(Math.abs(none.loss), 0, `${what}: batch of padding`);
    assertOk(none.grad.flat().every((v) => v === 0), `${what}: batch of padding has a gradient`);
  }
});

gpuTest("bad input is refused with an error naming the loss, option, row or column", async () => {
  const s = [[0.5, 0.3, 0.5], [0.1, 0.2, 0.3]];
  const y = [[1, 0, 0], [0, 1, -1]];
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => rankingLoss("nope", s, y), /unknown loss 'nope'; known losses: softmax, hinge, cmpm/],
    [() => rankingLoss("softmax", s, y, { margin: 1 }), /'softmax': unknown option 'margin'/],
    [() => rankingLoss("hinge", s, y, { marg: 1 }), /unknown option 'marg'; options: margin/],
    [() => rankingLoss("hinge", s, y, { margin: "1" }), /option 'margin' must be a number/],
    [
      () => rankingLoss("lambdaloss", s, y, { scheme: "ndcgLoss3" }),
      /option 'scheme' must be one of ndcgLoss1, ndcgLoss2, lambdaRank, ndcgLoss2PP, rankNet/,
    ],
    [() => rankingLoss("lambdaloss", s, y, { k: 2.5 }), /'k' must be an integer ≥ 0, got 2.5/],
    [() => rankingLoss("lambdaloss", s, y, { k: -1 }), /'k' must be an integer ≥ 0, got -1/],
    [() => rankingLoss("smoothap", s, y, { temperature: 0 }), /'temperature' must be > 0/],
    [() => rankingLoss("approxndcg", s, y, { alpha: -1 }), /'alpha' must be > 0, got -1/],
    [() => rankingLoss("lambdaloss", s, y, { sigma: NaN }), /'sigma' must be finite/],
    [() => rankingLoss("softmax", [[1, 2, 3], [1, 2]], y), /scores row 1 has 2 items, row 0 has 3/],
    [() => rankingLoss("softmax", [[1, 2, 3], [1, 2, NaN]], y), /scores\[1\]\[2\] is NaN/],
    [() => rankingLoss("softmax", [[1, Infinity, 3]], [[1, 0, 0]]), /scores\[0\]\[1\] is Infinity/],
    [
      () => rankingLoss("softmax", [[1, 2, -1e39]], [[1, 0, 0]]),
      /scores\[0\]\[2\] = -1e\+39 is outside the float32 range/,
    ],
    [
      () => rankingLoss("softmax", s, [[1, -2, 0], [0, 1, -1]]),
      /labels\[0\]\[1\] is -2; labels must be finite and ≥ 0/,
    ],
    [() => rankingLoss("softmax", s, [[1, 0, 0], [NaN, 1, -1]]), /labels\[1\]\[0\] is NaN/],
    [() => rankingLoss("softmax", s, [[1, 0, 0]]), /scores have 2 rows, labels have 1/],
    [
      () => rankingLoss("softmax", s, [[1, 0], [0, 1, -1]]),
      /labels row 0 has 2 items, scores row 0 has 3/,
    ],
    [() => rankingLoss("softmax", [], []), /empty input, scores have no rows/],
    [() => rankingLoss("softmax", [[]], [[]]), /empty input, scores row 0 has no items/],
    [
      () => rankingLossWithGrad("listmle", [[1, 2], [3]], [[1, 0], [1]]),
      /rankingLossWithGrad\('listmle'\): scores row 1 has 1 items/,
    ],
  ];
  for (const [fn, pattern] of cases) await assertRejects(fn, pattern);
  // ±1e30 are valid scores
  assertFinite([await rankingLoss("softmax", [[1e30, -1e30, 0]], [[1, 0, -1]])], "±1e30");
});

gpuTest("the tensor form checks shapes (and names, options) without reading back", () => {
  scope(() => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([3, 2]);
    const v = Tensor.zeros([6]);
    const e = Tensor.zeros([0, 3]);
    assertThrows(() => rankingLossTensor("softmax", v, v), /expected a 2-D tensor/);
    assertThrows(() => rankingLossTensor("softmax", a, b), /shapes differ/);
    assertThrows(() => rankingLossTensor("softmax", e, e), /empty input/);
    assertThrows(() => rankingLossTensor("nope", a, a), /unknown loss 'nope'/);
    assertThrows(() => rankingLossTensor("hinge", a, a, { x: 1 }), /unknown option 'x'/);
  });
});

// The training step: S [texts, images] and relevance R (an image may have several captions);
// the loss of both directions, L(S, R) + L(Sᵀ, Rᵀ), through the transpose op.
const MATRICES: { scores: number[][]; labels: number[][] }[] = [
  {
    scores: randomLists(5, 5, 31, { scale: 2 }).scores,
    labels: [[1, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 1], [1, 0, 0, 1, 0], [0, 0, 1, 0, 1]],
  },
  {
    scores: randomLists(3, 7, 32, { scale: 2 }).scores,
    labels: [[1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1]],
  },
];

const transposeRows = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

for (const c of CASES) {
  gpuTest(
    `both directions of ${caseName(c)} on a similarity matrix match finite differences`,
    async () => {
      for (const { scores, labels } of MATRICES) {
        const [rows, cols] = [scores.length, scores[0].length];
        await gradCheck(
          [{ shape: [rows, cols], data: flat(scores) }, {
            shape: [rows, cols],
            data: flat(labels),
            grad: false,
          }],
          (s, y) =>
            add(
              rankingLossTensor(c.name, s, y, c.options),
              rankingLossTensor(c.name, transpose(s), transpose(y), c.options),
            ),
          (s, y) => {
            const [sr, yr] = [toRows(s, cols), toRows(y, cols)];
            return [reference(c, sr, yr) + reference(c, transposeRows(sr), transposeRows(yr))];
          },
          { maxChecks: 21 },
        );
      }
    },
  );
}

gpuTest("forward and backward of every loss record without any readback", async () => {
  const { scores, labels } = MATRICES[1];
  const s = Tensor.param(flat(scores), [3, 7], "S");
  const before = rt().stats.readbacks;
  scope(() => {
    const y = Tensor.fromRows(labels);
    for (const c of CASES) backward(rankingLossTensor(c.name, s, y, c.options));
  });
  assertEquals(rt().stats.readbacks, before, "readbacks during forward + backward");
  assertFinite(await s.grad!.read(), "accumulated gradient");
  s.grad!.dispose();
  s.dispose();
});

gpuTest(
  "a batch whose workspace exceeds a storage binding is refused, naming size and limit",
  () => {
    // ranknet's label order holds 4 floats per item: with the binding limit forced to 4 MiB (the
    // same refusal on any adapter), the smallest batch of lists of 4096 items that exceeds it
    const limit = 4 * 2 ** 20;
    const n = 4096;
    const lists = Math.floor(limit / (n * 16)) + 1;
    rt().pool.setBindingLimitForTests(limit);
    try {
      scope(() => {
        const s = Tensor.zeros([lists, n]);
        assertThrows(
          () => rankingLossTensor("ranknet", s, s),
          new RegExp(
            `label order \\[${lists}, ${n}, 4\\] needs .* over this device's ` +
              "maxStorageBufferBindingSize of 4\\.0 MiB",
          ),
        );
      });
    } finally {
      rt().pool.setBindingLimitForTests(null);
    }
  },
);
