// The ranking losses' shared machinery and API (kernels/losses.wgsl, src/losses/launch.ts,
// api.ts, registry.ts): the seeded tie permutation of the label order, sharp temperatures across
// losses, recording without readbacks, refusals of bad input and of oversized batches. Each loss's
// own tests are in tests/<loss>_test.ts.

import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertOk,
  assertRejects,
  assertThrows,
  bytesPattern,
  gpuTest,
  rng,
  withBindingLimit,
} from "./util.ts";
import { assertAllFinite, caseName, CASES, flat, lossRef, randomLists } from "./losses_fixtures.ts";
import { rt } from "../src/gpu/runtime.ts";
import { backward } from "../src/autodiff/tape.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { rankingLoss, rankingLossTensor, rankingLossWithGrad } from "../src/losses/mod.ts";
import { MAX_LIST_ITEMS, sortLabels } from "../src/losses/launch.ts";
import { recallKRef } from "../src/reference/recallk.ts";
import { tieSlotRef } from "../src/reference/losses.ts";

Deno.test("the tie permutation is a permutation of every class size", () => {
  for (const m of [1, 2, 3, 7, 64, 255, 1000]) {
    for (const h of [0, 1, 0xdeadbeef, 123456789]) {
      const slots = new Set(Array.from({ length: m }, (_, k) => tieSlotRef(k, m, h)));
      assertEquals(slots.size, m);
      assertOk([...slots].every((v) => v >= 0 && v < m));
    }
  }
});

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
      const expected = lossRef(c, scores, labels);
      assertAllClose([loss], [expected], { atol: 1e-5, rtol: 1e-4 }, `${caseName(c)} vs reference`);
    }
  },
);

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
gpuTest("forward and backward of every loss record without any readback", async () => {
  const scores = randomLists(3, 7, 32, { scale: 2 }).scores;
  const labels = [[1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1]];
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
  async () => {
    // ranknet's label order holds 4 floats per item: with the binding limit forced to 4 MiB (the
    // same refusal on any adapter), the smallest batch of lists of 2048 items that exceeds it
    const limit = 4 * 2 ** 20;
    const n = 2048;
    const lists = Math.floor(limit / (n * 16)) + 1;
    await withBindingLimit(limit, () =>
      scope(() => {
        const s = Tensor.zeros([lists, n]);
        assertThrows(
          () => rankingLossTensor("ranknet", s, s),
          new RegExp(
            `label order \\[${lists}, ${n}, 4\\] needs .* over this device's ` +
              `maxStorageBufferBindingSize of ${bytesPattern(limit)}`,
          ),
        );
      }));
  },
);

gpuTest(
  "the label order stays right up to MAX_LIST_ITEMS; longer lists and too many are refused",
  async () => {
    // All relevant: the merge sort runs over the whole list, its worst case (3200 came back garbled).
    const n = MAX_LIST_ITEMS;
    const r = rng(77);
    const y = Float32Array.from({ length: n }, () => 1 + Math.floor(r() * 4));
    const s = Tensor.from(Float32Array.from({ length: n }, () => r()), [1, n]);
    const yt = Tensor.from(y, [1, n]);
    const { entries, info } = sortLabels(s, yt);
    const e = await entries.read();
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      seen.add(e[4 * i + 2]);
      if (i > 0) assertOk(e[4 * i + 1] <= e[4 * (i - 1) + 1], `label order broken at ${i}`);
      if (i > 0 && e[4 * i + 1] === e[4 * (i - 1) + 1]) {
        assertOk(e[4 * i + 2] > e[4 * (i - 1) + 2], `ties out of index order at ${i}`);
      }
    }
    assertEquals(seen.size, n);
    assertEquals(Array.from(await info.read()).slice(0, 2), [n, n]);
    for (const t of [s, yt, entries, info]) t.dispose();
    // The losses on such a list match their twins (recallk: the paper's 5 cutoffs).
    const scores = [Array.from({ length: n }, () => r() * 0.2)];
    const labels = [Array.from(y, (v, i) => (i % 3 === 0 ? 0 : v > 2 ? 1 : 0))];
    const got = await rankingLoss("recallk", scores, labels);
    const want = recallKRef(scores, labels, { ks: [1, 2, 4, 8, 16], tau1: 0.01, tau2: 1 });
    assertOk(Math.abs(got - want) < 1e-4, `recallk on ${n} items: ${got} vs ${want}`);
    const long = [new Array(n + 1).fill(0)];
    await assertRejects(
      () => rankingLoss("softmax", long, [[1, ...new Array(n).fill(0)]]),
      new RegExp(`lists of ${n + 1} items .* longer than the ${n} one invocation can put in label`),
    );
    const wide = Tensor.from(new Float32Array(65535), [65535, 1]);
    assertThrows(
      () => rankingLossTensor("softmax", wide, wide),
      /65535 lists .* more than the 65534 the batch reduction sums in one invocation/,
    );
    wide.dispose();
    // recallk walks a list twice per cutoff: 16 cutoffs reach the limit at about 1900 items.
    const ks = Array.from({ length: 16 }, (_, i) => i + 1).join(",");
    const mid = [new Array(2000).fill(0.5)];
    await assertRejects(
      () => rankingLoss("recallk", mid, [[1, ...new Array(1999).fill(0)]], { ks }),
      /loss 'recallk': .* needs 70000 loop iterations .* 16 cutoffs/,
    );
  },
);
