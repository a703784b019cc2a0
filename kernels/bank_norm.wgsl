// Bank-normalised retrieval (src/ops/bank_norm.ts, src/ops/retrieval.ts; CPU twin:
// src/reference/bank_norm.ts): per-gallery-item statistics of a bank of queries, accumulated over
// blocks of similarity scores so that no bank × gallery matrix ever exists, and the normalised
// scores `s - bias[gallery item]` that the rank counts of retrieval.wgsl then read.
//
// A statistics block comes from kernels/matmul.wgsl (as in retrieval.wgsl): `rows` gallery rows
// (global rows row0 ..) × `cols` bank rows, block[j * cols + c] = <gallery row0 + j, bank row c>.
// Blocks of every bank chunk arrive one after the other; one invocation per gallery row loops over
// the block's columns serially (no workgroup memory: barriers are costly on llvmpipe).
//
// - bank_lse: st[2g] = m, st[2g + 1] = z, the running log-sum-exp of beta * s over the bank in the
//   form LSE = m + ln z (m the largest beta * s so far, z = sum exp(beta * s - m)). The host starts
//   them at m = -F32_MAX, z = 0 and finishes LSE = m + ln z.
// - bank_topk: st[g * k .. g * k + k) = the k largest scores of gallery item g over the bank so far,
//   largest first (the host starts them at -F32_MAX; equal scores are interchangeable here).
// - norm_block / norm_pairs: out = a - bias[gallery item] for the queries that are normalised
//   (flags bit 1: only where on[query] != 0; else every query), out = a for the others. The
//   same f32 expression in both entries, so a relevant pair's normalised score stays equal bit for
//   bit to its normalised block entry (exact ties stay ties; see the tie rule in retrieval.wgsl).
//   norm_block: a = a score block of retrieval.wgsl's layout (`rows` images from row0 × `cols`
//   texts from col0, stride cols); flags bit 0 set: the gallery is the texts (image → text), the
//   bias indexed by text and `on` by image; clear: the gallery is the images (text → image).
//   norm_pairs: a = the scores of `count` relevant pairs, pairs[3p .. 3p + 3) = (text, image, grade);
//   flags bit 0 as above.

@compute @workgroup_size(WG)
fn bank_lse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.rows) { return; }
  let base = j * p.cols;
  var top = -F32_MAX;
  for (var c = 0u; c < p.cols; c++) { top = max(top, p.beta * a[base + c]); }
  let g = p.row0 + j;
  let m = st[2u * g];
  let m2 = max(m, top);
  var z = st[2u * g + 1u] * exp(m - m2);
  for (var c = 0u; c < p.cols; c++) { z += exp(p.beta * a[base + c] - m2); }
  st[2u * g] = m2;
  st[2u * g + 1u] = z;
}

@compute @workgroup_size(WG)
fn bank_topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.rows) { return; }
  let base = j * p.cols;
  let sb = (p.row0 + j) * p.k;
  var kth = st[sb + p.k - 1u];
  for (var c = 0u; c < p.cols; c++) {
    let s = a[base + c];
    if (s <= kth) { continue; }
    var pos = p.k - 1u;
    while (pos > 0u && st[sb + pos - 1u] < s) {
      st[sb + pos] = st[sb + pos - 1u];
      pos--;
    }
    st[sb + pos] = s;
    kth = st[sb + p.k - 1u];
  }
}

// The normalised score of raw score s for gallery item g and query q.
fn normed(s: f32, g: u32, q: u32) -> f32 {
  if ((p.flags & 2u) != 0u && on[q] == 0u) { return s; }
  return s - bias[g];
}

@compute @workgroup_size(WG)
fn norm_block(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  if (e >= p.rows * p.cols) { return; }
  let image = p.row0 + e / p.cols;
  let text = p.col0 + e % p.cols;
  if ((p.flags & 1u) != 0u) {
    out[e] = normed(a[e], text, image);
  } else {
    out[e] = normed(a[e], image, text);
  }
}

@compute @workgroup_size(WG)
fn norm_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let q = linear_index(wid, nwg, lid, WG);
  if (q >= p.count) { return; }
  let text = pairs[3u * q];
  let image = pairs[3u * q + 1u];
  if ((p.flags & 1u) != 0u) {
    out[q] = normed(a[q], text, image);
  } else {
    out[q] = normed(a[q], image, text);
  }
}
