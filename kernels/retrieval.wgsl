// Chunked retrieval evaluation (src/ops/retrieval.ts): row preparation and per-pair rank counts
// accumulated over blocks of similarity scores. The blocks, and the scores of the relevant (text,
// image) pairs, come from kernels/matmul.wgsl (mm_nt and its diagonal mm_nt_rows, equal bit for
// bit). CPU twin: src/reference/retrieval.ts.
//
// A block holds the scores of a chunk of gallery rows (images; `ng` rows starting at global row
// `row0`) against a chunk of query rows (texts; `nq` rows starting at global row `col0`),
// row-major: block[j * stride + c] = <image row0 + j, text col0 + c>, with stride = nq.
//
// What the bindings hold: a = raw rows (prepare_rows) or a score block (counts); bu = the source
// row index (prepare_rows, flags bit 1) or the text -> image relation (counts).
//
// Prepared rows are L2-normalised when flags bit 0 is set: x / ||x|| with the norm computed as
// m * sqrt(sum (x / m)^2), m = max |x| (exact in direction for any finite, non-zero row, at 1e-15 or
// 1e19 scale alike); a zero row stays zero. Rows are zero-padded to d4 * 4 columns, so the matmul
// kernel reads whole vec4s.
//
// Tie rule (pessimistic): in the ranking of a query, an item scoring the same as a relevant item r
// ranks above r when it is not relevant; tied relevant items are ordered by index. So the rank of r
// (1-based) is 1 + the number of items g != r with s_g > s_r, or s_g == s_r and (g not relevant or
// g < r). A constant score row gives every relevant item the worst ranks it can have.
//
// On llvmpipe barriers are costly, so nothing here uses workgroup memory: one invocation per row,
// text or pair loops serially.

// o[r, :] = normalised, zero-padded copy of source row (flags & 2 ? bu[r] : row0 + r).
// One invocation per row.
@compute @workgroup_size(WG)
fn prepare_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let r = linear_index(wid, nwg, lid, WG);
  if (r >= p.rows) { return; }
  var src = p.row0 + r;
  if ((p.flags & 2u) != 0u) { src = bu[r]; }
  let base = src * p.cols;
  var scale = 1.0;
  if ((p.flags & 1u) != 0u) {
    var m = 0.0;
    for (var k = 0u; k < p.cols; k++) { m = max(m, abs(a[base + k])); }
    scale = 0.0;
    if (m > 0.0) {
      let im = 1.0 / m;
      var s = 0.0;
      for (var k = 0u; k < p.cols; k++) {
        let x = a[base + k] * im;
        s += x * x;
      }
      scale = im / sqrt(s);
    }
  }
  let width = p.d4 * 4u;
  let out = r * width;
  for (var k = 0u; k < width; k++) {
    var x = 0.0;
    if (k < p.cols) { x = a[base + k] * scale; }
    o[out + k] = x;
  }
}

// Text -> image: for each text t = col0 + c of the block, counts[offset + t] += the number of
// images i = row0 + j (j < rows) that rank above t's image r = bu[t]: i != r and s >= rel[t]
// (only r is relevant, so every tie ranks above it). One invocation per text of the block.
@compute @workgroup_size(WG)
fn count_t2i(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let c = linear_index(wid, nwg, lid, WG);
  if (c >= p.cols) { return; }
  let t = p.col0 + c;
  let r = bu[t];
  let sr = rel[t];
  var n = 0u;
  for (var j = 0u; j < p.rows; j++) {
    let s = a[j * p.stride + c];
    if (s >= sr && p.row0 + j != r) { n++; }
  }
  counts[p.offset + t] += n;
}

// Image -> text: for each relevant pair (image i, text t = order[start + k]), k < count, with i in
// the block, counts[offset + t] += the number of the block's texts u = col0 + c that rank above t
// in image i's ranking: u != t and (s > rel[t], or s == rel[t] and (u is not i's or u < t)).
// One invocation per pair.
@compute @workgroup_size(WG)
fn count_i2t(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  if (k >= p.count) { return; }
  let t = order[p.start + k];
  let i = bu[t];
  let base = (i - p.row0) * p.stride;
  let sr = rel[t];
  var n = 0u;
  for (var c = 0u; c < p.cols; c++) {
    let u = p.col0 + c;
    let s = a[base + c];
    if (u != t && (s > sr || (s == sr && (bu[u] != i || u < t)))) { n++; }
  }
  counts[p.offset + t] += n;
}
