// Loss `softmax` (src/losses/softmax.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// softmax: per list, q = y / sum(y) over valid items, loss = sum_j q_j (logsumexp(s) - s_j).
// Lists whose labels sum to 0 give 0. Out: o[l * 2 + {0, 1}] = (loss, 1 or 0).

@compute @workgroup_size(WG)
fn softmax_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  var m = -F32_MAX;
  var ysum = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      m = max(m, s[base + j]);
      ysum += yj;
    }
  }
  if (!(ysum > 0.0)) {
    o[l * 2u] = 0.0;
    o[l * 2u + 1u] = 0.0;
    return;
  }
  var z = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (valid(y[base + j])) { z += exp(s[base + j] - m); }
  }
  let lz = log(z);
  var loss = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (yj > 0.0) { loss += yj * ((m - s[base + j]) + lz); }
  }
  o[l * 2u] = loss / ysum;
  o[l * 2u + 1u] = 1.0;
}

// d/ds_j = coef * (softmax(s)_j - q_j) on valid items.  Out: o = grad [lists, n].
@compute @workgroup_size(WG)
fn softmax_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  var m = -F32_MAX;
  var ysum = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      m = max(m, s[base + j]);
      ysum += yj;
    }
  }
  if (!(ysum > 0.0)) {
    for (var j = 0u; j < p.n; j++) { o[base + j] = 0.0; }
    return;
  }
  var z = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (valid(y[base + j])) { z += exp(s[base + j] - m); }
  }
  let inv = 1.0 / z;
  let invy = 1.0 / ysum;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    var d = 0.0;
    if (valid(yj)) { d = coef * (exp(s[base + j] - m) * inv - yj * invy); }
    o[base + j] = d;
  }
}

// ---------------------------------------------------------------------------------------------
// Both directions at once (symmetricSoftmaxLoss): 1/2 softmax(alpha S, Y) + 1/2 softmax(alpha S^T,
// Y^T) on one [R, C] matrix (R = p.lists rows, C = p.n columns, alpha = p.f0), with the same
// arithmetic per list as softmax_fwd / softmax_bwd on alpha S and on its transpose, so the
// gradient has the same bits as that chain's (tests/softmax_test.ts). List l < R is row l; list
// R + c is column c, read with stride C. No transpose, no second label matrix.

// (first entry, stride, items) of two-way list l.
fn two_way_list(l: u32) -> vec3<u32> {
  if (l < p.lists) { return vec3<u32>(l * p.n, 1u, p.n); }
  return vec3<u32>(l - p.lists, p.n, p.lists);
}

// One invocation per list of either direction (R + C). Out: o[l * 2 + {0, 1}] = (loss, 1 or 0)
// as softmax_fwd; o2[l * 4 + {0, 1, 2}] = (max, sum of exps, label sum) for softmax2_bwd.
@compute @workgroup_size(WG)
fn softmax2_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists + p.n) { return; }
  let at = two_way_list(l);
  var m = -F32_MAX;
  var ysum = 0.0;
  for (var k = 0u; k < at.z; k++) {
    let e = at.x + k * at.y;
    let yj = y[e];
    if (valid(yj)) {
      m = max(m, p.f0 * s[e]);
      ysum += yj;
    }
  }
  o2[l * 4u + 2u] = ysum;
  if (!(ysum > 0.0)) {
    o[l * 2u] = 0.0;
    o[l * 2u + 1u] = 0.0;
    return;
  }
  var z = 0.0;
  for (var k = 0u; k < at.z; k++) {
    let e = at.x + k * at.y;
    if (valid(y[e])) { z += exp(p.f0 * s[e] - m); }
  }
  let lz = log(z);
  var loss = 0.0;
  for (var k = 0u; k < at.z; k++) {
    let e = at.x + k * at.y;
    let yj = y[e];
    if (yj > 0.0) { loss += yj * ((m - p.f0 * s[e]) + lz); }
  }
  o[l * 2u] = loss / ysum;
  o[l * 2u + 1u] = 1.0;
  o2[l * 4u] = m;
  o2[l * 4u + 1u] = z;
}

// One invocation: o[0] = 1/2 (mean of the R row losses) + 1/2 (mean of the C column losses) from
// softmax2_fwd's pairs in wb, summed in finish's order.
@compute @workgroup_size(1)
fn softmax2_finish() {
  var rows = 0.0;
  for (var l = 0u; l < p.lists; l++) { rows += wb[l * 2u]; }
  var cols = 0.0;
  for (var c = 0u; c < p.n; c++) { cols += wb[(p.lists + c) * 2u]; }
  let t2i = rows / f32(max(p.lists, 1u));
  let i2t = cols / f32(max(p.n, 1u));
  o[0] = 0.5 * t2i + 0.5 * i2t;
}

// The part of d loss / d s_e of one direction's list (stats st = (max, sum of exps, label sum)),
// coef = its upstream gradient over its count of lists: softmax_bwd's arithmetic.
fn softmax2_part(coef: f32, st: vec4<f32>, se: f32, ye: f32) -> f32 {
  if (!(st.z > 0.0) || !valid(ye)) { return 0.0; }
  let inv = 1.0 / st.y;
  let invy = 1.0 / st.z;
  return coef * (exp(se - st.x) * inv - ye * invy);
}

// Per item: d loss / d S_rc = alpha (row part + column part), the stats in wb (softmax2_fwd's o2),
// the upstream gradient in g. Out: o = grad [R, C].
@compute @workgroup_size(WG)
fn softmax2_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let r = wid.y + wid.z * nwg.y;
  let c0 = (wid.x * WG + lid) * 4u;
  if (r >= p.lists || c0 >= p.n) { return; }
  let half = 0.5 * g[0];
  let coef_r = half / f32(max(p.lists, 1u));
  let coef_c = half / f32(max(p.n, 1u));
  let row = vec4<f32>(wb[r * 4u], wb[r * 4u + 1u], wb[r * 4u + 2u], 0.0);
  for (var k = 0u; k < 4u; k++) {
    let c = c0 + k;
    if (c < p.n) {
      let e = r * p.n + c;
      let lc = (p.lists + c) * 4u;
      let col = vec4<f32>(wb[lc], wb[lc + 1u], wb[lc + 2u], 0.0);
      let se = p.f0 * s[e];
      let ye = y[e];
      o[e] = p.f0 * (softmax2_part(coef_r, row, se, ye) + softmax2_part(coef_c, col, se, ye));
    }
  }
}
