/**
 * Matrix transpose (`kernels/transpose.wgsl`).
 *
 * @module
 */

import { TRANSPOSE } from "../gpu/kernels.ts";
import { record } from "../autodiff/tape.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** The transpose of a 2-D tensor; its backward rule is the transpose of the gradient. */
export function transpose(x: Tensor): Tensor {
  const [rows, cols] = dims2(x, "transpose");
  const out = new Tensor([cols, rows], { label: "transpose" });
  TRANSPOSE.launch("transpose", { a: x, out }, { rows, cols }, rows * cols);
  return record(out, "transpose", [x], (g) => [transpose(g)]);
}
