/**
 * CPU twin of `kernels/gather.wgsl` and `kernels/transpose.wgsl`, in float64.
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

/** The transpose of a `rows × cols` matrix. */
export function transposeRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}
