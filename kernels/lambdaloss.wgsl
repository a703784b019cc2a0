// Loss `lambdaloss` (src/losses/lambdaloss.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// lambdaloss (allRank lambdaLoss). Positions are ranks among the list's valid items by descending
// score (ties: lower index first); k = effective cutoff. mode = scheme: 0 ndcgLoss1, 1 ndcgLoss2,
// 2 lambdaRank, 3 ndcgLoss2PP, 4 rankNet. f0 = sigma, f1 = mu, f2 = 1 / ln(base) of the log.

// Per list: every valid item's 0-based position by descending score (ties: lower index first),
// o[l * n + i] (0 for padded items). o3 [lists, n, 4] is scratch. O(n log n).
@compute @workgroup_size(WG)
fn sort_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let n = p.n;
  let base = l * n;
  let start = 4u * base;
  var nv = 0u;
  for (var i = 0u; i < n; i++) {
    o[base + i] = 0.0;
    if (valid(y[base + i])) {
      o3[start + 2u * nv] = s[base + i];
      o3[start + 2u * nv + 1u] = f32(i);
      nv++;
    }
  }
  let sorted = merge_sort_pairs(start, nv);
  for (var r = 0u; r < nv; r++) { o[base + u32(o3[sorted + 2u * r + 1u])] = f32(r); }
}

// Per list: the label order's entries with each item's score position (wa, from sort_scores) as
// extra: o[(l * n + r) * 4 + {0..3}] = (score, label, index, position).
@compute @workgroup_size(WG)
fn lambda_entries(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  for (var r = 0u; r < p.n; r++) {
    let e = ent[base + r];
    let q = (base + r) * 4u;
    o[q] = e.x;
    o[q + 1u] = e.y;
    o[q + 2u] = e.z;
    o[q + 3u] = wa[base + u32(e.z)];
  }
}

// The scheme's weight of the pair (a, b), a and b at 0-based positions pa, pb with gains ga, gb.
fn lambda_weight4(ga: vec4<f32>, gb: vec4<f32>, pa: vec4<f32>, pb: vec4<f32>) -> vec4<f32> {
  switch (p.mode) {
    case 0u: { return ga / log2(2.0 + pa); }
    case 4u: { return ONE4; }
    default: {
      let dg = abs(ga - gb);
      let lrank = abs(1.0 / log2(2.0 + pa) - 1.0 / log2(2.0 + pb)) * dg;
      if (p.mode == 2u) { return lrank; }
      let delta = abs(pa - pb);
      let dd = max(delta, ONE4); // the diagonal (delta 0) weighs 0
      let ndcg2 = select(Z4, abs(1.0 / log2(1.0 + dd) - 1.0 / log2(2.0 + dd)) * dg, delta > Z4);
      if (p.mode == 1u) { return ndcg2; }
      return p.f1 * ndcg2 + lrank;
    }
  }
}

// Per lane: whether the pair (a, b) is selected (ndcgLoss1: every pair; else y_a > y_b).
fn lambda_selected4(ya: vec4<f32>, yb: vec4<f32>) -> vec4<bool> {
  return (ya > yb) | vec4<bool>(p.mode == 0u);
}

// Per position (first of the pair): sum over selected pairs (a, b), both within the cutoff, of
// -max(w * max(log sigmoid(sigma x), log EPS), log EPS) / ln(base), x = clamp(s_a - s_b, +-1e8).
// Reads ent = lambda_entries' output, wb[l] = max(ideal DCG, EPS).
// Out: o[t * 2 + {0, 1}] = (loss, pairs).
@compute @workgroup_size(WG)
fn lambda_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let t0 = base + q0;
  let lanes = load_lanes(base, q0);
  let kf = f32(p.k);
  let act = (lanes.y >= Z4) & (lanes.x < vec4<f32>(kf));
  var acc = Z4;
  var count = Z4;
  // apart from ndcgLoss1, only relevant items come first in a selected pair
  if (any(act & ((lanes.y > Z4) | vec4<bool>(p.mode == 0u)))) {
    let nv = u32(info[l * 4u + 1u]);
    let inv_max = 1.0 / wb[l];
    let ga = gain4(max(lanes.y, Z4)) * inv_max;
    let w_lane = ga / log2(2.0 + lanes.x); // ndcgLoss1's weight depends on the first item only
    for (var j = 0u; j < nv; j++) {
      let e = ent[base + j];
      if (e.w < kf) {
        let sel = act & lambda_selected4(lanes.y, vec4<f32>(e.y));
        if (any(sel)) {
          var w = w_lane;
          if (p.mode != 0u) {
            w = lambda_weight4(ga, vec4<f32>(gain(e.y) * inv_max), lanes.x, vec4<f32>(e.w));
          }
          let x = clamp(lanes.s - e.x, vec4<f32>(-1e8), vec4<f32>(1e8));
          let lsig = max(-softplus4(-p.f0 * x), vec4<f32>(LOG_EPS));
          acc -= select(Z4, max(w * lsig, vec4<f32>(LOG_EPS)) * p.f2, sel);
          count += select(Z4, ONE4, sel);
        }
      }
    }
  }
  store_o4(t0 * 2u, 2u, q0, acc);
  store_o4(t0 * 2u + 1u, 2u, q0, count);
}

