/**
 * CPU twin of `kernels/gumbel.wgsl`, in float64: the Gumbel perturbation of allRank's
 * `stochastic_neural_sort` (the same uniforms, bit for bit, from the same hash), its gradient, and
 * the stochastic NeuralNDCG loss built on the NeuralNDCG twin.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";
import { lowbias32 } from "../util/random.ts";
import { neuralNdcgRef, type NeuralNdcgRefOptions } from "./neuralndcg.ts";

const { EPS, F32_MAX } = PRELUDE;

/** Options of the perturbation (see `src/ops/gumbel.ts`). */
export interface GumbelRefOptions {
  /** Draws. */
  samples: number;
  /** First draw index (default 0). */
  first?: number;
  /** Stream seed (u32). */
  seed: number;
  /** Noise scale β. */
  beta: number;
  /** log(s + |m| + EPS) before the noise. */
  logScores: boolean;
}

/** The uniform in [0, 1) of draw `d`, list `l` and the `v`-th valid item of that list. */
export function gumbelUniform(seed: number, d: number, l: number, v: number): number {
  const stream = lowbias32((lowbias32((lowbias32(seed) ^ d) >>> 0) ^ l) >>> 0);
  return (lowbias32((stream ^ v) >>> 0) >>> 8) / 2 ** 24;
}

/** allRank's `sample_gumbel` of one uniform: `−log(−log(u + EPS) + EPS)`. */
export function gumbelOf(u: number): number {
  return -Math.log(-Math.log(u + EPS) + EPS);
}

/** Minimum of the valid scores (label ≥ 0) of the batch and its ties; `{0, 0}` if none. */
export function validMinRef(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
): { min: number; ties: number } {
  let min = 0;
  let ties = 0;
  scores.forEach((row, l) =>
    row.forEach((s, i) => {
      if (labels[l][i] < 0) return;
      if (ties === 0 || s < min) [min, ties] = [s, 1];
      else if (s === min) ties++;
    })
  );
  return { min, ties };
}

/** A source of uniforms `(draw, list, valid rank) → u`; default the kernel's hash of the seed. */
export type Uniforms = (d: number, l: number, v: number) => number;

function hashUniforms(o: GumbelRefOptions): Uniforms {
  return (d, l, v) => gumbelUniform(o.seed, (o.first ?? 0) + d, l, v);
}

/** x(s) = log(s + |m| + EPS) or s + |m|, and its slope. */
function shifted(s: number, am: number, log: boolean): [number, number] {
  return log ? [Math.log(s + am + EPS), 1 / (s + am + EPS)] : [s + am, 1];
}

/**
 * The perturbed scores, `samples · lists` rows (draw-major), 0 at padding, clamped to the float32
 * range. `uniforms` replaces the hash (e.g. fixed noise for finite differences).
 */
export function gumbelPerturbRef(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  o: GumbelRefOptions,
  uniforms: Uniforms = hashUniforms(o),
): number[][] {
  const am = Math.abs(validMinRef(scores, labels).min);
  const out: number[][] = [];
  for (let d = 0; d < o.samples; d++) {
    scores.forEach((row, l) => {
      let v = 0;
      out.push(row.map((s, i) => {
        if (labels[l][i] < 0) return 0;
        const x = shifted(s, am, o.logScores)[0] + o.beta * gumbelOf(uniforms(d, l, v++));
        return Math.min(Math.max(x, -F32_MAX), F32_MAX);
      }));
    });
  }
  return out;
}

/**
 * d loss / d scores given `upstream` = d loss / d perturbed scores (`samples · lists` rows): the
 * chain rule through x(s) and through |m| (`sign(m)/ties · Σ_j w_j` to the minimum items; none at
 * m = 0); no gradient where the output was clamped.
 */
export function gumbelPerturbGradRef(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  upstream: readonly (readonly number[])[],
  o: GumbelRefOptions,
  uniforms: Uniforms = hashUniforms(o),
): number[][] {
  const { min, ties } = validMinRef(scores, labels);
  const am = Math.abs(min);
  const lists = scores.length;
  const grad = scores.map((row) => row.map(() => 0));
  let atMin = 0;
  let rest = 0;
  scores.forEach((row, l) => {
    let v = 0;
    const ranks = row.map((_, i) => labels[l][i] < 0 ? -1 : v++);
    row.forEach((s, i) => {
      if (ranks[i] < 0) return;
      const [x, slope] = shifted(s, am, o.logScores);
      let g = 0;
      for (let d = 0; d < o.samples; d++) {
        const value = x + o.beta * gumbelOf(uniforms(d, l, ranks[i]));
        if (Math.abs(value) <= F32_MAX) g += upstream[d * lists + l][i];
      }
      grad[l][i] = g * slope;
      if (s === min) atMin += grad[l][i];
      else rest += grad[l][i];
    });
  });
  if (ties > 0 && min !== 0) {
    // summed as the kernel does: with one minimum and m < 0 its own (large) term cancels exactly
    const sg = Math.sign(min);
    scores.forEach((row, l) =>
      row.forEach((s, i) => {
        if (labels[l][i] >= 0 && s === min) {
          grad[l][i] = (grad[l][i] + sg * atMin / ties) + sg * rest / ties;
        }
      })
    );
  }
  return grad;
}

/**
 * The stochastic NeuralNDCG loss (allRank `neuralNDCG(…, stochastic=True)`): the mean over draws of
 * the NeuralNDCG loss of each draw's perturbed scores (every draw has the same lists with a
 * positive IDCG, so this is allRank's `ndcg.sum() / (N · n_samples)`).
 */
export function stochasticNeuralNdcgRef(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  o: NeuralNdcgRefOptions & GumbelRefOptions,
  uniforms?: Uniforms,
): number {
  const perturbed = gumbelPerturbRef(scores, labels, o, uniforms);
  const lists = scores.length;
  let sum = 0;
  for (let d = 0; d < o.samples; d++) {
    sum += neuralNdcgRef(perturbed.slice(d * lists, (d + 1) * lists), labels, o);
  }
  return sum / o.samples;
}
