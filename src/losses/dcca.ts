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
 * Retrieval: after training (and before each validation) the run fits the final linear CCA of
 * Andrew et al. on the whole training part ({@link fitCca}) into the model (`config.cca`), and
 * scores by cosine in that canonical space.
 *
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
import {
  type Mat,
  matmulHost,
  matrixFunction,
  symmetricEigen,
  transposeHost,
} from "../util/linalg.ts";

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

/** A fitted linear CCA: each side's mean and projection (row-major) and the correlations. */
export interface CcaFit {
  /** Text side: mean `[d]`, projection `[d, d]`. */
  text: { mean: Float32Array; proj: Float32Array };
  /** Image side: mean `[d]`, projection `[d, d]`. */
  image: { mean: Float32Array; proj: Float32Array };
  /** The canonical correlations ρ, descending. */
  correlations: number[];
}

/**
 * The final linear CCA of a `dcca` run (Andrew et al. project the learned outputs on their
 * canonical directions; cosine scores are then meaningful, which the rotation-invariant loss alone
 * does not make them). Fitted in float64 on m paired rows `u1`, `u2` `[m, d]` (row-major) with
 * the loss's regulariser r: T = Σ11^{−1/2} Σ12 Σ22^{−1/2} = U diag(ρ) Vᵀ, and the projections are
 * P1 = Σ11^{−1/2} U diag(√ρ), P2 = Σ22^{−1/2} V diag(√ρ), so that the inner product of projected
 * pairs weights each canonical pair by its correlation ρ (P1ᵀ Σ12 P2 = diag(ρ²),
 * P1ᵀ Σ11 P1 = diag(ρ)).
 */
export function fitCca(
  u1: ArrayLike<number>,
  u2: ArrayLike<number>,
  m: number,
  d: number,
  reg: number,
): CcaFit {
  if (u1.length !== m * d || u2.length !== m * d) {
    throw new RangeError(`fitCca: expected two ${m} × ${d} matrices`);
  }
  if (m < 2) throw new RangeError(`fitCca: needs at least 2 paired rows, got ${m}`);
  const meanOf = (u: ArrayLike<number>) => {
    const mu = new Float64Array(d);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mu[j] += u[i * d + j] / m;
    return mu;
  };
  const [mu1, mu2] = [meanOf(u1), meanOf(u2)];
  const cov = (a: ArrayLike<number>, ma: Float64Array, b: ArrayLike<number>, mb: Float64Array) => {
    const c: Mat = Array.from({ length: d }, () => new Array(d).fill(0));
    const x = new Float64Array(d);
    const y = new Float64Array(d);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < d; j++) {
        x[j] = a[i * d + j] - ma[j];
        y[j] = b[i * d + j] - mb[j];
      }
      for (let j = 0; j < d; j++) {
        const xj = x[j];
        if (xj === 0) continue;
        const row = c[j];
        for (let k = 0; k < d; k++) row[k] += xj * y[k];
      }
    }
    return c.map((row) => row.map((v) => v / (m - 1)));
  };
  const withReg = (c: Mat) => c.map((row, i) => row.map((v, j) => v + (i === j ? reg : 0)));
  const w1 = matrixFunction(withReg(cov(u1, mu1, u1, mu1)), (x) => 1 / Math.sqrt(x));
  const w2 = matrixFunction(withReg(cov(u2, mu2, u2, mu2)), (x) => 1 / Math.sqrt(x));
  const t = matmulHost(matmulHost(w1, cov(u1, mu1, u2, mu2)), w2);
  const eig = symmetricEigen(matmulHost(transposeHost(t), t));
  const order = eig.values.map((_, k) => k).sort((a, b) => eig.values[b] - eig.values[a]);
  const rho = order.map((k) => Math.sqrt(Math.max(eig.values[k], 0)));
  const v = eig.vectors.map((row) => order.map((k) => row[k]));
  // U diag(√ρ) = T V diag(ρ^(−1/2)); a zero correlation's column is 0 either way
  const tv = matmulHost(t, v);
  const uScaled = tv.map((row) => row.map((x, k) => rho[k] > 1e-12 ? x / Math.sqrt(rho[k]) : 0));
  const vScaled = v.map((row) => row.map((x, k) => x * Math.sqrt(rho[k])));
  const flat = (a: Mat) => Float32Array.from(a.flat());
  return {
    text: { mean: Float32Array.from(mu1), proj: flat(matmulHost(w1, uScaled)) },
    image: { mean: Float32Array.from(mu2), proj: flat(matmulHost(w2, vScaled)) },
    correlations: rho,
  };
}
