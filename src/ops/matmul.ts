/**
 * Matrix multiplication (`kernels/matmul.wgsl`, naive twin `kernels/matmul_naive.wgsl`):
 * `C = op(A) · op(B)` with either operand transposed, and its backward rule.
 *
 * @module
 */

import { Params, rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use Aᵀ (A stored K × M). */
  transA?: boolean;
  /** Use Bᵀ (B stored N × K). */
  transB?: boolean;
  /** Kernel: the register-blocked one (default) or the naive one-output-per-invocation kernel. */
  kernel?: "blocked" | "naive";
}

/** Output block of one invocation of the blocked kernel (rows, cols) and its workgroup shape. */
export const MATMUL_TILE = { rows: 4, cols: 4, groupX: 8, groupY: 8 } as const;

/** Returns `[M, N, K]` for `op(a) · op(b)`, or throws naming both shapes. */
export function matmulDims(
  a: Tensor,
  b: Tensor,
  options: MatmulOptions = {},
): [number, number, number] {
  const [ar, ac] = dims2(a, "matmul");
  const [br, bc] = dims2(b, "matmul");
  const [m, k] = options.transA ? [ac, ar] : [ar, ac];
  const [k2, n] = options.transB ? [bc, br] : [br, bc];
  if (k !== k2) {
    const ta = options.transA ? "ᵀ" : "";
    const tb = options.transB ? "ᵀ" : "";
    throw new RangeError(
      `matmul: inner dimensions differ, ${a.label}${ta} ${shapeString(a.shape)} · ` +
        `${b.label}${tb} ${shapeString(b.shape)}`,
    );
  }
  return [m, n, k];
}

/** Records `c = op(a) · op(b)` into an existing tensor `c` of shape `[M, N]` (no autodiff). */
export function matmulInto(c: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
  const [m, n, k] = matmulDims(a, b, options);
  if (c.shape[0] !== m || c.shape[1] !== n) {
    throw new RangeError(`matmulInto: output ${shapeString(c.shape)} is not [${m}, ${n}]`);
  }
  const params = new Params().u32(m).u32(n).u32(k).u32(options.transA ? 1 : 0)
    .u32(options.transB ? 1 : 0);
  if (k === 0) {
    rt().upload(c.buffer, new Float32Array(m * n));
    return;
  }
  if (options.kernel === "naive") {
    rt().dispatch(
      {
        file: "matmul_naive",
        entry: "matmul_naive",
        storage: ["read", "read", "read_write"],
        uniform: true,
      },
      [a.buffer, b.buffer, c.buffer],
      params,
      [Math.ceil(n / 16), Math.ceil(m / 16)],
    );
    return;
  }
  const t = MATMUL_TILE;
  rt().dispatch(
    { file: "matmul", entry: "matmul", storage: ["read", "read", "read_write"], uniform: true },
    [a.buffer, b.buffer, c.buffer],
    params,
    [Math.ceil(n / (t.cols * t.groupX)), Math.ceil(m / (t.rows * t.groupY))],
  );
}

/**
 * `op(a) · op(b)` for 2-D tensors.
 *
 * Backward: for C = A·B, dA = G·Bᵀ and dB = Aᵀ·G; the transposed forms follow by symmetry.
 *
 * @example
 * ```ts
 * import { matmul } from "./matmul.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const a = Tensor.fromRows([[1, 2], [3, 4]]);
 * const c = matmul(a, a, { transB: true }); // a · aᵀ
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const [m, n] = matmulDims(a, b, options);
  const c = new Tensor([m, n], { label: "matmul" });
  matmulInto(c, a, b, options);
  const { transA = false, transB = false, kernel } = options;
  return record(c, "matmul", [a, b], (g) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      // A (M×K): G·op(B)ᵀ; stored Aᵀ (K×M): op(B)·Gᵀ
      da = transA
        ? matmul(b, g, { transA: transB, transB: true, kernel })
        : matmul(g, b, { transB: !transB, kernel });
    }
    if (b.requiresGrad) {
      // B (K×N): op(A)ᵀ·G; stored Bᵀ (N×K): Gᵀ·op(A)
      db = transB
        ? matmul(g, a, { transA: true, transB: transA, kernel })
        : matmul(a, g, { transA: !transA, kernel });
    }
    return [da, db];
  });
}
