// Loss `recallk` (src/losses/recallk.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// recallk (Patel, Tolias, Matas 2022), f0 = tau1 (rank sigmoid), f1 = tau2 (recall sigmoid); the
// cutoffs K are the f32 values wb[0 .. k) (k = their count, at most RK_MAX_K). For a relevant item
// x of a list with valid items Omega and relevant items P:
// r(x) = 1 + sum_{z in Omega, z != x} sigmoid((s_z - s_x) / tau1),
// RS@k = min(sum_{x in P} sigmoid((k' - r(x)) / tau2), k') / min(k', |P|), k' = min(k, |Omega|);
// list loss = 1 - mean over K of RS@k (lists without a relevant item: (0, 0)).

// Per item (label order): o[base + t] = r(x) for a relevant position t, 0 elsewhere.
@compute @workgroup_size(WG)
fn recallk_rank(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let lanes = load_lanes(base, q0);
  let positions = vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u);
  let rel = lanes.y > Z4;
  var r = ONE4;
  if (any(rel)) {
    let inv_tau = 1.0 / p.f0;
    let nv = u32(info[l * 4u + 1u]);
    for (var j = 0u; j < nv; j++) {
      let e = ent[base + j];
      r += select(Z4, sigmoid4((e.x - lanes.s) * inv_tau), positions != vec4<u32>(j));
    }
  }
  store_o4(base + q0, 1u, q0, select(Z4, r, rel));
}

// Per list: reads the ranks wa (recallk_rank's o) and the cutoffs wb. o[l * 2 + {0, 1}] =
// (1 - mean_k RS@k, 1) for a list with a relevant item, else (0, 0); o2[base + t] = d(list
// loss)/d r(x) for a relevant position t (0 where a cutoff's clamp min(., k') is active).
@compute @workgroup_size(WG)
fn recallk_list(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let nr = u32(info[l * 4u]);
  let nv = f32(info[l * 4u + 1u]);
  for (var t = 0u; t < p.n; t++) { o2[base + t] = 0.0; }
  if (nr == 0u) {
    o[l * 2u] = 0.0;
    o[l * 2u + 1u] = 0.0;
    return;
  }
  let inv_tau = 1.0 / p.f1;
  let nk = min(p.k, RK_MAX_K);
  var live: array<f32, RK_MAX_K>; // 1 / norm where the clamp is inactive, else 0
  var recall = 0.0;
  for (var c = 0u; c < nk; c++) {
    let kk = min(wb[c], nv);
    var num = 0.0;
    for (var t = 0u; t < nr; t++) { num += sigmoid4(vec4<f32>((kk - wa[base + t]) * inv_tau)).x; }
    let norm = min(kk, f32(nr));
    recall += min(num, kk) / norm;
    live[c] = select(0.0, 1.0 / norm, num < kk);
  }
  let inv_k = 1.0 / f32(nk);
  for (var t = 0u; t < nr; t++) {
    let r = wa[base + t];
    var d = 0.0;
    for (var c = 0u; c < nk; c++) {
      let z = (min(wb[c], nv) - r) * inv_tau;
      d += live[c] * dsigmoid4(vec4<f32>(z)).x;
    }
    // d(1 - mean_k RS@k)/dr = (1/|K|) sum_k live_k sigmoid'((k' - r)/tau2) / tau2
    o2[base + t] = d * inv_tau * inv_k;
  }
  o[l * 2u] = 1.0 - recall * inv_k;
  o[l * 2u + 1u] = 1.0;
}

// d loss/d s_k = sum_{x in P, x != k} c(x) sigma'((s_k - s_x)/tau1)/tau1
//               - [k in P] c(k) sum_{z in Omega, z != k} sigma'((s_z - s_k)/tau1)/tau1,
// c = recallk_list's o2 (read as wa), scaled by g[0] / den[0].  Out: o = grad.
@compute @workgroup_size(WG)
fn recallk_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let lanes = load_lanes(base, q0);
  let positions = vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u);
  let v4 = lanes.y >= Z4;
  let kpos = lanes.y > Z4;
  let nr = u32(info[l * 4u]);
  var d = Z4;
  if (any(v4) && nr > 0u) {
    let inv_tau = 1.0 / p.f0;
    var end = nr;
    if (any(kpos)) { end = u32(info[l * 4u + 1u]); }
    var self_sum = Z4; // sum over z of sigma'((s_z - s_k)/tau1)/tau1
    for (var j = 0u; j < end; j++) {
      let e = ent[base + j];
      let dz = select(Z4, dsigmoid4((e.x - lanes.s) * inv_tau) * inv_tau,
                      positions != vec4<u32>(j));
      self_sum += dz;
      if (j < nr) { d += wa[base + j] * dz; }
    }
    let ck = load_wa4(base + q0, 1u, q0);
    d -= select(Z4, ck * self_sum, kpos);
  }
  store_items(base, q0, lanes.idx, select(Z4, g[0] / den[0] * d, v4));
}
