// Transpose (kernels/transpose.wgsl, src/ops/transpose.ts) against its CPU twin, with its gradient.

import { assertAllClose, gpuTest, gradCheck, randn } from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { transpose } from "../src/ops/transpose.ts";
import { transposeRef } from "../src/reference/transpose.ts";

gpuTest("transpose matches the CPU reference and its gradient is the transpose", async () => {
  for (const [rows, cols] of [[1, 1], [1, 9], [17, 5], [64, 300]]) {
    const x = randn(rows * cols, rows * cols);
    const t = Tensor.from(x, [rows, cols]);
    const tt = transpose(t);
    assertAllClose(await tt.read(), transposeRef(x, rows, cols), { atol: 0 }, `${rows}x${cols}`);
    t.dispose();
    tt.dispose();
  }
  await gradCheck(
    [{ shape: [3, 4], data: randn(12, 9) }],
    (x) => transpose(x),
    (x) => transposeRef(x, 3, 4),
  );
});
