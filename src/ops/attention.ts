/**
 * Masked multi-head self-attention over lists (`kernels/attention.wgsl`): the
 * `softmax(Q·Kᵀ/√d_head)·V` core per (list, head), with its backward rule (dQ, dK, dV) as WGSL
 * kernels. The Q/K/V and output projections are ordinary {@link matmul}s in the model.
 *
 * Layout: Q, K, V and the output are `[lists·n, d_model]`; row `l·n + i` is item i of list l and
 * head `h` owns columns `h·d_head … (h+1)·d_head − 1` (as PyTorch's `view(…, heads, d_head)`).
 *
 * Memory: O(lists·heads·n) scratch in the backward only. The backward recomputes each query's
 * log-sum-exp from Q and K (as FlashAttention does) instead of storing the O(lists·heads·n²)
 * probabilities, so the forward keeps nothing alive but its output.
 *
 * @module
 */

import { ATTENTION } from "../gpu/kernels.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2, sameShape } from "./common.ts";

/** Largest head dimension `d_model / heads` the kernels support. */
export const ATTENTION_MAX_HEAD_DIM: number = ATTENTION.constants.MAX_DH;

/**
 * Largest head dimension of the blocked kernels, which are 2–4× faster on llvmpipe than the generic
 * ones; larger heads use the generic kernels.
 */
export const ATTENTION_FAST_HEAD_DIM: number = ATTENTION.constants.FAST_DH;

/** Shape of an {@link attention} call. */
export interface AttentionOptions {
  /** Number of lists; the inputs have `lists · n` rows. */
  lists: number;
  /** Items per list (padded length). */
  n: number;
  /** Number of heads; must divide `d_model`, and `d_model / heads ≤ 128`. */
  heads: number;
  /**
   * Per-item validity `[lists·n]`, 1 = real item, 0 = padding (values > 0.5 count as valid). Padded
   * items are never attended to and get a zero output; omit when every item is valid.
   */
  mask?: Tensor | null;
  /**
   * `auto` (default): the blocked kernels when `d_model / heads ≤ 16`, else the generic ones. Both
   * compute the same values (tests compare each with the CPU reference).
   */
  kernel?: "auto" | "blocked" | "generic";
}

interface Dims {
  lists: number;
  n: number;
  heads: number;
  dh: number;
  mask: Tensor | null;
  blocked: boolean;
}

/** The bindings of one attention entry besides Q, K and V. */
interface Io {
  a?: Tensor;
  b?: Tensor;
  out0: Tensor;
  out1?: Tensor;
}

/** Records the generic or blocked form of `entry` over the lists and heads of `dims`. */
function run(
  entry: "attention_forward" | "attention_backward_q" | "attention_backward_kv",
  [q, k, v]: Tensor[],
  { lists, n, heads, dh, mask, blocked }: Dims,
  io: Io,
): void {
  const invocations = lists * heads * (blocked ? Math.ceil(n / ATTENTION.constants.BLOCK) : n);
  const params = { lists, n, heads, dh, scale: 1 / Math.sqrt(dh), has_mask: mask ? 1 : 0 };
  const bindings = { q, k, v, mask: mask ?? undefined, ...io };
  if (blocked) ATTENTION.launch(`${entry}_blocked`, bindings, params, invocations, { DH: dh });
  else ATTENTION.launch(entry, bindings, params, invocations);
}

function checkArgs(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Dims {
  sameShape(q, k, "attention");
  sameShape(q, v, "attention");
  const [rows, dModel] = dims2(q, "attention");
  const { lists, n, heads, mask = null, kernel = "auto" } = options;
  for (const [name, value] of [["lists", lists], ["n", n], ["heads", heads]] as const) {
    if (!Number.isInteger(value) || value < (name === "heads" ? 1 : 0)) {
      throw new RangeError(`attention: ${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (rows !== lists * n) {
    throw new RangeError(
      `attention: ${q.label} ${shapeString(q.shape)} has ${rows} rows, expected lists·n = ` +
        `${lists}·${n} = ${lists * n}`,
    );
  }
  if (dModel % heads !== 0) {
    throw new RangeError(`attention: d_model ${dModel} is not divisible by ${heads} heads`);
  }
  const dh = dModel / heads;
  if (dh > ATTENTION_MAX_HEAD_DIM) {
    throw new RangeError(
      `attention: head dimension ${dModel}/${heads} = ${dh} exceeds ${ATTENTION_MAX_HEAD_DIM}; ` +
        `use more heads`,
    );
  }
  if (mask && mask.size !== rows) {
    throw new RangeError(
      `attention: mask ${shapeString(mask.shape)} has ${mask.size} values for ${rows} items`,
    );
  }
  if (kernel === "blocked" && dh > ATTENTION_FAST_HEAD_DIM) {
    throw new RangeError(
      `attention: the blocked kernels take head dimensions up to ${ATTENTION_FAST_HEAD_DIM}, got ${dh}`,
    );
  }
  const blocked = kernel === "blocked" || (kernel === "auto" && dh <= ATTENTION_FAST_HEAD_DIM);
  return { lists, n, heads, dh, mask, blocked };
}

/**
 * Multi-head self-attention within each list: for item i of list l and head h,
 * `out = Σ_j softmax_j(q_i·k_j/√d_head) v_j` over the list's valid items j. Padded items (mask 0)
 * output zeros and never influence real items; a list with no valid item yields zeros, not NaN.
 *
 * Backward (P the probabilities, δ_i = dO_i·O_i, dS_ij = P_ij (dO_i·v_j − δ_i)):
 * dQ_i = Σ_j dS_ij k_j/√d, dK_j = Σ_i dS_ij q_i/√d, dV_j = Σ_i P_ij dO_i. Mask gets no gradient.
 *
 * @example
 * ```ts
 * import { attention } from "./attention.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * // 2 lists of 3 items, d_model 4, 2 heads; the last item of list 1 is padding.
 * const x = Tensor.from(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [6, 4]);
 * const mask = Tensor.from([1, 1, 1, 1, 1, 0]);
 * const y = attention(x, x, x, { lists: 2, n: 3, heads: 2, mask }); // [6, 4]
 * ```
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  const dims = checkArgs(q, k, v, options);
  const out = new Tensor(q.shape, { label: "attention" });
  run("attention_forward", [q, k, v], dims, { out0: out });
  return record(out, "attention", [q, k, v], (g) => {
    const { lists, n, heads } = dims;
    const dq = new Tensor(q.shape, { label: "attention dQ" });
    const stats = new Tensor([lists * heads * n, 2], { label: "attention stats" });
    run("attention_backward_q", [q, k, v], dims, { a: out, b: g, out0: dq, out1: stats });
    let dk: Tensor | null = null;
    let dv: Tensor | null = null;
    if (k.requiresGrad || v.requiresGrad) {
      dk = new Tensor(k.shape, { label: "attention dK" });
      dv = new Tensor(v.shape, { label: "attention dV" });
      run("attention_backward_kv", [q, k, v], dims, { a: stats, b: g, out0: dk, out1: dv });
    }
    stats.dispose();
    return [
      q.requiresGrad ? dq : (dq.dispose(), null),
      k.requiresGrad ? dk : (dk?.dispose(), null),
      v.requiresGrad ? dv : (dv?.dispose(), null),
    ];
  });
}
