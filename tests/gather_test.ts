// Row gather and its adjoint (kernels/gather.wgsl, src/ops/gather.ts) against the CPU twin.

import { assertAllClose, assertThrows, gpuTest, gradCheck, randn } from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { gatherRows } from "../src/ops/gather.ts";
import { gatherRowsRef } from "../src/reference/gather.ts";

gpuTest("gatherRows matches the CPU reference, with repeated and empty indices", async () => {
  for (
    const [rows, cols, index] of [
      [5, 3, [4, 0, 0, 2]],
      [1, 1, [0, 0, 0]],
      [300, 7, Array.from({ length: 500 }, (_, i) => (i * 37) % 300)],
      // Whole quads per row: the vec4 entry (gather_rows4), one quad and several.
      [1, 4, [0]],
      [9, 12, [8, 0, 3, 3, 7]],
      [300, 312, Array.from({ length: 257 }, (_, i) => (i * 37) % 300)],
    ] as [number, number, number[]][]
  ) {
    const x = randn(rows * cols, rows);
    const t = Tensor.from(x, [rows, cols]);
    const g = gatherRows(t, index);
    assertAllClose(
      await g.read(),
      gatherRowsRef(x, cols, index),
      { atol: 0 },
      `gather ${rows}x${cols}`,
    );
    t.dispose();
    g.dispose();
  }
});

gpuTest("gatherRows gradient sums over repeated indices (finite differences)", async () => {
  const index = [3, 1, 3, 3, 0];
  // 3 columns: one element per invocation; 8: quads (gather_rows4).
  for (const cols of [3, 8]) {
    await gradCheck(
      [{ shape: [4, cols], data: randn(4 * cols, 5) }],
      (x) => gatherRows(x, index),
      (x) => gatherRowsRef(x, cols, index),
    );
  }
});

gpuTest("gatherRows rejects an out-of-range index naming it", () => {
  const t = Tensor.zeros([2, 2]);
  assertThrows(() => gatherRows(t, [0, 2]), /index\[1\] = 2 is outside 0\.\.1/);
  t.dispose();
});
