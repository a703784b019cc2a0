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
// row index (prepare_rows, flags bit 1). The graded relation (counts), one entry per relevant pair
// p: pairs[3p .. 3p + 3) = (text, image, grade >= 1), by text, text t's pairs at
// [offsets[t], offsets[t + 1]); rel[p] = the pair's score (the block entry, bit for bit); order =
// the pair indices sorted by image; counts[offset + p] = the items ranking above the pair's item.
//
// Prepared rows are L2-normalised when flags bit 0 is set: x / ||x|| with the norm computed as
// m * sqrt(sum (x / m)^2), m = max |x| (exact in direction for any finite, non-zero row, at 1e-15 or
// 1e19 scale alike); a zero row stays zero. Rows are zero-padded to d4 * 4 columns, so the matmul
// kernel reads whole vec4s.
//
// Tie rule (pessimistic, graded): in the ranking of a query, an item g scoring the same as a
// relevant item r ranks above r when its grade is lower (not relevant: grade 0), or equal and
// g < r. So the rank of r (1-based) is 1 + the number of items g != r with s_g > s_r, or
// s_g == s_r and (grade_g < grade_r, or grade_g == grade_r and g < r). A constant score row gives
// every relevant item the worst ranks it can have. Grades of other items are looked up (in the
// query text's pairs) only on exact ties.
//
// On llvmpipe barriers are costly, so nothing here uses workgroup memory: one invocation per row
// or pair loops serially.

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

// The grade of (text t, image x): the grade of their pair, 0 when there is none.
fn grade_of(t: u32, x: u32) -> u32 {
  for (var q = offsets[t]; q < offsets[t + 1u]; q++) {
    if (pairs[3u * q + 1u] == x) { return pairs[3u * q + 2u]; }
  }
  return 0u;
}

// Whether an item scoring s ranks above a relevant item scoring sr, of grade g and index r, in a
// query's ranking (the tie rule above): the item is `item`, and (text, image) its pair with the
// query, whose grade is looked up only on an exact tie.
fn ranks_above(s: f32, sr: f32, text: u32, image: u32, item: u32, g: u32, r: u32) -> bool {
  if (s != sr) { return s > sr; }
  let gi = grade_of(text, image);
  return gi < g || (gi == g && item < r);
}

// Text -> image: for each pair p = start + k (k < count, its text t = col0 + c in the block, image
// r, grade g), counts[offset + p] += the number of the block's images x = row0 + j (j < rows) that
// rank above r in t's ranking (see the tie rule). One invocation per pair.
@compute @workgroup_size(WG)
fn count_t2i(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  if (k >= p.count) { return; }
  let q = p.start + k;
  let t = pairs[3u * q];
  let r = pairs[3u * q + 1u];
  let g = pairs[3u * q + 2u];
  let c = t - p.col0;
  let sr = rel[q];
  var n = 0u;
  for (var j = 0u; j < p.rows; j++) {
    let x = p.row0 + j;
    if (x != r && ranks_above(a[j * p.stride + c], sr, t, x, x, g, r)) { n++; }
  }
  counts[p.offset + q] += n;
}

// Image -> text: for each pair q = order[start + k] (k < count, its image i in the block, text t,
// grade g), counts[offset + q] += the number of the block's texts u = col0 + c (c < cols) that rank
// above t in i's ranking (see the tie rule). One invocation per pair.
@compute @workgroup_size(WG)
fn count_i2t(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  if (k >= p.count) { return; }
  let q = order[p.start + k];
  let t = pairs[3u * q];
  let i = pairs[3u * q + 1u];
  let g = pairs[3u * q + 2u];
  let base = (i - p.row0) * p.stride;
  let sr = rel[q];
  var n = 0u;
  for (var c = 0u; c < p.cols; c++) {
    let u = p.col0 + c;
    if (u != t && ranks_above(a[base + c], sr, u, i, u, g, t)) { n++; }
  }
  counts[p.offset + q] += n;
}
