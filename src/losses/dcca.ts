/**
 * `dcca` — Deep CCA (Andrew, Arora, Bilmes, Livescu, "Deep Canonical Correlation Analysis",
 * ICML 2013), the correlation objective of Yan & Mikolajczyk's deep correlation matching (CVPR
 * 2015). A *batch* loss on paired embeddings, not a loss on score lists: it lives beside the list
 * losses in training (`--loss dcca`), not in `rankingLoss`.
 *
 * For m paired rows H1, H2 `[m, d]` (a batch's text embeddings and their images' embeddings):
 * each row is L2-normalised (the embeddings retrieval scores by cosine), the columns are centred
 * (H̄ = H − mean row), and
 * - Σ12 = H̄1ᵀH̄2 / (m − 1), Σ11 = H̄1ᵀH̄1 / (m − 1) + r·I, Σ22 = H̄2ᵀH̄2 / (m − 1) + r·I;
 * - T = Σ11^{−1/2} Σ12 Σ22^{−1/2}, whose singular values are the canonical correlations;
 * - loss = −‖T‖_tr = −Σ canonical correlations = −trace((TᵀT)^{1/2}).
 *
 * Defaults: `reg` r = 1e-3 (absolute, as Andrew et al.'s r1 = r2; on unit-norm rows the covariances'
 * traces are at most m / (m − 1), so r is 1e-3 of at most that trace), `iters` = 20 Newton–Schulz
 * iterations.
 *
 * Built from differentiable ops (matmul, axpby, …) so the tape gives the gradient: the inverse
 * square roots and the square root of TᵀT are coupled Newton–Schulz iterations
 * (Y₀ = A / c, Z₀ = I; P = (3I − Z Y) / 2, Y ← Y P, Z ← P Z; Y → (A/c)^{1/2}, Z → (A/c)^{−1/2}),
 * with c a bound on the largest eigenvalue known on the host (m / (m − 1) + d·r for the
 * covariances, 1 for TᵀT, whose eigenvalues are squared correlations < 1): nothing is read back.
 * A fixed number of iterations converges for eigenvalues above about c·1.5^−(iters − 5); smaller
 * ones (directions of tiny variance or correlation) are under-weighted, which acts as extra
 * regularisation and keeps the gradient finite where √ has an infinite slope at 0. Cost: 9·iters
 * d × d × d products forward, twice that backward.
 *
 * @module
 */

import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { axpby, mul, scale, sub } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { broadcastCols, colSum, l2Normalize, sumAll } from "../ops/reduce.ts";
import { dims2 } from "../ops/common.ts";

/** Options of {@link dccaLoss}. */
export interface DccaOptions {
  /** Covariance regulariser r (added to both covariances' diagonals). */
  reg: number;
  /** Newton–Schulz iterations per matrix function. */
  iters: number;
}

/** The batch losses: trained on embeddings, not score lists (`--loss dcca`). */
export const BATCH_LOSSES: Record<
  string,
  { summary: string; defaults: Record<string, number> }
> = {
  dcca: {
    summary:
      "Deep CCA (Andrew et al. 2013): −Σ canonical correlations of the batch's text and image " +
      "embeddings, reg 1e-3, 20 Newton–Schulz iterations",
    defaults: { reg: 1e-3, iters: 20 },
  },
};

/** Whether `name` is a batch loss (see {@link BATCH_LOSSES}). */
export function isBatchLoss(name: string): boolean {
  return Object.hasOwn(BATCH_LOSSES, name);
}

/** Resolves and checks `dcca` options (unknown keys, types and ranges name the option). */
export function dccaOptions(options: Record<string, unknown> = {}): DccaOptions {
  const defaults = BATCH_LOSSES.dcca.defaults;
  const out = { ...defaults };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in defaults)) {
      throw new RangeError(
        `loss 'dcca': unknown option '${key}'; options: ${Object.keys(defaults).join(", ")}`,
      );
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new TypeError(`loss 'dcca': option '${key}' must be a finite number, got ${value}`);
    }
    out[key] = value;
  }
  if (!(out.reg > 0)) throw new RangeError(`loss 'dcca': option 'reg' must be > 0, got ${out.reg}`);
  if (!Number.isInteger(out.iters) || out.iters < 1) {
    throw new RangeError(`loss 'dcca': option 'iters' must be an integer ≥ 1, got ${out.iters}`);
  }
  return { reg: out.reg, iters: out.iters };
}

/** The d × d identity times `alpha` (a constant). */
function eye(d: number, alpha = 1): Tensor {
  const data = new Float32Array(d * d);
  for (let i = 0; i < d; i++) data[i * d + i] = alpha;
  return Tensor.from(data, [d, d], { label: `identity ${d}` });
}

/**
 * Coupled Newton–Schulz iterations on a symmetric positive semi-definite `a` whose eigenvalues are
 * at most `c`: returns `[a^{1/2}, a^{−1/2}]` (approximations after `iters` steps).
 */
export function newtonSchulz(a: Tensor, c: number, iters: number): [Tensor, Tensor] {
  const [d] = dims2(a, "newtonSchulz");
  const id = eye(d);
  let y = scale(a, 1 / c);
  let z: Tensor = id;
  for (let k = 0; k < iters; k++) {
    const p = axpby(1.5, id, -0.5, k === 0 ? y : matmul(z, y));
    y = matmul(y, p);
    z = k === 0 ? p : matmul(p, z);
  }
  return [scale(y, Math.sqrt(c)), scale(z, 1 / Math.sqrt(c))];
}

/** Records `dcca` of paired rows `h1`, `h2` (`[m, d]`, m ≥ 2); see the module docs. */
export function dccaLoss(h1: Tensor, h2: Tensor, options: DccaOptions): Tensor {
  const [m, d] = dims2(h1, "loss 'dcca' h1");
  const [m2, d2] = dims2(h2, "loss 'dcca' h2");
  if (m !== m2 || d !== d2) {
    throw new RangeError(
      `loss 'dcca': h1 ${shapeString(h1.shape)} and h2 ${shapeString(h2.shape)} must be equal`,
    );
  }
  if (m < 2) throw new RangeError(`loss 'dcca': needs at least 2 paired rows, got ${m}`);
  const { reg, iters } = options;
  const centred = (h: Tensor) => {
    const u = l2Normalize(h);
    return sub(u, broadcastCols(colSum(u, 1 / m), m, d));
  };
  const [c1, c2] = [centred(h1), centred(h2)];
  const cov = (a: Tensor, b: Tensor) => scale(matmul(a, b, { transA: true }), 1 / (m - 1));
  const regI = eye(d, reg);
  const bound = m / (m - 1) + d * reg;
  const [, w1] = newtonSchulz(axpby(1, cov(c1, c1), 1, regI), bound, iters);
  const [, w2] = newtonSchulz(axpby(1, cov(c2, c2), 1, regI), bound, iters);
  const t = matmul(matmul(w1, cov(c1, c2)), w2);
  const [root] = newtonSchulz(matmul(t, t, { transA: true }), 1, iters);
  return sumAll(mul(root, eye(d)), -1);
}
