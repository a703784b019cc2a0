// Sinkhorn scaling (kernels/sinkhorn.wgsl, src/ops/sinkhorn.ts) against its float64 CPU twin
// (src/reference/sinkhorn.ts): fixed iteration counts and early stopping, and finite differences.

import { assertAllClose, gpuTest, gradCheck, rng } from "./util.ts";
import { lists, tensors } from "./neuralndcg_fixtures.ts";
import { noGrad } from "../src/autodiff/tape.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { neuralSort } from "../src/ops/neuralsort.ts";
import { sinkhorn } from "../src/ops/sinkhorn.ts";
import { neuralSortRef, prepList } from "../src/reference/neuralsort.ts";
import { sinkhornRef } from "../src/reference/sinkhorn.ts";

const SHAPES: [number, number][] = [[1, 1], [2, 3], [3, 5], [4, 13], [2, 37], [3, 70]];

gpuTest(
  "sinkhorn matches the reference (fixed iteration counts and the default tolerance)",
  async () => {
    for (const [count, n] of SHAPES) {
      for (const [tol, maxIter] of [[0, 7], [1e-6, 50]]) {
        const { scores, labels } = lists(count, n, count * 7 + n);
        const { s, y } = tensors(scores, labels);
        const p = noGrad(() => neuralSort(s, y, { temperature: 1 }));
        const m = noGrad(() => sinkhorn(p, y, { tol, maxIter }));
        const expected = scores.flatMap((row, l) => {
          const { valid } = prepList(row, labels[l], 1);
          return Array.from(
            sinkhornRef(neuralSortRef(row, labels[l], 1), n, valid, tol, maxIter).matrix,
          );
        });
        // With tol > 0 float32 may stop an iteration earlier or later than float64; the iterates are
        // then within ~tol of each other.
        const atol = tol === 0 ? 2e-6 * n : 2e-6 * n + 1e-5;
        assertAllClose(
          await m.read(),
          expected,
          { atol, rtol: 1e-4 },
          `M ${count}x${n} tol ${tol}`,
        );
        [p, m, s, y].forEach((t) => t.dispose());
      }
    }
  },
);

gpuTest("sinkhorn gradient matches finite differences", async () => {
  const { labels } = lists(2, 6, 11);
  // sinkhorn of a fixed positive matrix batch with this valid block
  const y = labels;
  const u = rng(5);
  const p0 = Array.from({ length: 2 * 36 }, () => Math.fround(0.05 + u()));
  const cpuS = (x: Float64Array) =>
    y.flatMap((lab, l) => {
      const valid = lab.flatMap((v, j) => v >= 0 ? [j] : []);
      // the op works on the valid block only (rows ≥ nv and padded columns are zeroed)
      const block = Float64Array.from(x.subarray(l * 36, l * 36 + 36), (v, idx) => {
        const i = Math.floor(idx / 6);
        return i < valid.length && lab[idx % 6] >= 0 ? v : 0;
      });
      return Array.from(sinkhornRef(block, 6, valid, 0, 9).matrix);
    });
  await gradCheck(
    [{ shape: [2, 6, 6], data: p0 }],
    (x) => sinkhorn(x, Tensor.fromRows(y), { tol: 0, maxIter: 9 }),
    cpuS,
    { atol: 5e-4 },
  );
});
