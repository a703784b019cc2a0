/**
 * Matrix transpose (`kernels/transpose.wgsl`).
 *
 * @module
 */

import { groups1d, Params, rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** The transpose of a 2-D tensor; its backward rule is the transpose of the gradient. */
export function transpose(x: Tensor): Tensor {
  const [rows, cols] = dims2(x, "transpose");
  const out = new Tensor([cols, rows], { label: "transpose" });
  rt().dispatch(
    { file: "transpose", entry: "transpose", storage: ["read", "read_write"], uniform: true },
    [x.buffer, out.buffer],
    new Params().u32(rows).u32(cols),
    groups1d(Math.ceil((rows * cols) / 256)),
  );
  return record(out, "transpose", [x], (g) => [transpose(g)]);
}
