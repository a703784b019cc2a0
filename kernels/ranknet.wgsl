// Loss `ranknet` (src/losses/ranknet.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// ranknet (allRank rankNet): per valid item i, over valid j with y_i > y_j:
// w_ij * softplus(-(s_i - s_j)); mode 0: w = 1, 1: |y_i - y_j|, 2: |y_i^2 - y_j^2|.
// Reads the label order. Per position out: o[t * 2 + {0, 1}] = (loss, number of pairs).

fn ranknet_weight4(yi: vec4<f32>, yj: f32) -> vec4<f32> {
  if (p.mode == 1u) { return abs(yi - yj); }
  if (p.mode == 2u) { return abs(yi * yi - yj * yj); }
  return ONE4;
}

@compute @workgroup_size(WG)
fn ranknet_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + q0;
  let lanes = load_lanes(base, q0);
  var acc = Z4;
  var count = Z4;
  // only relevant items have lower-labelled valid items
  if (any(lanes.y > Z4)) {
    let nv = u32(info[l * 4u + 1u]);
    for (var j = 0u; j < nv; j++) {
      let e = ent[base + j];
      let sel = lanes.y > vec4<f32>(e.y);
      if (any(sel)) {
        let term = ranknet_weight4(lanes.y, e.y) * softplus4(e.x - lanes.s);
        acc += select(Z4, term, sel);
        count += select(Z4, ONE4, sel);
      }
    }
  }
  store_o4(t0 * 2u, 2u, q0, acc);
  store_o4(t0 * 2u + 1u, 2u, q0, count);
}

@compute @workgroup_size(WG)
fn ranknet_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let lanes = load_lanes(base, q0);
  let v4 = lanes.y >= Z4;
  var d = Z4;
  if (any(v4)) {
    // higher-labelled items are all relevant (positions < nr); lower ones exist for relevant lanes
    var end = u32(info[l * 4u]);
    if (any(lanes.y > Z4)) { end = u32(info[l * 4u + 1u]); }
    for (var j = 0u; j < end; j++) {
      let e = ent[base + j];
      let first = v4 & (lanes.y > vec4<f32>(e.y)); // pairs (lane, j)
      let second = v4 & (lanes.y < vec4<f32>(e.y)); // pairs (j, lane)
      if (any(first | second)) {
        let w = ranknet_weight4(lanes.y, e.y);
        d -= select(Z4, w * sigmoid4(e.x - lanes.s), first);
        d += select(Z4, w * sigmoid4(lanes.s - e.x), second);
      }
    }
  }
  store_items(base, q0, lanes.idx, g[0] / den[0] * d);
}