// d pair-loss / d x of the pair term above, for the pair (lane, j) with weight w1 at x = diff and
// for the pair (j, lane) with weight w2 at x = -diff (0 where a clamp is active). One exp and one
// log serve both.
struct PairGrads {
  first: vec4<f32>,
  second: vec4<f32>,
}

fn lambda_dterms4(w1: vec4<f32>, w2: vec4<f32>, diff: vec4<f32>) -> PairGrads {
  let z = p.f0 * diff;
  let e = exp(-abs(z));
  let l1p = log(1.0 + e);
  let lsig1 = min(z, Z4) - l1p; // log sigmoid(z)
  let lsig2 = min(-z, Z4) - l1p; // log sigmoid(-z)
  let sig1 = select(e, ONE4, z >= Z4) / (1.0 + e); // sigmoid(z)
  let sig2 = select(ONE4, e, z >= Z4) / (1.0 + e); // sigmoid(-z)
  let inside = abs(diff) <= vec4<f32>(1e8);
  let le = vec4<f32>(LOG_EPS);
  let live1 = inside & (lsig1 >= le) & (w1 * lsig1 >= le);
  let live2 = inside & (lsig2 >= le) & (w2 * lsig2 >= le);
  var r: PairGrads;
  r.first = select(Z4, -p.f2 * p.f0 * w1 * sig2, live1);
  r.second = select(Z4, -p.f2 * p.f0 * w2 * sig1, live2);
  return r;
}

@compute @workgroup_size(WG)
fn lambda_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * WG + lid) * 4u;
  if (l >= p.lists || q0 >= p.n) { return; }
  let base = l * p.n;
  let lanes = load_lanes(base, q0);
  let positions = vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u);
  let kf = f32(p.k);
  let act = (lanes.y >= Z4) & (lanes.x < vec4<f32>(kf));
  var d = Z4;
  if (any(act)) {
    // higher-labelled partners are relevant (positions < nr); lower ones need a relevant lane
    var end = u32(info[l * 4u]);
    if (p.mode == 0u || any(act & (lanes.y > Z4))) { end = u32(info[l * 4u + 1u]); }
    let inv_max = 1.0 / wb[l];
    let ga = gain4(max(lanes.y, Z4)) * inv_max;
    let w_lane = ga / log2(2.0 + lanes.x); // ndcgLoss1's weight depends on the first item only
    for (var j = 0u; j < end; j++) {
      let e = ent[base + j];
      if (e.w < kf) {
        let others = act & (positions != vec4<u32>(j));
        let yb = vec4<f32>(e.y);
        let first = others & lambda_selected4(lanes.y, yb); // pairs (lane, j)
        let second = others & lambda_selected4(yb, lanes.y); // pairs (j, lane)
        if (any(first | second)) {
          let gb = vec4<f32>(gain(e.y) * inv_max);
          let pb = vec4<f32>(e.w);
          var w1 = w_lane;
          var w2 = vec4<f32>(gain(e.y) * inv_max / log2(2.0 + e.w));
          if (p.mode != 0u) {
            w1 = lambda_weight4(ga, gb, lanes.x, pb);
            w2 = lambda_weight4(gb, ga, pb, lanes.x);
          }
          let dt = lambda_dterms4(w1, w2, lanes.s - e.x);
          d += select(Z4, dt.first, first) - select(Z4, dt.second, second);
        }
      }
    }
  }
  store_items(base, q0, lanes.idx, g[0] / den[0] * d);
}
