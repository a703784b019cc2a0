// Loss `listmle` (src/losses/listmle.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// listmle (allRank listMLE), per list over the label order (ties: lower index first): with m the
// list's maximum score and C_r = sum_{r' >= r} exp(s_r' - m) (a suffix sum),
// loss = sum_r log(C_r + EPS) - (s_r - m). Out: o[l * 2 + {0, 1}] = (loss, 1 if any valid),
// o2[l * n + r] = C_r.

@compute @workgroup_size(WG)
fn listmle_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let nv = u32(info[l * 4u + 1u]);
  var m = -F32_MAX;
  for (var r = 0u; r < nv; r++) { m = max(m, ent[base + r].x); }
  var c = 0.0;
  var loss = 0.0;
  for (var r = nv; r > 0u; r--) {
    let sr = ent[base + r - 1u].x - m;
    c += exp(sr);
    loss += log(c + EPS) - sr;
    o2[base + r - 1u] = c;
  }
  o[l * 2u] = loss;
  o[l * 2u + 1u] = select(0.0, 1.0, nv > 0u);
}

// d/ds at position r: exp(s_r - m) sum_{r' <= r} 1 / (C_r' + EPS) - 1 (a prefix sum), plus, for
// the first maximum by index (m's argument), sum_r EPS / (C_r + EPS). Reads wa = C.
// Out: o = grad at the items' own places.
@compute @workgroup_size(WG)
fn listmle_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let nv = u32(info[l * 4u + 1u]);
  let coef = g[0] / den[0];
  var m = -F32_MAX;
  var arg = 0u;
  for (var r = 0u; r < nv; r++) {
    let e = ent[base + r];
    let i = u32(e.z);
    if (r == 0u || e.x > m || (e.x == m && i < arg)) {
      m = e.x;
      arg = i;
    }
  }
  var acc = 0.0;
  var acc_eps = 0.0;
  for (var r = 0u; r < nv; r++) {
    let e = ent[base + r];
    let inv = 1.0 / (wa[base + r] + EPS);
    acc += inv;
    acc_eps += EPS * inv;
    o[base + u32(e.z)] = coef * (exp(e.x - m) * acc - 1.0);
  }
  for (var r = nv; r < p.n; r++) { o[base + u32(ent[base + r].z)] = 0.0; }
  if (nv > 0u) { o[base + arg] += coef * acc_eps; }
}
