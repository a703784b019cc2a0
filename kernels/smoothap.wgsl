// Loss `smoothap` (src/losses/smoothap.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// smoothap (Brown et al. 2020), f0 = temperature tau. For a relevant item i of a list:
// A_i = 1 + sum_{relevant j != i} sigmoid((s_j - s_i) / tau),
// B_i = 1 + sum_{valid j != i} sigmoid((s_j - s_i) / tau); AP = mean over relevant i of A_i / B_i.
// Reads the label order. Per position out: o[t * 2 + {0, 1}] = (A_i / B_i, 1) for relevant items,
// o2[t * 2 + {0, 1}] = (A_i, B_i).

@compute @workgroup_size(WG)
fn smoothap_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + q0;
  let lanes = load_lanes(base, q0);
  let positions = vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u);
  let rel = lanes.y > Z4;
  var a = ONE4;
  var b = ONE4;
  if (any(rel)) {
    let inv_tau = 1.0 / p.f0;
    let nv = u32(info[l * 4u + 1u]);
    for (var j = 0u; j < nv; j++) {
      let e = ent[base + j];
      let sg = select(Z4, sigmoid4((e.x - lanes.s) * inv_tau), positions != vec4<u32>(j));
      b += sg;
      if (e.y > 0.0) { a += sg; }
    }
  }
  store_o4(t0 * 2u, 2u, q0, select(Z4, a / b, rel));
  store_o4(t0 * 2u + 1u, 2u, q0, select(Z4, ONE4, rel));
  store_o2_4(t0 * 2u, 2u, q0, select(Z4, a, rel));
  store_o2_4(t0 * 2u + 1u, 2u, q0, select(Z4, b, rel));
}

// d(1 - AP)/ds_k through A_k, B_k (k relevant) and through every relevant i's A_i, B_i (a
// non-relevant k only needs the relevant items). Reads wa = smoothap_fwd's o2.  Out: o = grad.
@compute @workgroup_size(WG)
fn smoothap_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + q0;
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
    var da = Z4; // d A_k / d s_k
    var db = Z4; // d B_k / d s_k
    var acc = Z4; // through the other relevant items' ratios
    for (var j = 0u; j < end; j++) {
      let e = ent[base + j];
      // sigmoid'((s_j - s_k) / tau) / tau, symmetric in the sign
      let dz = select(Z4, dsigmoid4((e.x - lanes.s) * inv_tau) * inv_tau,
                      positions != vec4<u32>(j));
      db -= dz;
      if (e.y > 0.0) {
        da -= dz;
        let aj = wa[(base + j) * 2u];
        let bj = wa[(base + j) * 2u + 1u];
        acc += select(Z4, dz / bj, kpos) - aj * dz / (bj * bj);
      }
    }
    let ak = load_wa4(t0 * 2u, 2u, q0);
    let bk = select(ONE4, load_wa4(t0 * 2u + 1u, 2u, q0), kpos);
    acc += select(Z4, da / bk - ak * db / (bk * bk), kpos);
    d = -acc / f32(nr);
  }
  store_items(base, q0, lanes.idx, select(Z4, g[0] / den[0] * d, v4));
}
