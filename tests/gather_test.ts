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
  await gradCheck(
    [{ shape: [4, 3], data: randn(12, 5) }],
    (x) => gatherRows(x, index),
    (x) => gatherRowsRef(x, 3, index),
  );
});

gpuTest("gatherRows rejects an out-of-range index naming it", () => {
  const t = Tensor.zeros([2, 2]);
  assertThrows(() => gatherRows(t, [0, 2]), /index\[1\] = 2 is outside 0\.\.1/);
  t.dispose();
});
