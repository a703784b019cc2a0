/**
 * Row-wise layer norm (`kernels/layernorm.wgsl`) over the last dim of a 2-D tensor, with its
 * backward rule (dx, dγ, dβ) as WGSL kernels.
 *
 * `y = (x − μ) / √(σ² + eps) · γ + β`, with μ and σ² the mean and biased variance of each row
 * (PyTorch's `nn.LayerNorm`). The backward recomputes μ and 1/√(σ² + eps) from x, so the forward
 * keeps no extra tensor alive.
 *
 * @module
 */

import { LAYERNORM } from "../gpu/kernels.ts";
import { record } from "../autodiff/tape.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/** Default `eps` of {@link layerNorm} (PyTorch's). */
export const LAYER_NORM_EPS = 1e-5;

/**
 * Layer norm of each row of the 2-D `x` (`[rows, cols]`), scaled by `gamma` and shifted by `beta`
 * (both `[cols]`).
 *
 * Backward: with x̂ = (x − μ)·r, r = 1/√(σ² + eps), ĝ = g·γ:
 * dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dγ = Σ_rows g·x̂, dβ = Σ_rows g.
 *
 * @example
 * ```ts
 * import { layerNorm } from "./layernorm.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const x = Tensor.fromRows([[1, 2, 3], [4, 4, 5]]);
 * const y = layerNorm(x, Tensor.full([3], 1), Tensor.zeros([3])); // rows of mean 0, variance ≈ 1
 * ```
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = LAYER_NORM_EPS): Tensor {
  const [rows, cols] = dims2(x, "layerNorm");
  if (cols === 0) {
    throw new RangeError(`layerNorm: ${x.label} ${shapeString(x.shape)} has rows of length 0`);
  }
  for (const [name, t] of [["gamma", gamma], ["beta", beta]] as const) {
    if (t.size !== cols) {
      throw new RangeError(
        `layerNorm: ${name} ${
          shapeString(t.shape)
        } does not match the ${cols} columns of ${x.label}`,
      );
    }
  }
  if (!(eps > 0)) throw new RangeError(`layerNorm: eps must be > 0, got ${eps}`);
  const dims = { rows, cols, eps };
  const y = new Tensor(x.shape, { label: "layerNorm" });
  LAYERNORM.launch("layernorm_forward", { a: x, b: gamma, c: beta, out: y }, dims, rows);
  return record(y, "layerNorm", [x, gamma, beta], (g) => {
    const dx = new Tensor(x.shape, { label: "layerNorm dx" });
    const stats = new Tensor([rows, 2], { label: "layerNorm stats" });
    const input = { a: x, b: gamma, c: g, out: dx, out2: stats };
    LAYERNORM.launch("layernorm_backward_input", input, dims, rows);
    let dgamma: Tensor | null = null;
    let dbeta: Tensor | null = null;
    if (gamma.requiresGrad || beta.requiresGrad) {
      const chunks = Math.ceil(rows / LAYERNORM.constants.CHUNK);
      const partial = new Tensor([chunks, 2 * cols], { label: "layerNorm partial" });
      const sums = { a: x, b: g, c: stats, out: partial };
      LAYERNORM.launch("layernorm_backward_params_partial", sums, dims, chunks * cols);
      dgamma = new Tensor(gamma.shape, { label: "layerNorm dgamma" });
      dbeta = new Tensor(beta.shape, { label: "layerNorm dbeta" });
      const finish = { a: partial, out: dgamma, out2: dbeta };
      LAYERNORM.launch("layernorm_backward_params_finish", finish, dims, cols);
      partial.dispose();
    }
    stats.dispose();
    return [
      x.requiresGrad ? dx : (dx.dispose(), null),
      gamma.requiresGrad ? dgamma : (dgamma?.dispose(), null),
      beta.requiresGrad ? dbeta : (dbeta?.dispose(), null),
    ];
  });
}
