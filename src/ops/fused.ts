/**
 * Fused ops (`kernels/fused.wgsl`): chains a training step would otherwise record one dispatch per
 * link, each in fewer dispatches, with the same results as the unfused ops to float32 rounding.
 *
 * | op                                   | unfused equivalent                       | forward | backward |
 * | ------------------------------------ | ---------------------------------------- | ------- | -------- |
 * | {@link biasActivation} (ReLU, GELU)  | `gelu(addBias(x, b))`                    | 2 → 1   | 2 → 1    |
 * | {@link biasL2Normalize}              | `l2Normalize(addBias(x, b))`             | 2 → 1   | 2 → 2    |
 * | {@link logSumExpRowsCols}            | `logSumExp(scale(x, α))` on `x`, `xᵀ`    | 4 → 1   | 5 → 1    |
 * | {@link scaledRowDot}                 | `scale(rowDot(a, b), α)`                 | 2 → 1   | 4 → 1    |
 *
 * (Unfused backward counts: the activation's backward and the bias's column sum; the row L2
 * backward and the column sum; two log-sum-exp backwards, a transpose, the sum of the two
 * gradients and the scale; the scale, a broadcast and two products.) Their backward rules also give the bias gradient in the same pass.
 *
 * @module
 */

import { FUSED, REDUCE } from "../gpu/kernels.ts";
import { MAX_GROUPS } from "../gpu/runtime.ts";
import { isGradEnabled, record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { checkLoops, dims2, MAX_LOOP_ITERATIONS, sameShape } from "./common.ts";
import { colSum, L2_EPS } from "./reduce.ts";

/** The activation of {@link biasActivation}: identity, ReLU, or GELU (tanh approximation). */
export type FusedActivation = "none" | "relu" | "gelu";

const ACT: Record<FusedActivation, number> = {
  none: FUSED.constants.ACT_NONE,
  relu: FUSED.constants.ACT_RELU,
  gelu: FUSED.constants.ACT_GELU,
};

/** Re-exported: the llvmpipe loop limit the fused ops check (see `./common.ts`). */
export { MAX_LOOP_ITERATIONS };

/** Whether an op on `inputs` records a backward rule now. */
function recording(...inputs: (Tensor | null)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad);
}

/** `[rows, cols]` of `x`, after checking that `bias` has `cols` elements. */
function biasDims(op: string, x: Tensor, bias: Tensor | null): [number, number] {
  const [rows, cols] = dims2(x, op);
  if (bias && bias.size !== cols) {
    throw new RangeError(
      `${op}: bias ${shapeString(bias.shape)} does not match ${cols} columns of ${x.label}`,
    );
  }
  return [rows, cols];
}

/**
 * The workgroups of a grid entry over `rows × cols` (see `grid_element` in `kernels/fused.wgsl`):
 * `ceil(cols / WG)` × rows, the rows spread over y and z when over the 65535 limit.
 */
function grid2d(rows: number, cols: number): [number, number, number] {
  const z = Math.ceil(rows / MAX_GROUPS);
  return [Math.ceil(cols / FUSED.decl.workgroupSize), Math.ceil(rows / z), z];
}

/**
 * `act(x + bias)` with `bias` of shape `[cols]` added to every row of the 2-D `x`, in one dispatch;
 * its backward is one dispatch too, giving both `x`'s gradient and the bias gradient (for `none`,
 * the bias gradient is a column sum and `x`'s gradient the upstream one).
 *
 * @example
 * ```ts
 * import { biasActivation } from "./fused.ts";
 * // const h = biasActivation(matmul(x, w), b, "gelu"); // gelu(addBias(matmul(x, w), b))
 * ```
 */
export function biasActivation(x: Tensor, bias: Tensor, act: FusedActivation): Tensor {
  const [rows, cols] = biasDims("biasActivation", x, bias);
  if (!(act in ACT)) throw new RangeError(`biasActivation: unknown activation '${act}'`);
  if (act !== "none" && recording(x, bias)) {
    checkLoops("biasActivation", x, rows, "the backward loops over the rows");
  }
  const out = new Tensor(x.shape, { label: `bias_${act}` });
  const params = { rows, cols, act: ACT[act] };
  // Rows of whole quads run four elements per invocation (`…4` entries).
  const quads = cols % 4 === 0;
  FUSED.dispatch(
    quads ? "bias_act4" : "bias_act",
    { a: x, b: bias, out },
    params,
    grid2d(rows, quads ? cols / 4 : cols),
  );
  return record(out, "biasActivation", [x, bias], (g) => {
    if (act === "none") return [g, bias.requiresGrad ? colSum(g) : null];
    const gx = new Tensor(x.shape, { label: `bias_${act} grad` });
    const gb = new Tensor([cols], { label: `bias_${act} bias grad` });
    FUSED.launch(
      quads ? "bias_act_backward4" : "bias_act_backward",
      { a: x, b: bias, c: g, out: gx, out2: gb },
      params,
      quads ? cols / 4 : cols,
    );
    if (bias.requiresGrad) return [gx, gb];
    gb.dispose();
    return [gx, null];
  });
}

