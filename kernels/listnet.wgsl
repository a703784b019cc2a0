// Loss `listnet` (src/losses/listnet.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// listnet (allRank listNet): loss = -sum_j softmax(y)_j log(softmax(s)_j + EPS) over valid items.
// All-padding lists give 0. Out: o[l * 2 + {0, 1}] = (loss, 1 or 0).

@compute @workgroup_size(WG)
fn listnet_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  var ms = -F32_MAX;
  var my = -F32_MAX;
  var count = 0u;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      ms = max(ms, s[base + j]);
      my = max(my, yj);
      count++;
    }
  }
  if (count == 0u) {
    o[l * 2u] = 0.0;
    o[l * 2u + 1u] = 0.0;
    return;
  }
  var zs = 0.0;
  var zy = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      zs += exp(s[base + j] - ms);
      zy += exp(yj - my);
    }
  }
  var loss = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      let pj = exp(s[base + j] - ms) / zs;
      let tj = exp(yj - my) / zy;
      loss -= tj * log(pj + EPS);
    }
  }
  o[l * 2u] = loss;
  o[l * 2u + 1u] = 1.0;
}

// With r_j = t_j p_j / (p_j + EPS): d/ds_k = coef * (p_k sum_j r_j - r_k).  Out: o = grad.
@compute @workgroup_size(WG)
fn listnet_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  var ms = -F32_MAX;
  var my = -F32_MAX;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      ms = max(ms, s[base + j]);
      my = max(my, yj);
    }
  }
  var zs = 0.0;
  var zy = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      zs += exp(s[base + j] - ms);
      zy += exp(yj - my);
    }
  }
  var rsum = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      let pj = exp(s[base + j] - ms) / zs;
      rsum += exp(yj - my) / zy * pj / (pj + EPS);
    }
  }
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    var d = 0.0;
    if (valid(yj)) {
      let pj = exp(s[base + j] - ms) / zs;
      let rj = exp(yj - my) / zy * pj / (pj + EPS);
      d = coef * (pj * rsum - rj);
    }
    o[base + j] = d;
  }
}
