/**
 * Row gather (`kernels/gather.wgsl`): `out[r] = src[index[r]]`, with the adjoint scatter-add as its
 * backward rule (rows gathered twice receive both gradients).
 *
 * @module
 */

import { GATHER } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { record } from "../autodiff/tape.ts";
import { Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

function u32Buffer(values: Uint32Array<ArrayBuffer>, label: string): GPUBuffer {
  const buf = rt().pool.acquire(Math.max(values.byteLength, 4), label);
  rt().upload(buf, values.length > 0 ? values : new Uint32Array(1));
  return buf;
}

/**
 * Gathers rows of the 2-D `src`: row r of the result is row `index[r]` of `src`. Indices are host
 * integers (a batch's sample ids); an index out of range throws naming it.
 */
export function gatherRows(src: Tensor, index: ArrayLike<number>): Tensor {
  const [srcRows, cols] = dims2(src, "gatherRows");
  const idx = new Uint32Array(index.length);
  for (let r = 0; r < index.length; r++) {
    const i = index[r];
    if (!Number.isInteger(i) || i < 0 || i >= srcRows) {
      throw new RangeError(`gatherRows: index[${r}] = ${i} is outside 0..${srcRows - 1}`);
    }
    idx[r] = i;
  }
  const rows = idx.length;
  const out = new Tensor([rows, cols], { label: "gather" });
  const pool = rt().pool;
  const idxBuf = u32Buffer(idx, "gather index");
  // Rows of whole quads are gathered four elements per invocation.
  const quads = cols % 4 === 0;
  GATHER.launch(
    quads ? "gather_rows4" : "gather_rows",
    { src, idx: idxBuf, out },
    { rows, cols, src_rows: srcRows },
    quads ? rows * cols / 4 : rows * cols,
  );
  pool.release(idxBuf);
  return record(out, "gatherRows", [src], (g) => [scatterAddRows(g, idx, srcRows)]);
}

/** The adjoint of {@link gatherRows}: `out[s] = Σ_{r: index[r] = s} g[r]`, shape `[srcRows, cols]`. */
export function scatterAddRows(
  g: Tensor,
  index: Uint32Array<ArrayBuffer>,
  srcRows: number,
): Tensor {
  const [, cols] = dims2(g, "scatterAddRows");
  // CSR inverse map: for each source row s, the gathered rows r with index[r] = s.
  const offsets = new Uint32Array(srcRows + 1);
  for (const s of index) offsets[s + 1]++;
  for (let s = 0; s < srcRows; s++) offsets[s + 1] += offsets[s];
  const fill = offsets.slice(0, srcRows);
  const list = new Uint32Array(index.length);
  index.forEach((s, r) => list[fill[s]++] = r);
  const out = new Tensor([srcRows, cols], { label: "scatter" });
  const listBuf = u32Buffer(list, "scatter list");
  const offBuf = u32Buffer(offsets, "scatter offsets");
  const params = { rows: srcRows, cols, src_rows: index.length };
  GATHER.launch(
    "scatter_add_rows",
    { src: g, idx: listBuf, offsets: offBuf, out },
    params,
    srcRows * cols,
  );
  rt().pool.release(listBuf);
  rt().pool.release(offBuf);
  return record(out, "scatterAddRows", [g], (gg) => [gatherRows(gg, index)]);
}
