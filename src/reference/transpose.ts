/**
 * CPU twin of `kernels/transpose.wgsl`, in float64.
 *
 * @module
 */

/** The transpose of a `rows × cols` matrix. */
export function transposeRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}
