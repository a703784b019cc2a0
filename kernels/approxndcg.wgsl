// Loss `approxndcg` (src/losses/approxndcg.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// approxndcg (allRank approxNDCGLoss), f0 = alpha. Per valid item i:
// P_i = 1 + sum_{valid b != i} max(sigmoid(-alpha (s_i - s_b)), EPS), the approximate position;
// list loss = -sum_i G_i / log2(1 + P_i), G_i = (2^y_i - 1) / max(ideal DCG, EPS).

// Per item: o[t * 2 + {0, 1}] = (-G_i / log2(1 + P_i), 0) and o2[t] = phi_i, the derivative of
// G_i / log2(1 + P_i) by P_i. Reads wb[l] = max(ideal DCG, EPS) (ideal_dcg over the label order).
@compute @workgroup_size(WG)
fn approx_prep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let i0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || i0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + i0;
  let ii = lane_items(i0);
  let y4 = load_y4(base, i0);
  let s4 = load_s4(base, i0);
  let v4 = y4 >= Z4;
  var pos = ONE4;
  if (any(v4)) {
    for (var j = 0u; j < p.n; j++) {
      if (valid(y[base + j])) {
        let soft = max(sigmoid4(-p.f0 * (s4 - s[base + j])), vec4<f32>(EPS));
        pos += select(Z4, soft, ii != vec4<u32>(j));
      }
    }
  }
  let gi = gain4(max(y4, Z4)) / wb[l];
  let li = log2(1.0 + pos);
  store_o4(t0 * 2u, 2u, i0, select(Z4, -gi / li, v4));
  store_o4(t0 * 2u + 1u, 2u, i0, Z4);
  store_o2_4(t0, 1u, i0, select(Z4, -gi / (LN2 * (1.0 + pos) * li * li), v4));
}

// d(-NDCG)/ds_i through P_i (its own sigmoids) and every P_b (the sigmoid against i); 0 where the
// EPS clamp is active. Reads wa = approx_prep's phi.  Out: o = grad.
@compute @workgroup_size(WG)
fn approx_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let i0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || i0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + i0;
  let ii = lane_items(i0);
  let y4 = load_y4(base, i0);
  let s4 = load_s4(base, i0);
  let v4 = y4 >= Z4;
  var acc = Z4;
  if (any(v4)) {
    let alpha = p.f0;
    let phi_i = load_wa4(t0, 1u, i0);
    for (var b = 0u; b < p.n; b++) {
      if (valid(y[base + b])) {
        let u = -alpha * (s4 - s[base + b]);
        let e = exp(-abs(u));
        let sg = select(e, ONE4, u >= Z4) / (1.0 + e); // sigmoid(u), in P_i
        let sv = select(ONE4, e, u >= Z4) / (1.0 + e); // sigmoid(-u), in P_b
        let ds = alpha * sg * sv;
        let others = ii != vec4<u32>(b);
        acc -= select(Z4, phi_i * ds, others & (sg >= vec4<f32>(EPS)));
        acc += select(Z4, wa[base + b] * ds, others & (sv >= vec4<f32>(EPS)));
      }
    }
  }
  store_o4(t0, 1u, i0, select(Z4, -(g[0] / den[0]) * acc, v4));
}
