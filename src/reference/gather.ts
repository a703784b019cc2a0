/**
 * CPU twin of `kernels/gather.wgsl`, in float64.
 *
 * @module
 */

/** Row `r` of the result is row `index[r]` of the `cols`-column matrix `src`. */
export function gatherRowsRef(
  src: ArrayLike<number>,
  cols: number,
  index: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(index.length * cols);
  for (let r = 0; r < index.length; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = src[index[r] * cols + c];
  }
  return out;
}
