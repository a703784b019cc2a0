// Chunked retrieval evaluation (src/eval/scores.ts, src/eval/retrieval.ts): row preparation,
// blocks of similarity scores, the scores of the relevant (text, image) pairs, and per-pair rank
// counts accumulated over blocks. CPU twin: src/reference/retrieval.ts.
//
// A block holds the scores of a chunk of gallery rows (images; `ng` rows starting at global row
// `row0`) against a chunk of query rows (texts; `nq` rows starting at global row `col0`),
// row-major: block[j * stride + c] = <image row0 + j, text col0 + c>, with stride = nq.
//
// What the bindings hold: a = raw rows (prepare_rows), prepared gallery rows as vec4s a4 (scores,
// pair_scores) or a score block (counts); b4 = prepared query rows (scores, pair_scores), as bu the
// source row index (prepare_rows, flags bit 1) or the text -> image relation (counts).
//
// Prepared rows are L2-normalised (x / max(||x||, NORM_EPS), when flags bit 0 is set) and zero-padded
// to d4 * 4 columns, so the score kernels read whole vec4s.
//
// Tie rule (pessimistic): in the ranking of a query, an item scoring the same as a relevant item r
// ranks above r when it is not relevant; tied relevant items are ordered by index. So the rank of r
// (1-based) is 1 + the number of items g != r with s_g > s_r, or s_g == s_r and (g not relevant or
// g < r). A constant score row gives every relevant item the worst ranks it can have.
//
// On llvmpipe, barriers are costly and storage loads are far dearer than arithmetic, so nothing
// here uses workgroup memory, and the block kernels amortise each load over many multiply-adds:
// every invocation register-blocks 32 gallery rows x 32 queries, and one side's rows are read at
// workgroup-uniform addresses. On one 1024 x 1024 x 512 block this is about as fast as the
// project's matmul (bench/eval_bench.ts measures the ratio); it lives here so that `pair_scores`
// can repeat its arithmetic exactly.

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
  var norm = 1.0;
  if ((p.flags & 1u) != 0u) {
    var s = 0.0;
    for (var k = 0u; k < p.cols; k++) {
      let x = a[base + k];
      s += x * x;
    }
    norm = max(sqrt(s), NORM_EPS);
  }
  let width = p.d4 * 4u;
  let out = r * width;
  for (var k = 0u; k < width; k++) {
    var x = 0.0;
    if (k < p.cols) { x = a[base + k] / norm; }
    o[out + k] = x;
  }
}

fn gallery(j: u32, t: u32) -> vec4<f32> {
  return a4[min(j, p.rows - 1u) * p.d4 + t];
}

fn queries4(c: u32, t: u32) -> mat4x4<f32> {
  let last = p.cols - 1u;
  return mat4x4<f32>(
    b4[min(c, last) * p.d4 + t],
    b4[min(c + 1u, last) * p.d4 + t],
    b4[min(c + 2u, last) * p.d4 + t],
    b4[min(c + 3u, last) * p.d4 + t],
  );
}

fn store4(j: u32, c: u32, v: vec4<f32>) {
  if (j >= p.rows) { return; }
  for (var i = 0u; i < 4u; i++) {
    if (c + i < p.cols) { o[j * p.stride + c + i] = v[i]; }
  }
}

