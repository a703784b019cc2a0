/**
 * CPU twin of `kernels/attention.wgsl`, in float64: masked multi-head self-attention over lists.
 *
 * Q, K, V are `[lists·n, heads·dh]` row-major; row `l·n + i` is item i of list l, head h owns
 * columns `h·dh … (h+1)·dh − 1`. `mask` (1 = valid, 0 = padding; null = all valid) has `lists·n`
 * values.
 *
 * @module
 */

/** Shape of an attention problem. */
export interface AttentionShape {
  /** Lists. */
  lists: number;
  /** Items per list. */
  n: number;
  /** Heads. */
  heads: number;
  /** Head dimension. */
  dh: number;
}

function isValid(mask: ArrayLike<number> | null, row: number): boolean {
  return mask === null || mask[row] > 0.5;
}

/** Probabilities P[l, h, i, j] (0 for padded keys, and for padded queries). */
function probabilities(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  { lists, n, heads, dh }: AttentionShape,
): Float64Array {
  const dm = heads * dh;
  const scale = 1 / Math.sqrt(dh);
  const p = new Float64Array(lists * heads * n * n);
  const s = new Float64Array(n);
  for (let l = 0; l < lists; l++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        if (!isValid(mask, l * n + i)) continue;
        let m = -Infinity;
        for (let j = 0; j < n; j++) {
          if (!isValid(mask, l * n + j)) continue;
          let x = 0;
          for (let d = 0; d < dh; d++) {
            x += q[(l * n + i) * dm + h * dh + d] * k[(l * n + j) * dm + h * dh + d];
          }
          s[j] = x * scale;
          m = Math.max(m, s[j]);
        }
        let z = 0;
        for (let j = 0; j < n; j++) if (isValid(mask, l * n + j)) z += Math.exp(s[j] - m);
        const base = ((l * heads + h) * n + i) * n;
        for (let j = 0; j < n; j++) {
          if (isValid(mask, l * n + j)) p[base + j] = Math.exp(s[j] - m) / z;
        }
      }
    }
  }
  return p;
}

/** The attention output `[lists·n, heads·dh]`; padded queries get zeros. */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  shape: AttentionShape,
): Float64Array {
  const { lists, n, heads, dh } = shape;
  const dm = heads * dh;
  const p = probabilities(q, k, mask, shape);
  const out = new Float64Array(lists * n * dm);
  for (let l = 0; l < lists; l++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        const base = ((l * heads + h) * n + i) * n;
        for (let j = 0; j < n; j++) {
          const pij = p[base + j];
          if (pij === 0) continue;
          for (let d = 0; d < dh; d++) {
            out[(l * n + i) * dm + h * dh + d] += pij * v[(l * n + j) * dm + h * dh + d];
          }
        }
      }
    }
  }
  return out;
}

/** Gradients of `Σ g ⊙ attention(q, k, v)` with respect to q, k and v. */
export function attentionBackwardRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  g: ArrayLike<number>,
  shape: AttentionShape,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { lists, n, heads, dh } = shape;
  const dm = heads * dh;
  const scale = 1 / Math.sqrt(dh);
  const p = probabilities(q, k, mask, shape);
  const dq = new Float64Array(lists * n * dm);
  const dk = new Float64Array(lists * n * dm);
  const dv = new Float64Array(lists * n * dm);
  const at = (l: number, i: number, h: number) => (l * n + i) * dm + h * dh;
  const dp = new Float64Array(n);
  for (let l = 0; l < lists; l++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        const base = ((l * heads + h) * n + i) * n;
        // dP_ij = g_i · v_j; dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik)
        let delta = 0;
        for (let j = 0; j < n; j++) {
          let x = 0;
          for (let d = 0; d < dh; d++) x += g[at(l, i, h) + d] * v[at(l, j, h) + d];
          dp[j] = x;
          delta += p[base + j] * x;
        }
        for (let j = 0; j < n; j++) {
          const pij = p[base + j];
          if (pij === 0) continue;
          const ds = pij * (dp[j] - delta);
          for (let d = 0; d < dh; d++) {
            dq[at(l, i, h) + d] += ds * scale * k[at(l, j, h) + d];
            dk[at(l, j, h) + d] += ds * scale * q[at(l, i, h) + d];
            dv[at(l, j, h) + d] += pij * g[at(l, i, h) + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
