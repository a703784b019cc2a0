/**
 * Reductions and row-wise normalisations (`kernels/reduce.wgsl`): sums, means, row log-sum-exp,
 * row softmax, row L2 normalisation and row dot products, each with its backward rule; and their
 * adjoints, the broadcasts, with the ops whose gradient is a reduction (row bias, scalar scale),
 * on `kernels/elementwise.wgsl`. Reductions and broadcasts are each other's backward rules, so
 * they live in one module (`./elementwise.ts` needs neither).
 *
 * @module
 */

import type { EntryOf } from "../gpu/declare.ts";
import { REDUCE } from "../gpu/kernels.ts";
import { PRELUDE } from "../gpu/prelude.ts";
import { record } from "../autodiff/tape.ts";
import { type Shape, shapeString, Tensor } from "../autodiff/tensor.ts";
import { checkLoops, dims2, sameShape } from "./common.ts";
import { elementwise, mul, scale } from "./elementwise.ts";

/**
 * How many times each reduce entry's invocation walks its line (`kernels/reduce.wgsl`): a row of
 * `cols` for the row entries, a column of `rows` for `col_sum`; `chunk_sum`'s line is its fixed
 * chunk. llvmpipe counts the iterations of all of an invocation's loops together.
 */
const PASSES: Readonly<Record<EntryOf<typeof REDUCE.decl>, number>> = {
  row_sum: 1,
  col_sum: 1,
  row_dot: 1,
  row_logsumexp: 2,
  row_logsumexp_backward: 1,
  row_softmax: 3,
  row_softmax_backward: 2,
  row_l2norm: 3,
  row_l2norm_backward: 4,
  chunk_sum: 1,
};

/** A new tensor of `shape` from the reduce entry `entry`, one invocation per line of `lines`. */
function reduction(
  entry: EntryOf<typeof REDUCE.decl>,
  shape: Shape,
  lines: number,
  [a, b, c]: Tensor[],
  params: { rows: number; cols: number; alpha?: number; eps?: number },
): Tensor {
  const line = entry === "col_sum" ? params.rows : params.cols;
  const along = entry === "col_sum" ? "column" : "row";
  const passes = PASSES[entry];
  const what = `${passes} pass${passes === 1 ? "" : "es"} over a ${along} of ${line}`;
  checkLoops(entry, a, passes * line, what);
  const out = new Tensor(shape, { label: entry });
  REDUCE.launch(entry, { a, b, c, out }, { alpha: 1, ...params }, lines);
  return out;
}

/** Row sums of a 2-D tensor, times `alpha`: shape `[rows]`. */
export function rowSum(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = dims2(x, "rowSum");
  const out = reduction("row_sum", [rows], rows, [x], { rows, cols, alpha });
  return record(out, "rowSum", [x], (g) => [broadcastRows(g, rows, cols, alpha)]);
}

/** Column sums of a 2-D tensor, times `alpha`: shape `[cols]`. */
export function colSum(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = dims2(x, "colSum");
  const out = reduction("col_sum", [cols], cols, [x], { rows, cols, alpha });
  return record(out, "colSum", [x], (g) => [broadcastCols(g, rows, cols, alpha)]);
}

/** Row-wise dot products of two 2-D tensors of the same shape, times `alpha`: shape `[rows]`. */
export function rowDot(a: Tensor, b: Tensor, alpha = 1): Tensor {
  sameShape(a, b, "rowDot");
  const [rows, cols] = dims2(a, "rowDot");
  const out = reduction("row_dot", [rows], rows, [a, b], { rows, cols, alpha });
  return record(out, "rowDot", [a, b], (g) => {
    const gb = broadcastRows(g, rows, cols, alpha);
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
    current = reduction("chunk_sum", [chunks], chunks, [current], {
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
  const out = reduction("row_logsumexp", [rows], rows, [x], { rows, cols });
  return record(out, "logSumExp", [x], (g) => [
    reduction("row_logsumexp_backward", x.shape, rows, [x, g, out], { rows, cols }),
  ]);
}

/** Row-wise softmax of a 2-D tensor. */
export function softmax(x: Tensor): Tensor {
  const [rows, cols] = dims2(x, "softmax");
  const out = reduction("row_softmax", x.shape, rows, [x], { rows, cols });
  return record(out, "softmax", [x], (g) => [
    reduction("row_softmax_backward", x.shape, rows, [out, g], { rows, cols }),
  ]);
}

/** Default `eps` of {@link l2Normalize} (the prelude's `NORM_EPS`): smaller norms divide by it. */
export const L2_EPS: number = PRELUDE.NORM_EPS;

/** Row-wise L2 normalisation `x / max(‖x‖, eps)` of a 2-D tensor. */
export function l2Normalize(x: Tensor, eps = L2_EPS): Tensor {
  const [rows, cols] = dims2(x, "l2Normalize");
  const out = reduction("row_l2norm", x.shape, rows, [x], { rows, cols, eps });
  return record(out, "l2Normalize", [x], (g) => [
    reduction("row_l2norm_backward", x.shape, rows, [x, g], { rows, cols, eps }),
  ]);
}

/** `a * s[0]`: scales every element by a one-element tensor (e.g. a learnable temperature). */
export function mulScalar(a: Tensor, s: Tensor): Tensor {
  if (s.size !== 1) {
    throw new RangeError(`mulScalar: ${s.label} ${shapeString(s.shape)} is not a scalar`);
  }
  const out = elementwise("mul_scalar", a.shape, a, s, {});
  return record(out, "mulScalar", [a, s], (g) => [
    a.requiresGrad ? mulScalar(g, s) : null,
    s.requiresGrad ? sumAll(mul(g, a)) : null,
  ]);
}

/** `x + bias` with `bias` of shape `[cols]` added to every row of the 2-D `x`. */
export function addBias(x: Tensor, bias: Tensor): Tensor {
  const [, cols] = dims2(x, "addBias");
  if (bias.size !== cols) {
    throw new RangeError(
      `addBias: bias ${shapeString(bias.shape)} does not match ${cols} columns of ${x.label}`,
    );
  }
  const out = elementwise("add_row_bias", x.shape, x, bias, { cols });
  return record(out, "addBias", [x, bias], (g) => [g, bias.requiresGrad ? colSum(g) : null]);
}

/** A tensor of `shape` filled with `alpha * s[0]` (s has one element). */
export function broadcastScalar(s: Tensor, shape: Shape, alpha = 1): Tensor {
  const out = elementwise("broadcast_scalar", shape, s, null, { alpha });
  return record(out, "broadcastScalar", [s], (g) => [scale(sumAll(g), alpha)]);
}

/** `[rows, cols]` with row i filled with `alpha * v[i]` (v has `rows` elements). */
export function broadcastRows(v: Tensor, rows: number, cols: number, alpha = 1): Tensor {
  if (v.size !== rows) {
    throw new RangeError(`broadcastRows: ${v.size} values for ${rows} rows`);
  }
  const out = elementwise("broadcast_rows", [rows, cols], v, null, { cols, alpha });
  return record(out, "broadcastRows", [v], (g) => [rowSum(g, alpha)]);
}

/** `[rows, cols]` with every row equal to `alpha * v` (v has `cols` elements). */
export function broadcastCols(v: Tensor, rows: number, cols: number, alpha = 1): Tensor {
  if (v.size !== cols) {
    throw new RangeError(`broadcastCols: ${v.size} values for ${cols} columns`);
  }
  const out = elementwise("broadcast_cols", [rows, cols], v, null, { cols, alpha });
  return record(out, "broadcastCols", [v], (g) => [colSum(g, alpha)]);
}
