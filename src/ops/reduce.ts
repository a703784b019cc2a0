/**
 * Reductions and row-wise normalisations (`kernels/reduce.wgsl`): sums, means, row log-sum-exp,
 * row softmax, row L2 normalisation and row dot products, each with its backward rule.
 *
 * @module
 */

import { groups1d, Params, rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { type Shape, Tensor } from "../autodiff/tensor.ts";
import { dims2, dummy, sameShape } from "./common.ts";
import { broadcastCols, broadcastRows, broadcastScalar, mul } from "./elementwise.ts";

type Entry =
  | "row_sum"
  | "col_sum"
  | "row_dot"
  | "row_logsumexp"
  | "row_logsumexp_backward"
  | "row_softmax"
  | "row_softmax_backward"
  | "row_l2norm"
  | "row_l2norm_backward"
  | "chunk_sum";

function launch(
  entry: Entry,
  shape: Shape,
  lines: number,
  inputs: (Tensor | null)[],
  { rows, cols, alpha = 1, eps = 0 }: { rows: number; cols: number; alpha?: number; eps?: number },
): Tensor {
  const out = new Tensor(shape, { label: entry });
  const [a, b, c] = [0, 1, 2].map((i) => inputs[i]?.buffer ?? dummy());
  rt().dispatch(
    { file: "reduce", entry, storage: ["read", "read", "read", "read_write"], uniform: true },
    [a, b, c, out.buffer],
    new Params().u32(rows).u32(cols).f32(alpha).f32(eps),
    groups1d(Math.ceil(lines / 64)),
  );
  return out;
}

/** Row sums of a 2-D tensor, times `alpha`: shape `[rows]`. */
export function rowSum(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = dims2(x, "rowSum");
  const out = launch("row_sum", [rows], rows, [x], { rows, cols, alpha });
  return record(out, "rowSum", [x], (g) => [broadcastRows(g, rows, cols, alpha)]);
}

/** Column sums of a 2-D tensor, times `alpha`: shape `[cols]`. */
export function colSum(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = dims2(x, "colSum");
  const out = launch("col_sum", [cols], cols, [x], { rows, cols, alpha });
  return record(out, "colSum", [x], (g) => [broadcastCols(g, rows, cols, alpha)]);
}

/** Row-wise dot products of two 2-D tensors of the same shape: shape `[rows]`. */
export function rowDot(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, "rowDot");
  const [rows, cols] = dims2(a, "rowDot");
  const out = launch("row_dot", [rows], rows, [a, b], { rows, cols });
  return record(out, "rowDot", [a, b], (g) => {
    const gb = broadcastRows(g, rows, cols);
    return [
      a.requiresGrad ? mul(gb, b) : null,
      b.requiresGrad ? mul(gb, a) : null,
    ];
  });
}

const CHUNK = 256;

/** Sum of all elements times `alpha`, as a one-element tensor of shape `[1]`. */
export function sumAll(x: Tensor, alpha = 1): Tensor {
  let current = x;
  let n = x.size;
  const partials: Tensor[] = [];
  do {
    const chunks = Math.ceil(n / CHUNK) || 1;
    const last = chunks === 1;
    current = launch("chunk_sum", [chunks], chunks, [current], {
      rows: n,
      cols: CHUNK,
      alpha: last ? alpha : 1,
    });
    if (!last) partials.push(current);
    n = chunks;
  } while (n > 1);
  for (const p of partials) p.dispose();
  const shape = x.shape;
  return record(current, "sumAll", [x], (g) => [broadcastScalar(g, shape, alpha)]);
}

/** Mean of all elements, shape `[1]`. */
export function mean(x: Tensor): Tensor {
  return sumAll(x, 1 / Math.max(x.size, 1));
}

/** Row-wise log-sum-exp of a 2-D tensor: shape `[rows]`. A row of −∞ gives −∞. */
export function logSumExp(x: Tensor): Tensor {
  const [rows, cols] = dims2(x, "logSumExp");
  const out = launch("row_logsumexp", [rows], rows, [x], { rows, cols });
  return record(out, "logSumExp", [x], (g) => [
    launch("row_logsumexp_backward", x.shape, rows, [x, g, out], { rows, cols }),
  ]);
}

/** Row-wise softmax of a 2-D tensor. */
export function softmax(x: Tensor): Tensor {
  const [rows, cols] = dims2(x, "softmax");
  const out = launch("row_softmax", x.shape, rows, [x], { rows, cols });
  return record(out, "softmax", [x], (g) => [
    launch("row_softmax_backward", x.shape, rows, [out, g], { rows, cols }),
  ]);
}

/** Default `eps` of {@link l2Normalize}: rows with a smaller norm are divided by `eps`. */
export const L2_EPS = 1e-12;

/** Row-wise L2 normalisation `x / max(‖x‖, eps)` of a 2-D tensor. */
export function l2Normalize(x: Tensor, eps = L2_EPS): Tensor {
  const [rows, cols] = dims2(x, "l2Normalize");
  const out = launch("row_l2norm", x.shape, rows, [x], { rows, cols, eps });
  return record(out, "l2Normalize", [x], (g) => [
    launch("row_l2norm_backward", x.shape, rows, [x, g], { rows, cols, eps }),
  ]);
}