// o[j * stride + c] = <a4 row j, b4 row c> for j < rows (gallery), c < cols (queries).
// Workgroup (x, y) covers queries [256 x, 256 x + 256) and gallery rows [32 y, 32 y + 32); each
// of its 8 invocations (one SIMD vector on llvmpipe) computes 32 rows x 32 queries, 256 vec4
// accumulators: g_r * Q (vec4 x mat4x4 of 4 queries) gives 4 dot products. The body is unrolled
// by hand so the accumulators stay in registers (loops over arrays of them spill to memory).
@compute @workgroup_size(8)
fn scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x * 8u + lid) * 32u;
  let j = wid.y * 32u;
  var s00a = vec4<f32>(); var s00b = vec4<f32>(); var s00c = vec4<f32>(); var s00d = vec4<f32>();
  var s00e = vec4<f32>(); var s00f = vec4<f32>(); var s00g = vec4<f32>(); var s00h = vec4<f32>();
  var s01a = vec4<f32>(); var s01b = vec4<f32>(); var s01c = vec4<f32>(); var s01d = vec4<f32>();
  var s01e = vec4<f32>(); var s01f = vec4<f32>(); var s01g = vec4<f32>(); var s01h = vec4<f32>();
  var s02a = vec4<f32>(); var s02b = vec4<f32>(); var s02c = vec4<f32>(); var s02d = vec4<f32>();
  var s02e = vec4<f32>(); var s02f = vec4<f32>(); var s02g = vec4<f32>(); var s02h = vec4<f32>();
  var s03a = vec4<f32>(); var s03b = vec4<f32>(); var s03c = vec4<f32>(); var s03d = vec4<f32>();
  var s03e = vec4<f32>(); var s03f = vec4<f32>(); var s03g = vec4<f32>(); var s03h = vec4<f32>();
  var s04a = vec4<f32>(); var s04b = vec4<f32>(); var s04c = vec4<f32>(); var s04d = vec4<f32>();
  var s04e = vec4<f32>(); var s04f = vec4<f32>(); var s04g = vec4<f32>(); var s04h = vec4<f32>();
  var s05a = vec4<f32>(); var s05b = vec4<f32>(); var s05c = vec4<f32>(); var s05d = vec4<f32>();
  var s05e = vec4<f32>(); var s05f = vec4<f32>(); var s05g = vec4<f32>(); var s05h = vec4<f32>();
  var s06a = vec4<f32>(); var s06b = vec4<f32>(); var s06c = vec4<f32>(); var s06d = vec4<f32>();
  var s06e = vec4<f32>(); var s06f = vec4<f32>(); var s06g = vec4<f32>(); var s06h = vec4<f32>();
  var s07a = vec4<f32>(); var s07b = vec4<f32>(); var s07c = vec4<f32>(); var s07d = vec4<f32>();
  var s07e = vec4<f32>(); var s07f = vec4<f32>(); var s07g = vec4<f32>(); var s07h = vec4<f32>();
  var s08a = vec4<f32>(); var s08b = vec4<f32>(); var s08c = vec4<f32>(); var s08d = vec4<f32>();
  var s08e = vec4<f32>(); var s08f = vec4<f32>(); var s08g = vec4<f32>(); var s08h = vec4<f32>();
  var s09a = vec4<f32>(); var s09b = vec4<f32>(); var s09c = vec4<f32>(); var s09d = vec4<f32>();
  var s09e = vec4<f32>(); var s09f = vec4<f32>(); var s09g = vec4<f32>(); var s09h = vec4<f32>();
  var s10a = vec4<f32>(); var s10b = vec4<f32>(); var s10c = vec4<f32>(); var s10d = vec4<f32>();
  var s10e = vec4<f32>(); var s10f = vec4<f32>(); var s10g = vec4<f32>(); var s10h = vec4<f32>();
  var s11a = vec4<f32>(); var s11b = vec4<f32>(); var s11c = vec4<f32>(); var s11d = vec4<f32>();
  var s11e = vec4<f32>(); var s11f = vec4<f32>(); var s11g = vec4<f32>(); var s11h = vec4<f32>();
  var s12a = vec4<f32>(); var s12b = vec4<f32>(); var s12c = vec4<f32>(); var s12d = vec4<f32>();
  var s12e = vec4<f32>(); var s12f = vec4<f32>(); var s12g = vec4<f32>(); var s12h = vec4<f32>();
  var s13a = vec4<f32>(); var s13b = vec4<f32>(); var s13c = vec4<f32>(); var s13d = vec4<f32>();
  var s13e = vec4<f32>(); var s13f = vec4<f32>(); var s13g = vec4<f32>(); var s13h = vec4<f32>();
  var s14a = vec4<f32>(); var s14b = vec4<f32>(); var s14c = vec4<f32>(); var s14d = vec4<f32>();
  var s14e = vec4<f32>(); var s14f = vec4<f32>(); var s14g = vec4<f32>(); var s14h = vec4<f32>();
  var s15a = vec4<f32>(); var s15b = vec4<f32>(); var s15c = vec4<f32>(); var s15d = vec4<f32>();
  var s15e = vec4<f32>(); var s15f = vec4<f32>(); var s15g = vec4<f32>(); var s15h = vec4<f32>();
  var s16a = vec4<f32>(); var s16b = vec4<f32>(); var s16c = vec4<f32>(); var s16d = vec4<f32>();
  var s16e = vec4<f32>(); var s16f = vec4<f32>(); var s16g = vec4<f32>(); var s16h = vec4<f32>();
  var s17a = vec4<f32>(); var s17b = vec4<f32>(); var s17c = vec4<f32>(); var s17d = vec4<f32>();
  var s17e = vec4<f32>(); var s17f = vec4<f32>(); var s17g = vec4<f32>(); var s17h = vec4<f32>();
  var s18a = vec4<f32>(); var s18b = vec4<f32>(); var s18c = vec4<f32>(); var s18d = vec4<f32>();
  var s18e = vec4<f32>(); var s18f = vec4<f32>(); var s18g = vec4<f32>(); var s18h = vec4<f32>();
  var s19a = vec4<f32>(); var s19b = vec4<f32>(); var s19c = vec4<f32>(); var s19d = vec4<f32>();
  var s19e = vec4<f32>(); var s19f = vec4<f32>(); var s19g = vec4<f32>(); var s19h = vec4<f32>();
  var s20a = vec4<f32>(); var s20b = vec4<f32>(); var s20c = vec4<f32>(); var s20d = vec4<f32>();
  var s20e = vec4<f32>(); var s20f = vec4<f32>(); var s20g = vec4<f32>(); var s20h = vec4<f32>();
  var s21a = vec4<f32>(); var s21b = vec4<f32>(); var s21c = vec4<f32>(); var s21d = vec4<f32>();
  var s21e = vec4<f32>(); var s21f = vec4<f32>(); var s21g = vec4<f32>(); var s21h = vec4<f32>();
  var s22a = vec4<f32>(); var s22b = vec4<f32>(); var s22c = vec4<f32>(); var s22d = vec4<f32>();
  var s22e = vec4<f32>(); var s22f = vec4<f32>(); var s22g = vec4<f32>(); var s22h = vec4<f32>();
  var s23a = vec4<f32>(); var s23b = vec4<f32>(); var s23c = vec4<f32>(); var s23d = vec4<f32>();
  var s23e = vec4<f32>(); var s23f = vec4<f32>(); var s23g = vec4<f32>(); var s23h = vec4<f32>();
  var s24a = vec4<f32>(); var s24b = vec4<f32>(); var s24c = vec4<f32>(); var s24d = vec4<f32>();
  var s24e = vec4<f32>(); var s24f = vec4<f32>(); var s24g = vec4<f32>(); var s24h = vec4<f32>();
  var s25a = vec4<f32>(); var s25b = vec4<f32>(); var s25c = vec4<f32>(); var s25d = vec4<f32>();
  var s25e = vec4<f32>(); var s25f = vec4<f32>(); var s25g = vec4<f32>(); var s25h = vec4<f32>();
  var s26a = vec4<f32>(); var s26b = vec4<f32>(); var s26c = vec4<f32>(); var s26d = vec4<f32>();
  var s26e = vec4<f32>(); var s26f = vec4<f32>(); var s26g = vec4<f32>(); var s26h = vec4<f32>();
  var s27a = vec4<f32>(); var s27b = vec4<f32>(); var s27c = vec4<f32>(); var s27d = vec4<f32>();
  var s27e = vec4<f32>(); var s27f = vec4<f32>(); var s27g = vec4<f32>(); var s27h = vec4<f32>();
  var s28a = vec4<f32>(); var s28b = vec4<f32>(); var s28c = vec4<f32>(); var s28d = vec4<f32>();
  var s28e = vec4<f32>(); var s28f = vec4<f32>(); var s28g = vec4<f32>(); var s28h = vec4<f32>();
  var s29a = vec4<f32>(); var s29b = vec4<f32>(); var s29c = vec4<f32>(); var s29d = vec4<f32>();
  var s29e = vec4<f32>(); var s29f = vec4<f32>(); var s29g = vec4<f32>(); var s29h = vec4<f32>();
  var s30a = vec4<f32>(); var s30b = vec4<f32>(); var s30c = vec4<f32>(); var s30d = vec4<f32>();
  var s30e = vec4<f32>(); var s30f = vec4<f32>(); var s30g = vec4<f32>(); var s30h = vec4<f32>();
  var s31a = vec4<f32>(); var s31b = vec4<f32>(); var s31c = vec4<f32>(); var s31d = vec4<f32>();
  var s31e = vec4<f32>(); var s31f = vec4<f32>(); var s31g = vec4<f32>(); var s31h = vec4<f32>();
  for (var t = 0u; t < p.d4; t++) {
    let qa = queries4(c, t);
    let qb = queries4(c + 4u, t);
    let qc = queries4(c + 8u, t);
    let qd = queries4(c + 12u, t);
    let qe = queries4(c + 16u, t);
    let qf = queries4(c + 20u, t);
    let qg = queries4(c + 24u, t);
    let qh = queries4(c + 28u, t);
    let g00 = gallery(j, t);
    s00a += g00 * qa; s00b += g00 * qb; s00c += g00 * qc; s00d += g00 * qd;
    s00e += g00 * qe; s00f += g00 * qf; s00g += g00 * qg; s00h += g00 * qh;
    let g01 = gallery(j + 1u, t);
    s01a += g01 * qa; s01b += g01 * qb; s01c += g01 * qc; s01d += g01 * qd;
    s01e += g01 * qe; s01f += g01 * qf; s01g += g01 * qg; s01h += g01 * qh;
    let g02 = gallery(j + 2u, t);
    s02a += g02 * qa; s02b += g02 * qb; s02c += g02 * qc; s02d += g02 * qd;
    s02e += g02 * qe; s02f += g02 * qf; s02g += g02 * qg; s02h += g02 * qh;
    let g03 = gallery(j + 3u, t);
    s03a += g03 * qa; s03b += g03 * qb; s03c += g03 * qc; s03d += g03 * qd;
    s03e += g03 * qe; s03f += g03 * qf; s03g += g03 * qg; s03h += g03 * qh;
    let g04 = gallery(j + 4u, t);
    s04a += g04 * qa; s04b += g04 * qb; s04c += g04 * qc; s04d += g04 * qd;
    s04e += g04 * qe; s04f += g04 * qf; s04g += g04 * qg; s04h += g04 * qh;
    let g05 = gallery(j + 5u, t);
    s05a += g05 * qa; s05b += g05 * qb; s05c += g05 * qc; s05d += g05 * qd;
    s05e += g05 * qe; s05f += g05 * qf; s05g += g05 * qg; s05h += g05 * qh;
    let g06 = gallery(j + 6u, t);
    s06a += g06 * qa; s06b += g06 * qb; s06c += g06 * qc; s06d += g06 * qd;
    s06e += g06 * qe; s06f += g06 * qf; s06g += g06 * qg; s06h += g06 * qh;
    let g07 = gallery(j + 7u, t);
    s07a += g07 * qa; s07b += g07 * qb; s07c += g07 * qc; s07d += g07 * qd;
    s07e += g07 * qe; s07f += g07 * qf; s07g += g07 * qg; s07h += g07 * qh;
    let g08 = gallery(j + 8u, t);
    s08a += g08 * qa; s08b += g08 * qb; s08c += g08 * qc; s08d += g08 * qd;
    s08e += g08 * qe; s08f += g08 * qf; s08g += g08 * qg; s08h += g08 * qh;
    let g09 = gallery(j + 9u, t);
    s09a += g09 * qa; s09b += g09 * qb; s09c += g09 * qc; s09d += g09 * qd;
    s09e += g09 * qe; s09f += g09 * qf; s09g += g09 * qg; s09h += g09 * qh;
    let g10 = gallery(j + 10u, t);
    s10a += g10 * qa; s10b += g10 * qb; s10c += g10 * qc; s10d += g10 * qd;
    s10e += g10 * qe; s10f += g10 * qf; s10g += g10 * qg; s10h += g10 * qh;
    let g11 = gallery(j + 11u, t);
    s11a += g11 * qa; s11b += g11 * qb; s11c += g11 * qc; s11d += g11 * qd;
    s11e += g11 * qe; s11f += g11 * qf; s11g += g11 * qg; s11h += g11 * qh;
    let g12 = gallery(j + 12u, t);
    s12a += g12 * qa; s12b += g12 * qb; s12c += g12 * qc; s12d += g12 * qd;
    s12e += g12 * qe; s12f += g12 * qf; s12g += g12 * qg; s12h += g12 * qh;
    let g13 = gallery(j + 13u, t);
    s13a += g13 * qa; s13b += g13 * qb; s13c += g13 * qc; s13d += g13 * qd;
    s13e += g13 * qe; s13f += g13 * qf; s13g += g13 * qg; s13h += g13 * qh;
    let g14 = gallery(j + 14u, t);
    s14a += g14 * qa; s14b += g14 * qb; s14c += g14 * qc; s14d += g14 * qd;
    s14e += g14 * qe; s14f += g14 * qf; s14g += g14 * qg; s14h += g14 * qh;
    let g15 = gallery(j + 15u, t);
    s15a += g15 * qa; s15b += g15 * qb; s15c += g15 * qc; s15d += g15 * qd;
    s15e += g15 * qe; s15f += g15 * qf; s15g += g15 * qg; s15h += g15 * qh;
    let g16 = gallery(j + 16u, t);
    s16a += g16 * qa; s16b += g16 * qb; s16c += g16 * qc; s16d += g16 * qd;
    s16e += g16 * qe; s16f += g16 * qf; s16g += g16 * qg; s16h += g16 * qh;
    let g17 = gallery(j + 17u, t);
    s17a += g17 * qa; s17b += g17 * qb; s17c += g17 * qc; s17d += g17 * qd;
    s17e += g17 * qe; s17f += g17 * qf; s17g += g17 * qg; s17h += g17 * qh;
    let g18 = gallery(j + 18u, t);
    s18a += g18 * qa; s18b += g18 * qb; s18c += g18 * qc; s18d += g18 * qd;
    s18e += g18 * qe; s18f += g18 * qf; s18g += g18 * qg; s18h += g18 * qh;
    let g19 = gallery(j + 19u, t);
    s19a += g19 * qa; s19b += g19 * qb; s19c += g19 * qc; s19d += g19 * qd;
    s19e += g19 * qe; s19f += g19 * qf; s19g += g19 * qg; s19h += g19 * qh;
    let g20 = gallery(j + 20u, t);
    s20a += g20 * qa; s20b += g20 * qb; s20c += g20 * qc; s20d += g20 * qd;
    s20e += g20 * qe; s20f += g20 * qf; s20g += g20 * qg; s20h += g20 * qh;
    let g21 = gallery(j + 21u, t);
    s21a += g21 * qa; s21b += g21 * qb; s21c += g21 * qc; s21d += g21 * qd;
    s21e += g21 * qe; s21f += g21 * qf; s21g += g21 * qg; s21h += g21 * qh;
    let g22 = gallery(j + 22u, t);
    s22a += g22 * qa; s22b += g22 * qb; s22c += g22 * qc; s22d += g22 * qd;
    s22e += g22 * qe; s22f += g22 * qf; s22g += g22 * qg; s22h += g22 * qh;
    let g23 = gallery(j + 23u, t);
    s23a += g23 * qa; s23b += g23 * qb; s23c += g23 * qc; s23d += g23 * qd;
    s23e += g23 * qe; s23f += g23 * qf; s23g += g23 * qg; s23h += g23 * qh;
    let g24 = gallery(j + 24u, t);
    s24a += g24 * qa; s24b += g24 * qb; s24c += g24 * qc; s24d += g24 * qd;
    s24e += g24 * qe; s24f += g24 * qf; s24g += g24 * qg; s24h += g24 * qh;
    let g25 = gallery(j + 25u, t);
    s25a += g25 * qa; s25b += g25 * qb; s25c += g25 * qc; s25d += g25 * qd;
    s25e += g25 * qe; s25f += g25 * qf; s25g += g25 * qg; s25h += g25 * qh;
    let g26 = gallery(j + 26u, t);
    s26a += g26 * qa; s26b += g26 * qb; s26c += g26 * qc; s26d += g26 * qd;
    s26e += g26 * qe; s26f += g26 * qf; s26g += g26 * qg; s26h += g26 * qh;
    let g27 = gallery(j + 27u, t);
    s27a += g27 * qa; s27b += g27 * qb; s27c += g27 * qc; s27d += g27 * qd;
    s27e += g27 * qe; s27f += g27 * qf; s27g += g27 * qg; s27h += g27 * qh;
    let g28 = gallery(j + 28u, t);
    s28a += g28 * qa; s28b += g28 * qb; s28c += g28 * qc; s28d += g28 * qd;
    s28e += g28 * qe; s28f += g28 * qf; s28g += g28 * qg; s28h += g28 * qh;
    let g29 = gallery(j + 29u, t);
    s29a += g29 * qa; s29b += g29 * qb; s29c += g29 * qc; s29d += g29 * qd;
    s29e += g29 * qe; s29f += g29 * qf; s29g += g29 * qg; s29h += g29 * qh;
    let g30 = gallery(j + 30u, t);
    s30a += g30 * qa; s30b += g30 * qb; s30c += g30 * qc; s30d += g30 * qd;
    s30e += g30 * qe; s30f += g30 * qf; s30g += g30 * qg; s30h += g30 * qh;
    let g31 = gallery(j + 31u, t);
    s31a += g31 * qa; s31b += g31 * qb; s31c += g31 * qc; s31d += g31 * qd;
    s31e += g31 * qe; s31f += g31 * qf; s31g += g31 * qg; s31h += g31 * qh;
  }
  if (c >= p.cols) { return; }
  store4(j, c, s00a); store4(j, c + 4u, s00b); store4(j, c + 8u, s00c);
  store4(j, c + 12u, s00d); store4(j, c + 16u, s00e); store4(j, c + 20u, s00f);
  store4(j, c + 24u, s00g); store4(j, c + 28u, s00h);
  store4(j + 1u, c, s01a); store4(j + 1u, c + 4u, s01b); store4(j + 1u, c + 8u, s01c);
  store4(j + 1u, c + 12u, s01d); store4(j + 1u, c + 16u, s01e); store4(j + 1u, c + 20u, s01f);
  store4(j + 1u, c + 24u, s01g); store4(j + 1u, c + 28u, s01h);
  store4(j + 2u, c, s02a); store4(j + 2u, c + 4u, s02b); store4(j + 2u, c + 8u, s02c);
  store4(j + 2u, c + 12u, s02d); store4(j + 2u, c + 16u, s02e); store4(j + 2u, c + 20u, s02f);
  store4(j + 2u, c + 24u, s02g); store4(j + 2u, c + 28u, s02h);
  store4(j + 3u, c, s03a); store4(j + 3u, c + 4u, s03b); store4(j + 3u, c + 8u, s03c);
  store4(j + 3u, c + 12u, s03d); store4(j + 3u, c + 16u, s03e); store4(j + 3u, c + 20u, s03f);
  store4(j + 3u, c + 24u, s03g); store4(j + 3u, c + 28u, s03h);
  store4(j + 4u, c, s04a); store4(j + 4u, c + 4u, s04b); store4(j + 4u, c + 8u, s04c);
  store4(j + 4u, c + 12u, s04d); store4(j + 4u, c + 16u, s04e); store4(j + 4u, c + 20u, s04f);
  store4(j + 4u, c + 24u, s04g); store4(j + 4u, c + 28u, s04h);
  store4(j + 5u, c, s05a); store4(j + 5u, c + 4u, s05b); store4(j + 5u, c + 8u, s05c);
  store4(j + 5u, c + 12u, s05d); store4(j + 5u, c + 16u, s05e); store4(j + 5u, c + 20u, s05f);
  store4(j + 5u, c + 24u, s05g); store4(j + 5u, c + 28u, s05h);
  store4(j + 6u, c, s06a); store4(j + 6u, c + 4u, s06b); store4(j + 6u, c + 8u, s06c);
  store4(j + 6u, c + 12u, s06d); store4(j + 6u, c + 16u, s06e); store4(j + 6u, c + 20u, s06f);
  store4(j + 6u, c + 24u, s06g); store4(j + 6u, c + 28u, s06h);
  store4(j + 7u, c, s07a); store4(j + 7u, c + 4u, s07b); store4(j + 7u, c + 8u, s07c);
  store4(j + 7u, c + 12u, s07d); store4(j + 7u, c + 16u, s07e); store4(j + 7u, c + 20u, s07f);
  store4(j + 7u, c + 24u, s07g); store4(j + 7u, c + 28u, s07h);
  store4(j + 8u, c, s08a); store4(j + 8u, c + 4u, s08b); store4(j + 8u, c + 8u, s08c);
  store4(j + 8u, c + 12u, s08d); store4(j + 8u, c + 16u, s08e); store4(j + 8u, c + 20u, s08f);
  store4(j + 8u, c + 24u, s08g); store4(j + 8u, c + 28u, s08h);
  store4(j + 9u, c, s09a); store4(j + 9u, c + 4u, s09b); store4(j + 9u, c + 8u, s09c);
  store4(j + 9u, c + 12u, s09d); store4(j + 9u, c + 16u, s09e); store4(j + 9u, c + 20u, s09f);
  store4(j + 9u, c + 24u, s09g); store4(j + 9u, c + 28u, s09h);
  store4(j + 10u, c, s10a); store4(j + 10u, c + 4u, s10b); store4(j + 10u, c + 8u, s10c);
  store4(j + 10u, c + 12u, s10d); store4(j + 10u, c + 16u, s10e); store4(j + 10u, c + 20u, s10f);
  store4(j + 10u, c + 24u, s10g); store4(j + 10u, c + 28u, s10h);
  store4(j + 11u, c, s11a); store4(j + 11u, c + 4u, s11b); store4(j + 11u, c + 8u, s11c);
  store4(j + 11u, c + 12u, s11d); store4(j + 11u, c + 16u, s11e); store4(j + 11u, c + 20u, s11f);
  store4(j + 11u, c + 24u, s11g); store4(j + 11u, c + 28u, s11h);
  store4(j + 12u, c, s12a); store4(j + 12u, c + 4u, s12b); store4(j + 12u, c + 8u, s12c);
  store4(j + 12u, c + 12u, s12d); store4(j + 12u, c + 16u, s12e); store4(j + 12u, c + 20u, s12f);
  store4(j + 12u, c + 24u, s12g); store4(j + 12u, c + 28u, s12h);
  store4(j + 13u, c, s13a); store4(j + 13u, c + 4u, s13b); store4(j + 13u, c + 8u, s13c);
  store4(j + 13u, c + 12u, s13d); store4(j + 13u, c + 16u, s13e); store4(j + 13u, c + 20u, s13f);
  store4(j + 13u, c + 24u, s13g); store4(j + 13u, c + 28u, s13h);
  store4(j + 14u, c, s14a); store4(j + 14u, c + 4u, s14b); store4(j + 14u, c + 8u, s14c);
  store4(j + 14u, c + 12u, s14d); store4(j + 14u, c + 16u, s14e); store4(j + 14u, c + 20u, s14f);
  store4(j + 14u, c + 24u, s14g); store4(j + 14u, c + 28u, s14h);
  store4(j + 15u, c, s15a); store4(j + 15u, c + 4u, s15b); store4(j + 15u, c + 8u, s15c);
  store4(j + 15u, c + 12u, s15d); store4(j + 15u, c + 16u, s15e); store4(j + 15u, c + 20u, s15f);
  store4(j + 15u, c + 24u, s15g); store4(j + 15u, c + 28u, s15h);
  store4(j + 16u, c, s16a); store4(j + 16u, c + 4u, s16b); store4(j + 16u, c + 8u, s16c);
  store4(j + 16u, c + 12u, s16d); store4(j + 16u, c + 16u, s16e); store4(j + 16u, c + 20u, s16f);
  store4(j + 16u, c + 24u, s16g); store4(j + 16u, c + 28u, s16h);
  store4(j + 17u, c, s17a); store4(j + 17u, c + 4u, s17b); store4(j + 17u, c + 8u, s17c);
  store4(j + 17u, c + 12u, s17d); store4(j + 17u, c + 16u, s17e); store4(j + 17u, c + 20u, s17f);
  store4(j + 17u, c + 24u, s17g); store4(j + 17u, c + 28u, s17h);
  store4(j + 18u, c, s18a); store4(j + 18u, c + 4u, s18b); store4(j + 18u, c + 8u, s18c);
  store4(j + 18u, c + 12u, s18d); store4(j + 18u, c + 16u, s18e); store4(j + 18u, c + 20u, s18f);
  store4(j + 18u, c + 24u, s18g); store4(j + 18u, c + 28u, s18h);
  store4(j + 19u, c, s19a); store4(j + 19u, c + 4u, s19b); store4(j + 19u, c + 8u, s19c);
  store4(j + 19u, c + 12u, s19d); store4(j + 19u, c + 16u, s19e); store4(j + 19u, c + 20u, s19f);
  store4(j + 19u, c + 24u, s19g); store4(j + 19u, c + 28u, s19h);
  store4(j + 20u, c, s20a); store4(j + 20u, c + 4u, s20b); store4(j + 20u, c + 8u, s20c);
  store4(j + 20u, c + 12u, s20d); store4(j + 20u, c + 16u, s20e); store4(j + 20u, c + 20u, s20f);
  store4(j + 20u, c + 24u, s20g); store4(j + 20u, c + 28u, s20h);
  store4(j + 21u, c, s21a); store4(j + 21u, c + 4u, s21b); store4(j + 21u, c + 8u, s21c);
  store4(j + 21u, c + 12u, s21d); store4(j + 21u, c + 16u, s21e); store4(j + 21u, c + 20u, s21f);
  store4(j + 21u, c + 24u, s21g); store4(j + 21u, c + 28u, s21h);
  store4(j + 22u, c, s22a); store4(j + 22u, c + 4u, s22b); store4(j + 22u, c + 8u, s22c);
  store4(j + 22u, c + 12u, s22d); store4(j + 22u, c + 16u, s22e); store4(j + 22u, c + 20u, s22f);
  store4(j + 22u, c + 24u, s22g); store4(j + 22u, c + 28u, s22h);
  store4(j + 23u, c, s23a); store4(j + 23u, c + 4u, s23b); store4(j + 23u, c + 8u, s23c);
  store4(j + 23u, c + 12u, s23d); store4(j + 23u, c + 16u, s23e); store4(j + 23u, c + 20u, s23f);
  store4(j + 23u, c + 24u, s23g); store4(j + 23u, c + 28u, s23h);
  store4(j + 24u, c, s24a); store4(j + 24u, c + 4u, s24b); store4(j + 24u, c + 8u, s24c);
  store4(j + 24u, c + 12u, s24d); store4(j + 24u, c + 16u, s24e); store4(j + 24u, c + 20u, s24f);
  store4(j + 24u, c + 24u, s24g); store4(j + 24u, c + 28u, s24h);
  store4(j + 25u, c, s25a); store4(j + 25u, c + 4u, s25b); store4(j + 25u, c + 8u, s25c);
  store4(j + 25u, c + 12u, s25d); store4(j + 25u, c + 16u, s25e); store4(j + 25u, c + 20u, s25f);
  store4(j + 25u, c + 24u, s25g); store4(j + 25u, c + 28u, s25h);
  store4(j + 26u, c, s26a); store4(j + 26u, c + 4u, s26b); store4(j + 26u, c + 8u, s26c);
  store4(j + 26u, c + 12u, s26d); store4(j + 26u, c + 16u, s26e); store4(j + 26u, c + 20u, s26f);
  store4(j + 26u, c + 24u, s26g); store4(j + 26u, c + 28u, s26h);
  store4(j + 27u, c, s27a); store4(j + 27u, c + 4u, s27b); store4(j + 27u, c + 8u, s27c);
  store4(j + 27u, c + 12u, s27d); store4(j + 27u, c + 16u, s27e); store4(j + 27u, c + 20u, s27f);
  store4(j + 27u, c + 24u, s27g); store4(j + 27u, c + 28u, s27h);
  store4(j + 28u, c, s28a); store4(j + 28u, c + 4u, s28b); store4(j + 28u, c + 8u, s28c);
  store4(j + 28u, c + 12u, s28d); store4(j + 28u, c + 16u, s28e); store4(j + 28u, c + 20u, s28f);
  store4(j + 28u, c + 24u, s28g); store4(j + 28u, c + 28u, s28h);
  store4(j + 29u, c, s29a); store4(j + 29u, c + 4u, s29b); store4(j + 29u, c + 8u, s29c);
  store4(j + 29u, c + 12u, s29d); store4(j + 29u, c + 16u, s29e); store4(j + 29u, c + 20u, s29f);
  store4(j + 29u, c + 24u, s29g); store4(j + 29u, c + 28u, s29h);
  store4(j + 30u, c, s30a); store4(j + 30u, c + 4u, s30b); store4(j + 30u, c + 8u, s30c);
  store4(j + 30u, c + 12u, s30d); store4(j + 30u, c + 16u, s30e); store4(j + 30u, c + 20u, s30f);
  store4(j + 30u, c + 24u, s30g); store4(j + 30u, c + 28u, s30h);
  store4(j + 31u, c, s31a); store4(j + 31u, c + 4u, s31b); store4(j + 31u, c + 8u, s31c);
  store4(j + 31u, c + 12u, s31d); store4(j + 31u, c + 16u, s31e); store4(j + 31u, c + 20u, s31f);
  store4(j + 31u, c + 24u, s31g); store4(j + 31u, c + 28u, s31h);
}

