// Loss `hinge` (src/losses/hinge.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// hinge (VSE++): per relevant item i, over the list's non-relevant valid items j (label 0):
// mode 0: sum_j max(0, margin - s_i + s_j); mode 1: max(0, margin - s_i + max_j s_j).
// f0 = margin. Reads the label order. Per position out: o[t * 2 + {0, 1}] = (loss, 1 if relevant).

@compute @workgroup_size(WG)
fn hinge_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + q0;
  let lanes = load_lanes(base, q0);
  let rel = lanes.y > Z4;
  var acc = Z4;
  if (any(rel)) {
    let a = p.f0 - lanes.s;
    let nr = u32(info[l * 4u]);
    let nv = u32(info[l * 4u + 1u]);
    let hardest = info[l * 4u + 2u];
    if (p.mode == 1u) {
      if (hardest >= 0.0) { acc = max(a + ent[base + u32(hardest)].x, Z4); }
    } else {
      for (var j = nr; j < nv; j++) { acc += max(a + ent[base + j].x, Z4); }
    }
  }
  store_o4(t0 * 2u, 2u, q0, select(Z4, acc, rel));
  store_o4(t0 * 2u + 1u, 2u, q0, select(Z4, ONE4, rel));
}

// Subgradient: a hinge exactly at 0 counts as inactive; the hardest negative is the first of the
// tied maxima (by index).  Out: o = grad.
@compute @workgroup_size(WG)
fn hinge_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let lanes = load_lanes(base, q0);
  let s4 = lanes.s;
  let rel = lanes.y > Z4;
  let neg = lanes.y == Z4;
  let nr = u32(info[l * 4u]);
  let nv = u32(info[l * 4u + 1u]);
  let hardest = info[l * 4u + 2u];
  var violated = Z4; // relevant lanes: violating negatives
  var violating = Z4; // negative lanes: relevant items they violate
  var neg_live = neg;
  if (p.mode == 1u) {
    if (hardest >= 0.0) {
      violated = select(Z4, ONE4, p.f0 - s4 + ent[base + u32(hardest)].x > Z4);
    }
    let positions = vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u);
    neg_live = neg & (positions == vec4<u32>(u32(max(hardest, 0.0)))) & vec4<bool>(hardest >= 0.0);
  } else if (any(rel)) {
    for (var j = nr; j < nv; j++) {
      violated += select(Z4, ONE4, p.f0 - s4 + ent[base + j].x > Z4);
    }
  }
  if (any(neg_live)) {
    for (var j = 0u; j < nr; j++) {
      violating += select(Z4, ONE4, p.f0 - ent[base + j].x + s4 > Z4);
    }
  }
  let d = select(Z4, -violated, rel) + select(Z4, violating, neg_live);
  store_items(base, q0, lanes.idx, g[0] / den[0] * d);
}
