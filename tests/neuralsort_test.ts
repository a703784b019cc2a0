// NeuralSort (kernels/neuralsort.wgsl, src/ops/neuralsort.ts) against its float64 CPU twin
// (src/reference/neuralsort.ts): P̂ on random and edge shapes with padding anywhere, list ranges,
// finite differences, and refusals sized from the binding limit. Tolerances are stated per test.

import {
  assertAllClose,
  assertEquals,
  assertThrows,
  bytesPattern,
  gpuTest,
  gradCheck,
  withBindingLimit,
} from "./util.ts";
import { flat, lists, tensors } from "./neuralndcg_fixtures.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { neuralSort } from "../src/ops/neuralsort.ts";
import { neuralSortRef } from "../src/reference/neuralsort.ts";

const SHAPES: [number, number][] = [[1, 1], [2, 3], [3, 5], [4, 13], [2, 37], [3, 70]];

gpuTest(
  "neuralSort P-hat matches the reference (shapes 1x1 … 3x70, padding anywhere)",
  async () => {
    for (const [count, n] of SHAPES) {
      for (const tau of [1, 0.3]) {
        const { scores, labels } = lists(count, n, count * 100 + n);
        const { s, y } = tensors(scores, labels);
        const p = noGrad(() => neuralSort(s, y, { temperature: tau }));
        const expected = scores.flatMap((row, l) => Array.from(neuralSortRef(row, labels[l], tau)));
        // entries are probabilities; float32 logits of magnitude ≲ n·|s|/τ
        assertAllClose(await p.read(), expected, { atol: 2e-6 * n, rtol: 1e-4 }, `P ${count}x${n}`);
        [p, s, y].forEach((t) => t.dispose());
      }
    }
  },
);

gpuTest("neuralSort of a list range writes only those lists", async () => {
  const { scores, labels } = lists(5, 9, 3);
  const { s, y } = tensors(scores, labels);
  const p = noGrad(() => neuralSort(s, y, { temperature: 1, first: 2, count: 2 }));
  assertEquals(p.shape, [2, 9, 9]);
  const expected = [2, 3].flatMap((l) => Array.from(neuralSortRef(scores[l], labels[l], 1)));
  assertAllClose(await p.read(), expected, { atol: 1e-6 }, "P of lists 2..3");
  [p, s, y].forEach((t) => t.dispose());
});

gpuTest("neuralSort gradient matches finite differences", async () => {
  const { scores, labels } = lists(2, 6, 11);
  const cpuP = (x: Float64Array) =>
    labels.flatMap((lab, l) => Array.from(neuralSortRef(x.subarray(l * 6, l * 6 + 6), lab, 0.7)));
  await gradCheck(
    [{ shape: [2, 6], data: flat(scores) }],
    (x) => neuralSort(x, Tensor.fromRows(labels), { temperature: 0.7 }),
    cpuP,
  );
});

gpuTest("a P-hat over one storage binding, or a bad list range, is refused", async () => {
  // a forced binding limit below one 600 × 600 P-hat (1.4 MiB), so any adapter refuses it
  const limit = 2 ** 20;
  const wide = Tensor.zeros([1, 600]);
  await withBindingLimit(limit, () =>
    assertThrows(
      () => neuralSort(wide, wide, {}),
      new RegExp(
        `neuralSort: P-hat \\[1, 600, 600\\] needs ${bytesPattern(600 * 600 * 4)}, over .* of ` +
          bytesPattern(limit),
      ),
    ));
  wide.dispose();
  const s = Tensor.zeros([2, 3]);
  assertThrows(() => neuralSort(s, s, { first: 1, count: 2 }), /lists 1…2 outside the 2 lists/);
  s.dispose();
});