fn query(c: u32, t: u32) -> vec4<f32> {
  return b4[min(c, p.cols - 1u) * p.d4 + t];
}

fn gallery4(j: u32, t: u32) -> mat4x4<f32> {
  let last = p.rows - 1u;
  return mat4x4<f32>(
    a4[min(j, last) * p.d4 + t],
    a4[min(j + 1u, last) * p.d4 + t],
    a4[min(j + 2u, last) * p.d4 + t],
    a4[min(j + 3u, last) * p.d4 + t],
  );
}

fn store4t(j: u32, c: u32, v: vec4<f32>) {
  if (c >= p.cols) { return; }
  for (var i = 0u; i < 4u; i++) {
    if (j + i < p.rows) { o[(j + i) * p.stride + c] = v[i]; }
  }
}

// The same block as `scores` with the roles swapped, for blocks with few queries: workgroup (x, y)
// covers gallery rows [256 x, 256 x + 256) (32 per invocation) and queries [32 y, 32 y + 32)
// (uniform loads). q_r * G gives dot(q_r, g_i) = dot(g_i, q_r), the same value bit for bit.
@compute @workgroup_size(8)
fn scores_t(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x * 8u + lid) * 32u;
  let c = wid.y * 32u;
  var s00a = vec4<f32>(); var s00b = vec4<f32>(); var s00c = vec4<f32>(); var s00d = vec4<f32>();
  var s00e = vec4<f32>(); var s00f = vec4<f32>(); var s00g = vec4<f32>(); var s00h = vec4<f32>();
  var s01a = vec4<f32>(); var s01b = vec4<f32>(); var s01c = vec4<f32>(); var s01d = vec4<f32>();
  var s01e = vec4<f32>(); var s01f = vec4<f32>(); var s01g = vec4<f32>(); var s01h = vec4<f32>();
  var s02a = vec4<f32>(); var s02b = vec4<f32>(); var s02c = vec4<f32>(); var s02d = vec4<f32>();
  var s02e = vec4<f32>(); var s02f = vec4<f32>(); var s02g = vec4<f32>(); var s02h = vec4<f32>();
  var s03a = vec4<f32>(); var s03b = vec4<f32>(); var s03c = vec4<f32>(); var s03d = vec4<f32>();
  var s03e = vec4<f32>(); var s03f = vec4<f32>(); var s03g = vec4<f32>(); var s03h = vec4<f32>();
  var s04a = vec4<f32>(); var s04b = vec4<f32>(); var s04c = vec4<f32>(); var s04d = vec4<f32>();
  var s04e = vec4<f32>(); var s04f = vec4<f32>(); var s04g = vec4<f32>(); var s04h = vec4<f32>();
  var s05a = vec4<f32>(); var s05b = vec4<f32>(); var s05c = vec4<f32>(); var s05d = vec4<f32>();
  var s05e = vec4<f32>(); var s05f = vec4<f32>(); var s05g = vec4<f32>(); var s05h = vec4<f32>();
  var s06a = vec4<f32>(); var s06b = vec4<f32>(); var s06c = vec4<f32>(); var s06d = vec4<f32>();
  var s06e = vec4<f32>(); var s06f = vec4<f32>(); var s06g = vec4<f32>(); var s06h = vec4<f32>();
  var s07a = vec4<f32>(); var s07b = vec4<f32>(); var s07c = vec4<f32>(); var s07d = vec4<f32>();
  var s07e = vec4<f32>(); var s07f = vec4<f32>(); var s07g = vec4<f32>(); var s07h = vec4<f32>();
  var s08a = vec4<f32>(); var s08b = vec4<f32>(); var s08c = vec4<f32>(); var s08d = vec4<f32>();
  var s08e = vec4<f32>(); var s08f = vec4<f32>(); var s08g = vec4<f32>(); var s08h = vec4<f32>();
  var s09a = vec4<f32>(); var s09b = vec4<f32>(); var s09c = vec4<f32>(); var s09d = vec4<f32>();
  var s09e = vec4<f32>(); var s09f = vec4<f32>(); var s09g = vec4<f32>(); var s09h = vec4<f32>();
  var s10a = vec4<f32>(); var s10b = vec4<f32>(); var s10c = vec4<f32>(); var s10d = vec4<f32>();
  var s10e = vec4<f32>(); var s10f = vec4<f32>(); var s10g = vec4<f32>(); var s10h = vec4<f32>();
  var s11a = vec4<f32>(); var s11b = vec4<f32>(); var s11c = vec4<f32>(); var s11d = vec4<f32>();
  var s11e = vec4<f32>(); var s11f = vec4<f32>(); var s11g = vec4<f32>(); var s11h = vec4<f32>();
  var s12a = vec4<f32>(); var s12b = vec4<f32>(); var s12c = vec4<f32>(); var s12d = vec4<f32>();
  var s12e = vec4<f32>(); var s12f = vec4<f32>(); var s12g = vec4<f32>(); var s12h = vec4<f32>();
  var s13a = vec4<f32>(); var s13b = vec4<f32>(); var s13c = vec4<f32>(); var s13d = vec4<f32>();
  var s13e = vec4<f32>(); var s13f = vec4<f32>(); var s13g = vec4<f32>(); var s13h = vec4<f32>();
  var s14a = vec4<f32>(); var s14b = vec4<f32>(); var s14c = vec4<f32>(); var s14d = vec4<f32>();
  var s14e = vec4<f32>(); var s14f = vec4<f32>(); var s14g = vec4<f32>(); var s14h = vec4<f32>();
  var s15a = vec4<f32>(); var s15b = vec4<f32>(); var s15c = vec4<f32>(); var s15d = vec4<f32>();
  var s15e = vec4<f32>(); var s15f = vec4<f32>(); var s15g = vec4<f32>(); var s15h = vec4<f32>();
  var s16a = vec4<f32>(); var s16b = vec4<f32>(); var s16c = vec4<f32>(); var s16d = vec4<f32>();
  var s16e = vec4<f32>(); var s16f = vec4<f32>(); var s16g = vec4<f32>(); var s16h = vec4<f32>();
  var s17a = vec4<f32>(); var s17b = vec4<f32>(); var s17c = vec4<f32>(); var s17d = vec4<f32>();
  var s17e = vec4<f32>(); var s17f = vec4<f32>(); var s17g = vec4<f32>(); var s17h = vec4<f32>();
  var s18a = vec4<f32>(); var s18b = vec4<f32>(); var s18c = vec4<f32>(); var s18d = vec4<f32>();
  var s18e = vec4<f32>(); var s18f = vec4<f32>(); var s18g = vec4<f32>(); var s18h = vec4<f32>();
  var s19a = vec4<f32>(); var s19b = vec4<f32>(); var s19c = vec4<f32>(); var s19d = vec4<f32>();
  var s19e = vec4<f32>(); var s19f = vec4<f32>(); var s19g = vec4<f32>(); var s19h = vec4<f32>();
  var s20a = vec4<f32>(); var s20b = vec4<f32>(); var s20c = vec4<f32>(); var s20d = vec4<f32>();
  var s20e = vec4<f32>(); var s20f = vec4<f32>(); var s20g = vec4<f32>(); var s20h = vec4<f32>();
  var s21a = vec4<f32>(); var s21b = vec4<f32>(); var s21c = vec4<f32>(); var s21d = vec4<f32>();
  var s21e = vec4<f32>(); var s21f = vec4<f32>(); var s21g = vec4<f32>(); var s21h = vec4<f32>();
  var s22a = vec4<f32>(); var s22b = vec4<f32>(); var s22c = vec4<f32>(); var s22d = vec4<f32>();
  var s22e = vec4<f32>(); var s22f = vec4<f32>(); var s22g = vec4<f32>(); var s22h = vec4<f32>();
  var s23a = vec4<f32>(); var s23b = vec4<f32>(); var s23c = vec4<f32>(); var s23d = vec4<f32>();
  var s23e = vec4<f32>(); var s23f = vec4<f32>(); var s23g = vec4<f32>(); var s23h = vec4<f32>();
  var s24a = vec4<f32>(); var s24b = vec4<f32>(); var s24c = vec4<f32>(); var s24d = vec4<f32>();
  var s24e = vec4<f32>(); var s24f = vec4<f32>(); var s24g = vec4<f32>(); var s24h = vec4<f32>();
  var s25a = vec4<f32>(); var s25b = vec4<f32>(); var s25c = vec4<f32>(); var s25d = vec4<f32>();
  var s25e = vec4<f32>(); var s25f = vec4<f32>(); var s25g = vec4<f32>(); var s25h = vec4<f32>();
  var s26a = vec4<f32>(); var s26b = vec4<f32>(); var s26c = vec4<f32>(); var s26d = vec4<f32>();
  var s26e = vec4<f32>(); var s26f = vec4<f32>(); var s26g = vec4<f32>(); var s26h = vec4<f32>();
  var s27a = vec4<f32>(); var s27b = vec4<f32>(); var s27c = vec4<f32>(); var s27d = vec4<f32>();
  var s27e = vec4<f32>(); var s27f = vec4<f32>(); var s27g = vec4<f32>(); var s27h = vec4<f32>();
  var s28a = vec4<f32>(); var s28b = vec4<f32>(); var s28c = vec4<f32>(); var s28d = vec4<f32>();
  var s28e = vec4<f32>(); var s28f = vec4<f32>(); var s28g = vec4<f32>(); var s28h = vec4<f32>();
  var s29a = vec4<f32>(); var s29b = vec4<f32>(); var s29c = vec4<f32>(); var s29d = vec4<f32>();
  var s29e = vec4<f32>(); var s29f = vec4<f32>(); var s29g = vec4<f32>(); var s29h = vec4<f32>();
  var s30a = vec4<f32>(); var s30b = vec4<f32>(); var s30c = vec4<f32>(); var s30d = vec4<f32>();
  var s30e = vec4<f32>(); var s30f = vec4<f32>(); var s30g = vec4<f32>(); var s30h = vec4<f32>();
  var s31a = vec4<f32>(); var s31b = vec4<f32>(); var s31c = vec4<f32>(); var s31d = vec4<f32>();
  var s31e = vec4<f32>(); var s31f = vec4<f32>(); var s31g = vec4<f32>(); var s31h = vec4<f32>();
  for (var t = 0u; t < p.d4; t++) {
    let ga = gallery4(j, t);
    let gb = gallery4(j + 4u, t);
    let gc = gallery4(j + 8u, t);
    let gd = gallery4(j + 12u, t);
    let ge = gallery4(j + 16u, t);
    let gf = gallery4(j + 20u, t);
    let gg = gallery4(j + 24u, t);
    let gh = gallery4(j + 28u, t);
    let q00 = query(c, t);
    s00a += q00 * ga; s00b += q00 * gb; s00c += q00 * gc; s00d += q00 * gd;
    s00e += q00 * ge; s00f += q00 * gf; s00g += q00 * gg; s00h += q00 * gh;
    let q01 = query(c + 1u, t);
    s01a += q01 * ga; s01b += q01 * gb; s01c += q01 * gc; s01d += q01 * gd;
    s01e += q01 * ge; s01f += q01 * gf; s01g += q01 * gg; s01h += q01 * gh;
    let q02 = query(c + 2u, t);
    s02a += q02 * ga; s02b += q02 * gb; s02c += q02 * gc; s02d += q02 * gd;
    s02e += q02 * ge; s02f += q02 * gf; s02g += q02 * gg; s02h += q02 * gh;
    let q03 = query(c + 3u, t);
    s03a += q03 * ga; s03b += q03 * gb; s03c += q03 * gc; s03d += q03 * gd;
    s03e += q03 * ge; s03f += q03 * gf; s03g += q03 * gg; s03h += q03 * gh;
    let q04 = query(c + 4u, t);
    s04a += q04 * ga; s04b += q04 * gb; s04c += q04 * gc; s04d += q04 * gd;
    s04e += q04 * ge; s04f += q04 * gf; s04g += q04 * gg; s04h += q04 * gh;
    let q05 = query(c + 5u, t);
    s05a += q05 * ga; s05b += q05 * gb; s05c += q05 * gc; s05d += q05 * gd;
    s05e += q05 * ge; s05f += q05 * gf; s05g += q05 * gg; s05h += q05 * gh;
    let q06 = query(c + 6u, t);
    s06a += q06 * ga; s06b += q06 * gb; s06c += q06 * gc; s06d += q06 * gd;
    s06e += q06 * ge; s06f += q06 * gf; s06g += q06 * gg; s06h += q06 * gh;
    let q07 = query(c + 7u, t);
    s07a += q07 * ga; s07b += q07 * gb; s07c += q07 * gc; s07d += q07 * gd;
    s07e += q07 * ge; s07f += q07 * gf; s07g += q07 * gg; s07h += q07 * gh;
    let q08 = query(c + 8u, t);
    s08a += q08 * ga; s08b += q08 * gb; s08c += q08 * gc; s08d += q08 * gd;
    s08e += q08 * ge; s08f += q08 * gf; s08g += q08 * gg; s08h += q08 * gh;
    let q09 = query(c + 9u, t);
    s09a += q09 * ga; s09b += q09 * gb; s09c += q09 * gc; s09d += q09 * gd;
    s09e += q09 * ge; s09f += q09 * gf; s09g += q09 * gg; s09h += q09 * gh;
    let q10 = query(c + 10u, t);
    s10a += q10 * ga; s10b += q10 * gb; s10c += q10 * gc; s10d += q10 * gd;
    s10e += q10 * ge; s10f += q10 * gf; s10g += q10 * gg; s10h += q10 * gh;
    let q11 = query(c + 11u, t);
    s11a += q11 * ga; s11b += q11 * gb; s11c += q11 * gc; s11d += q11 * gd;
    s11e += q11 * ge; s11f += q11 * gf; s11g += q11 * gg; s11h += q11 * gh;
    let q12 = query(c + 12u, t);
    s12a += q12 * ga; s12b += q12 * gb; s12c += q12 * gc; s12d += q12 * gd;
    s12e += q12 * ge; s12f += q12 * gf; s12g += q12 * gg; s12h += q12 * gh;
    let q13 = query(c + 13u, t);
    s13a += q13 * ga; s13b += q13 * gb; s13c += q13 * gc; s13d += q13 * gd;
    s13e += q13 * ge; s13f += q13 * gf; s13g += q13 * gg; s13h += q13 * gh;
    let q14 = query(c + 14u, t);
    s14a += q14 * ga; s14b += q14 * gb; s14c += q14 * gc; s14d += q14 * gd;
    s14e += q14 * ge; s14f += q14 * gf; s14g += q14 * gg; s14h += q14 * gh;
    let q15 = query(c + 15u, t);
    s15a += q15 * ga; s15b += q15 * gb; s15c += q15 * gc; s15d += q15 * gd;
    s15e += q15 * ge; s15f += q15 * gf; s15g += q15 * gg; s15h += q15 * gh;
    let q16 = query(c + 16u, t);
    s16a += q16 * ga; s16b += q16 * gb; s16c += q16 * gc; s16d += q16 * gd;
    s16e += q16 * ge; s16f += q16 * gf; s16g += q16 * gg; s16h += q16 * gh;
    let q17 = query(c + 17u, t);
    s17a += q17 * ga; s17b += q17 * gb; s17c += q17 * gc; s17d += q17 * gd;
    s17e += q17 * ge; s17f += q17 * gf; s17g += q17 * gg; s17h += q17 * gh;
    let q18 = query(c + 18u, t);
    s18a += q18 * ga; s18b += q18 * gb; s18c += q18 * gc; s18d += q18 * gd;
    s18e += q18 * ge; s18f += q18 * gf; s18g += q18 * gg; s18h += q18 * gh;
    let q19 = query(c + 19u, t);
    s19a += q19 * ga; s19b += q19 * gb; s19c += q19 * gc; s19d += q19 * gd;
    s19e += q19 * ge; s19f += q19 * gf; s19g += q19 * gg; s19h += q19 * gh;
    let q20 = query(c + 20u, t);
    s20a += q20 * ga; s20b += q20 * gb; s20c += q20 * gc; s20d += q20 * gd;
    s20e += q20 * ge; s20f += q20 * gf; s20g += q20 * gg; s20h += q20 * gh;
    let q21 = query(c + 21u, t);
    s21a += q21 * ga; s21b += q21 * gb; s21c += q21 * gc; s21d += q21 * gd;
    s21e += q21 * ge; s21f += q21 * gf; s21g += q21 * gg; s21h += q21 * gh;
    let q22 = query(c + 22u, t);
    s22a += q22 * ga; s22b += q22 * gb; s22c += q22 * gc; s22d += q22 * gd;
    s22e += q22 * ge; s22f += q22 * gf; s22g += q22 * gg; s22h += q22 * gh;
    let q23 = query(c + 23u, t);
    s23a += q23 * ga; s23b += q23 * gb; s23c += q23 * gc; s23d += q23 * gd;
    s23e += q23 * ge; s23f += q23 * gf; s23g += q23 * gg; s23h += q23 * gh;
    let q24 = query(c + 24u, t);
    s24a += q24 * ga; s24b += q24 * gb; s24c += q24 * gc; s24d += q24 * gd;
    s24e += q24 * ge; s24f += q24 * gf; s24g += q24 * gg; s24h += q24 * gh;
    let q25 = query(c + 25u, t);
    s25a += q25 * ga; s25b += q25 * gb; s25c += q25 * gc; s25d += q25 * gd;
    s25e += q25 * ge; s25f += q25 * gf; s25g += q25 * gg; s25h += q25 * gh;
    let q26 = query(c + 26u, t);
    s26a += q26 * ga; s26b += q26 * gb; s26c += q26 * gc; s26d += q26 * gd;
    s26e += q26 * ge; s26f += q26 * gf; s26g += q26 * gg; s26h += q26 * gh;
    let q27 = query(c + 27u, t);
    s27a += q27 * ga; s27b += q27 * gb; s27c += q27 * gc; s27d += q27 * gd;
    s27e += q27 * ge; s27f += q27 * gf; s27g += q27 * gg; s27h += q27 * gh;
    let q28 = query(c + 28u, t);
    s28a += q28 * ga; s28b += q28 * gb; s28c += q28 * gc; s28d += q28 * gd;
    s28e += q28 * ge; s28f += q28 * gf; s28g += q28 * gg; s28h += q28 * gh;
    let q29 = query(c + 29u, t);
    s29a += q29 * ga; s29b += q29 * gb; s29c += q29 * gc; s29d += q29 * gd;
    s29e += q29 * ge; s29f += q29 * gf; s29g += q29 * gg; s29h += q29 * gh;
    let q30 = query(c + 30u, t);
    s30a += q30 * ga; s30b += q30 * gb; s30c += q30 * gc; s30d += q30 * gd;
    s30e += q30 * ge; s30f += q30 * gf; s30g += q30 * gg; s30h += q30 * gh;
    let q31 = query(c + 31u, t);
    s31a += q31 * ga; s31b += q31 * gb; s31c += q31 * gc; s31d += q31 * gd;
    s31e += q31 * ge; s31f += q31 * gf; s31g += q31 * gg; s31h += q31 * gh;
  }
  if (j >= p.rows) { return; }
  store4t(j, c, s00a); store4t(j + 4u, c, s00b); store4t(j + 8u, c, s00c);
  store4t(j + 12u, c, s00d); store4t(j + 16u, c, s00e); store4t(j + 20u, c, s00f);
  store4t(j + 24u, c, s00g); store4t(j + 28u, c, s00h);
  store4t(j, c + 1u, s01a); store4t(j + 4u, c + 1u, s01b); store4t(j + 8u, c + 1u, s01c);
  store4t(j + 12u, c + 1u, s01d); store4t(j + 16u, c + 1u, s01e); store4t(j + 20u, c + 1u, s01f);
  store4t(j + 24u, c + 1u, s01g); store4t(j + 28u, c + 1u, s01h);
  store4t(j, c + 2u, s02a); store4t(j + 4u, c + 2u, s02b); store4t(j + 8u, c + 2u, s02c);
  store4t(j + 12u, c + 2u, s02d); store4t(j + 16u, c + 2u, s02e); store4t(j + 20u, c + 2u, s02f);
  store4t(j + 24u, c + 2u, s02g); store4t(j + 28u, c + 2u, s02h);
  store4t(j, c + 3u, s03a); store4t(j + 4u, c + 3u, s03b); store4t(j + 8u, c + 3u, s03c);
  store4t(j + 12u, c + 3u, s03d); store4t(j + 16u, c + 3u, s03e); store4t(j + 20u, c + 3u, s03f);
  store4t(j + 24u, c + 3u, s03g); store4t(j + 28u, c + 3u, s03h);
  store4t(j, c + 4u, s04a); store4t(j + 4u, c + 4u, s04b); store4t(j + 8u, c + 4u, s04c);
  store4t(j + 12u, c + 4u, s04d); store4t(j + 16u, c + 4u, s04e); store4t(j + 20u, c + 4u, s04f);
  store4t(j + 24u, c + 4u, s04g); store4t(j + 28u, c + 4u, s04h);
  store4t(j, c + 5u, s05a); store4t(j + 4u, c + 5u, s05b); store4t(j + 8u, c + 5u, s05c);
  store4t(j + 12u, c + 5u, s05d); store4t(j + 16u, c + 5u, s05e); store4t(j + 20u, c + 5u, s05f);
  store4t(j + 24u, c + 5u, s05g); store4t(j + 28u, c + 5u, s05h);
  store4t(j, c + 6u, s06a); store4t(j + 4u, c + 6u, s06b); store4t(j + 8u, c + 6u, s06c);
  store4t(j + 12u, c + 6u, s06d); store4t(j + 16u, c + 6u, s06e); store4t(j + 20u, c + 6u, s06f);
  store4t(j + 24u, c + 6u, s06g); store4t(j + 28u, c + 6u, s06h);
  store4t(j, c + 7u, s07a); store4t(j + 4u, c + 7u, s07b); store4t(j + 8u, c + 7u, s07c);
  store4t(j + 12u, c + 7u, s07d); store4t(j + 16u, c + 7u, s07e); store4t(j + 20u, c + 7u, s07f);
  store4t(j + 24u, c + 7u, s07g); store4t(j + 28u, c + 7u, s07h);
  store4t(j, c + 8u, s08a); store4t(j + 4u, c + 8u, s08b); store4t(j + 8u, c + 8u, s08c);
  store4t(j + 12u, c + 8u, s08d); store4t(j + 16u, c + 8u, s08e); store4t(j + 20u, c + 8u, s08f);
  store4t(j + 24u, c + 8u, s08g); store4t(j + 28u, c + 8u, s08h);
  store4t(j, c + 9u, s09a); store4t(j + 4u, c + 9u, s09b); store4t(j + 8u, c + 9u, s09c);
  store4t(j + 12u, c + 9u, s09d); store4t(j + 16u, c + 9u, s09e); store4t(j + 20u, c + 9u, s09f);
  store4t(j + 24u, c + 9u, s09g); store4t(j + 28u, c + 9u, s09h);
  store4t(j, c + 10u, s10a); store4t(j + 4u, c + 10u, s10b); store4t(j + 8u, c + 10u, s10c);
  store4t(j + 12u, c + 10u, s10d); store4t(j + 16u, c + 10u, s10e); store4t(j + 20u, c + 10u, s10f);
  store4t(j + 24u, c + 10u, s10g); store4t(j + 28u, c + 10u, s10h);
  store4t(j, c + 11u, s11a); store4t(j + 4u, c + 11u, s11b); store4t(j + 8u, c + 11u, s11c);
  store4t(j + 12u, c + 11u, s11d); store4t(j + 16u, c + 11u, s11e); store4t(j + 20u, c + 11u, s11f);
  store4t(j + 24u, c + 11u, s11g); store4t(j + 28u, c + 11u, s11h);
  store4t(j, c + 12u, s12a); store4t(j + 4u, c + 12u, s12b); store4t(j + 8u, c + 12u, s12c);
  store4t(j + 12u, c + 12u, s12d); store4t(j + 16u, c + 12u, s12e); store4t(j + 20u, c + 12u, s12f);
  store4t(j + 24u, c + 12u, s12g); store4t(j + 28u, c + 12u, s12h);
  store4t(j, c + 13u, s13a); store4t(j + 4u, c + 13u, s13b); store4t(j + 8u, c + 13u, s13c);
  store4t(j + 12u, c + 13u, s13d); store4t(j + 16u, c + 13u, s13e); store4t(j + 20u, c + 13u, s13f);
  store4t(j + 24u, c + 13u, s13g); store4t(j + 28u, c + 13u, s13h);
  store4t(j, c + 14u, s14a); store4t(j + 4u, c + 14u, s14b); store4t(j + 8u, c + 14u, s14c);
  store4t(j + 12u, c + 14u, s14d); store4t(j + 16u, c + 14u, s14e); store4t(j + 20u, c + 14u, s14f);
  store4t(j + 24u, c + 14u, s14g); store4t(j + 28u, c + 14u, s14h);
  store4t(j, c + 15u, s15a); store4t(j + 4u, c + 15u, s15b); store4t(j + 8u, c + 15u, s15c);
  store4t(j + 12u, c + 15u, s15d); store4t(j + 16u, c + 15u, s15e); store4t(j + 20u, c + 15u, s15f);
  store4t(j + 24u, c + 15u, s15g); store4t(j + 28u, c + 15u, s15h);
  store4t(j, c + 16u, s16a); store4t(j + 4u, c + 16u, s16b); store4t(j + 8u, c + 16u, s16c);
  store4t(j + 12u, c + 16u, s16d); store4t(j + 16u, c + 16u, s16e); store4t(j + 20u, c + 16u, s16f);
  store4t(j + 24u, c + 16u, s16g); store4t(j + 28u, c + 16u, s16h);
  store4t(j, c + 17u, s17a); store4t(j + 4u, c + 17u, s17b); store4t(j + 8u, c + 17u, s17c);
  store4t(j + 12u, c + 17u, s17d); store4t(j + 16u, c + 17u, s17e); store4t(j + 20u, c + 17u, s17f);
  store4t(j + 24u, c + 17u, s17g); store4t(j + 28u, c + 17u, s17h);
  store4t(j, c + 18u, s18a); store4t(j + 4u, c + 18u, s18b); store4t(j + 8u, c + 18u, s18c);
  store4t(j + 12u, c + 18u, s18d); store4t(j + 16u, c + 18u, s18e); store4t(j + 20u, c + 18u, s18f);
  store4t(j + 24u, c + 18u, s18g); store4t(j + 28u, c + 18u, s18h);
  store4t(j, c + 19u, s19a); store4t(j + 4u, c + 19u, s19b); store4t(j + 8u, c + 19u, s19c);
  store4t(j + 12u, c + 19u, s19d); store4t(j + 16u, c + 19u, s19e); store4t(j + 20u, c + 19u, s19f);
  store4t(j + 24u, c + 19u, s19g); store4t(j + 28u, c + 19u, s19h);
  store4t(j, c + 20u, s20a); store4t(j + 4u, c + 20u, s20b); store4t(j + 8u, c + 20u, s20c);
  store4t(j + 12u, c + 20u, s20d); store4t(j + 16u, c + 20u, s20e); store4t(j + 20u, c + 20u, s20f);
  store4t(j + 24u, c + 20u, s20g); store4t(j + 28u, c + 20u, s20h);
  store4t(j, c + 21u, s21a); store4t(j + 4u, c + 21u, s21b); store4t(j + 8u, c + 21u, s21c);
  store4t(j + 12u, c + 21u, s21d); store4t(j + 16u, c + 21u, s21e); store4t(j + 20u, c + 21u, s21f);
  store4t(j + 24u, c + 21u, s21g); store4t(j + 28u, c + 21u, s21h);
  store4t(j, c + 22u, s22a); store4t(j + 4u, c + 22u, s22b); store4t(j + 8u, c + 22u, s22c);
  store4t(j + 12u, c + 22u, s22d); store4t(j + 16u, c + 22u, s22e); store4t(j + 20u, c + 22u, s22f);
  store4t(j + 24u, c + 22u, s22g); store4t(j + 28u, c + 22u, s22h);
  store4t(j, c + 23u, s23a); store4t(j + 4u, c + 23u, s23b); store4t(j + 8u, c + 23u, s23c);
  store4t(j + 12u, c + 23u, s23d); store4t(j + 16u, c + 23u, s23e); store4t(j + 20u, c + 23u, s23f);
  store4t(j + 24u, c + 23u, s23g); store4t(j + 28u, c + 23u, s23h);
  store4t(j, c + 24u, s24a); store4t(j + 4u, c + 24u, s24b); store4t(j + 8u, c + 24u, s24c);
  store4t(j + 12u, c + 24u, s24d); store4t(j + 16u, c + 24u, s24e); store4t(j + 20u, c + 24u, s24f);
  store4t(j + 24u, c + 24u, s24g); store4t(j + 28u, c + 24u, s24h);
  store4t(j, c + 25u, s25a); store4t(j + 4u, c + 25u, s25b); store4t(j + 8u, c + 25u, s25c);
  store4t(j + 12u, c + 25u, s25d); store4t(j + 16u, c + 25u, s25e); store4t(j + 20u, c + 25u, s25f);
  store4t(j + 24u, c + 25u, s25g); store4t(j + 28u, c + 25u, s25h);
  store4t(j, c + 26u, s26a); store4t(j + 4u, c + 26u, s26b); store4t(j + 8u, c + 26u, s26c);
  store4t(j + 12u, c + 26u, s26d); store4t(j + 16u, c + 26u, s26e); store4t(j + 20u, c + 26u, s26f);
  store4t(j + 24u, c + 26u, s26g); store4t(j + 28u, c + 26u, s26h);
  store4t(j, c + 27u, s27a); store4t(j + 4u, c + 27u, s27b); store4t(j + 8u, c + 27u, s27c);
  store4t(j + 12u, c + 27u, s27d); store4t(j + 16u, c + 27u, s27e); store4t(j + 20u, c + 27u, s27f);
  store4t(j + 24u, c + 27u, s27g); store4t(j + 28u, c + 27u, s27h);
  store4t(j, c + 28u, s28a); store4t(j + 4u, c + 28u, s28b); store4t(j + 8u, c + 28u, s28c);
  store4t(j + 12u, c + 28u, s28d); store4t(j + 16u, c + 28u, s28e); store4t(j + 20u, c + 28u, s28f);
  store4t(j + 24u, c + 28u, s28g); store4t(j + 28u, c + 28u, s28h);
  store4t(j, c + 29u, s29a); store4t(j + 4u, c + 29u, s29b); store4t(j + 8u, c + 29u, s29c);
  store4t(j + 12u, c + 29u, s29d); store4t(j + 16u, c + 29u, s29e); store4t(j + 20u, c + 29u, s29f);
  store4t(j + 24u, c + 29u, s29g); store4t(j + 28u, c + 29u, s29h);
  store4t(j, c + 30u, s30a); store4t(j + 4u, c + 30u, s30b); store4t(j + 8u, c + 30u, s30c);
  store4t(j + 12u, c + 30u, s30d); store4t(j + 16u, c + 30u, s30e); store4t(j + 20u, c + 30u, s30f);
  store4t(j + 24u, c + 30u, s30g); store4t(j + 28u, c + 30u, s30h);
  store4t(j, c + 31u, s31a); store4t(j + 4u, c + 31u, s31b); store4t(j + 8u, c + 31u, s31c);
  store4t(j + 12u, c + 31u, s31d); store4t(j + 16u, c + 31u, s31e); store4t(j + 20u, c + 31u, s31f);
  store4t(j + 24u, c + 31u, s31g); store4t(j + 28u, c + 31u, s31h);
}

// o[col0 + c] = <a4 row c, b4 row c> for c < cols: the score of text col0 + c with its own image
// (a4 holds the image of each text, gathered). The arithmetic is the one `scores` does for one
// (row, query) entry (vec4 x mat4x4, accumulated over t in the same order), so the value equals
// the block entry bit for bit and an exact tie stays a tie.
@compute @workgroup_size(WG)
fn pair_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let c = linear_index(wid, nwg, lid, WG);
  if (c >= p.cols) { return; }
  var s = vec4<f32>();
  for (var t = 0u; t < p.d4; t++) {
    let q = b4[c * p.d4 + t];
    s += a4[c * p.d4 + t] * mat4x4<f32>(q, q, q, q);
  }
  o[p.col0 + c] = s.x;
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