/**
 * Row-wise L2 normalisation of `x + bias` (`bias` `[cols]`, or null: none), `h / max(‖h‖, eps)`,
 * in one dispatch that also keeps each row's factor for the backward; the backward is a row dot
 * product and one column-parallel pass that also sums the bias gradient.
 */
export function biasL2Normalize(x: Tensor, bias: Tensor | null, eps = L2_EPS): Tensor {
  const [rows, cols] = biasDims("biasL2Normalize", x, bias);
  checkLoops("biasL2Normalize", x, 4 * cols, "up to 4 passes over a row");
  if (recording(x, bias)) {
    checkLoops("biasL2Normalize", x, rows, "the backward loops over the rows");
  }
  const hasBias = bias ? 1 : 0;
  const out = new Tensor(x.shape, { label: "bias_l2norm" });
  const factors = new Tensor([rows], { label: "bias_l2norm factors" });
  const params = { rows, cols, eps, has_bias: hasBias };
  // Rows of whole quads load and store a quad at a time (`bias_l2norm4`: the same sums, the same
  // bits, ~1.5x faster in the InfoNCE step; the backward's quad variant measured no faster there).
  const forward = cols % 4 === 0 ? "bias_l2norm4" : "bias_l2norm";
  FUSED.launch(forward, { a: x, b: bias ?? undefined, out, out2: factors }, params, rows);
  const inputs = bias ? [x, bias] : [x];
  const recorded = record(out, "biasL2Normalize", inputs, (g) => {
    const dots = new Tensor([rows], { label: "bias_l2norm dots" });
    REDUCE.launch("row_dot", { a: out, b: g, out: dots }, { rows, cols, alpha: 1 }, rows);
    const gx = new Tensor(x.shape, { label: "bias_l2norm grad" });
    const gb = bias?.requiresGrad ? new Tensor([cols], { label: "bias_l2norm bias grad" }) : null;
    FUSED.launch(
      "bias_l2norm_backward",
      { a: out, b: g, c: factors, d: dots, out: gx, out2: gb ?? undefined },
      { rows, cols, has_bias: gb ? 1 : 0 },
      cols,
    );
    dots.dispose();
    return [x.requiresGrad ? gx : (gx.dispose(), null), gb];
  });
  // Without a backward rule the factors are not needed past the dispatch.
  if (!recorded.creator) factors.dispose();
  return recorded;
}

/**
 * The log-sum-exp of every row and every column of `alpha · x`, as one vector `[rows + cols]`
 * (rows first): both directions of the CLIP / InfoNCE loss from the raw similarities in one
 * dispatch, without a scaled copy or a transpose; the backward is one dispatch.
 */
export function logSumExpRowsCols(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = dims2(x, "logSumExpRowsCols");
  if (!Number.isFinite(alpha)) {
    throw new RangeError(`logSumExpRowsCols: alpha must be finite, got ${alpha}`);
  }
  checkLoops("logSumExpRowsCols", x, 2 * Math.max(rows, cols), "2 passes over a row or column");
  const out = new Tensor([rows + cols], { label: "lse_rows_cols" });
  FUSED.launch("lse_rows_cols", { a: x, out }, { rows, cols, alpha }, rows + cols);
  return record(out, "logSumExpRowsCols", [x], (g) => {
    const gx = new Tensor(x.shape, { label: "lse_rows_cols grad" });
    FUSED.dispatch(
      "lse_rows_cols_backward",
      { a: x, b: g, c: out, out: gx },
      { rows, cols, alpha },
      grid2d(rows, cols),
    );
    return [gx];
  });
}

/**
 * Row-wise dot products of two 2-D tensors of the same shape, times `alpha`: shape `[rows]` (e.g.
 * the scaled diagonal of `a·bᵀ`, the positive pairs of a CLIP loss); its backward gives both
 * inputs' gradients in one dispatch.
 */
export function scaledRowDot(a: Tensor, b: Tensor, alpha = 1): Tensor {
  sameShape(a, b, "scaledRowDot");
  const [rows, cols] = dims2(a, "scaledRowDot");
  const out = new Tensor([rows], { label: "scaled_row_dot" });
  REDUCE.launch("row_dot", { a, b, out }, { rows, cols, alpha }, rows);
  return record(out, "scaledRowDot", [a, b], (g) => {
    const ga = new Tensor(a.shape, { label: "scaled_row_dot grad a" });
    const gb = new Tensor(b.shape, { label: "scaled_row_dot grad b" });
    const bindings = { a, b, c: g, out: ga, out2: gb };
    FUSED.dispatch("row_dot_backward", bindings, { rows, cols, alpha }, grid2d(rows, cols));
    return [
      a.requiresGrad ? ga : (ga.dispose(), null),
      b.requiresGrad ? gb : (gb.dispose(), null),
    ];
  });
}
