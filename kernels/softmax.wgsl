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
