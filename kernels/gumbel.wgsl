// Gumbel perturbation of list scores: allRank's `stochastic_neural_sort` (the stochastic NeuralNDCG),
// for `samples` draws of `[lists, n]` scores (labels −1: padding, ignored everywhere):
//
//   m = min of the valid scores of the whole batch,  s⁺ = s + |m|  (≥ 0 on valid items)
//   x = log_scores ? log(s⁺ + EPS) : s⁺
//   out[d, l, i] = clamp(x + beta · G(u),  ±F32_MAX),  G(u) = −log(−log(u + EPS) + EPS)
//
// The uniform u of draw d, list l and the v-th valid item of the list is a counter-based hash of
// (seed, d, l, v) — the valid rank, not the slot, so padding anywhere and any padded width give the
// same noise (masking an item equals deleting it). u = (hash >> 8) / 2^24, exact in f32.
// Backward (autodiff of the expression above): w_i = x'(s_i) · Σ_d g[d, l, i] (0 where the output
// was clamped), and the |m| term adds sign(m)/ties · Σ_j w_j to each valid item equal to m. Items at
// the minimum add their own w back first, so with one minimum and m < 0 (x'(s) = 1/EPS there) the
// large terms cancel exactly. CPU twin: src/reference/gumbel.ts.

// Valid-score minimum and its ties per list: lstat[2l] = min (F32_MAX if none), lstat[2l+1] = ties.
@compute @workgroup_size(WG)
fn list_min(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  var m = F32_MAX;
  var c = 0.0;
  for (var i = 0u; i < p.n; i++) {
    let k = l * p.n + i;
    if (labels[k] < 0.0) { continue; }
    let s = scores[k];
    if (s < m) {
      m = s;
      c = 1.0;
    } else if (s == m) {
      c += 1.0;
    }
  }
  lstat[2u * l] = m;
  lstat[2u * l + 1u] = c;
}

// One invocation: stat = [batch min (0 when no valid item), ties (0 when none)].
@compute @workgroup_size(WG)
fn batch_min(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  if (linear_index(wid, nwg, lid, WG) != 0u) { return; }
  var m = 0.0;
  var c = 0.0;
  for (var l = 0u; l < p.lists; l++) {
    let lc = lstat[2u * l + 1u];
    if (lc == 0.0) { continue; }
    let lm = lstat[2u * l];
    if (c == 0.0 || lm < m) {
      m = lm;
      c = lc;
    } else if (lm == m) {
      c += lc;
    }
  }
  stat[0] = m;
  stat[1] = c;
}

// −log(x) for x in (0, 1]: near 1 as the series d + d²/2 + … + d⁷/7 (d = 1 − x), whose relative
// error (< 4e-9) beats log's absolute error there.
fn neg_log(x: f32) -> f32 {
  let d = 1.0 - x;
  if (d < SERIES_BELOW) {
    var sum = 0.0;
    for (var k = 7u; k >= 1u; k--) { sum = sum * d + 1.0 / f32(k); }
    return sum * d;
  }
  return -log(x);
}

// A standard Gumbel draw from u in [0, 1), allRank's `sample_gumbel`.
fn gumbel(u: f32) -> f32 {
  return -log(neg_log(u + EPS) + EPS);
}

// (s + |m| + EPS)/2 without overflow. The max keeps EPS when a compiler reassociates the sum
// (|m| + EPS/2 rounds to |m|): s + |m| ≥ 0 on valid items, so it changes nothing otherwise.
fn half_sum(s: f32, am: f32) -> f32 {
  return max(0.5 * s + 0.5 * am + 0.5 * EPS, 0.5 * EPS);
}

// x(s): log(s + |m| + EPS) (as ln 2 + log of the half sum), or s + |m|.
fn shifted(s: f32, am: f32) -> f32 {
  if (p.log_scores != 0u) { return LN2 + log(half_sum(s, am)); }
  return s + am;
}

// dx/ds at s (also dx/d|m|).
fn shifted_slope(s: f32, am: f32) -> f32 {
  if (p.log_scores != 0u) { return 0.5 / half_sum(s, am); }
  return 1.0;
}

// One invocation per (draw d, list l): out[d, l, :] (padding: 0).
@compute @workgroup_size(WG)
fn perturb(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  if (t >= p.samples * p.lists) { return; }
  let d = t / p.lists;
  let l = t % p.lists;
  let am = abs(stat[0]);
  let stream = lowbias32(lowbias32(lowbias32(p.seed) ^ (p.first + d)) ^ l);
  var v = 0u;
  for (var i = 0u; i < p.n; i++) {
    let k = l * p.n + i;
    let o = t * p.n + i;
    if (labels[k] < 0.0) {
      out[o] = 0.0;
      continue;
    }
    let u = f32(lowbias32(stream ^ v) >> 8u) * (1.0 / 16777216.0);
    v++;
    let x = shifted(scores[k], am) + p.beta * gumbel(u);
    out[o] = clamp(x, -F32_MAX, F32_MAX);
  }
}

// One invocation per list: out[l, i] = w_i (before the |m| term); lstat[l] = (Σ w at the minimum,
// Σ w elsewhere).
@compute @workgroup_size(WG)
fn grad_items(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let m = stat[0];
  let am = abs(m);
  var at_min = 0.0;
  var rest = 0.0;
  for (var i = 0u; i < p.n; i++) {
    let k = l * p.n + i;
    if (labels[k] < 0.0) {
      out[k] = 0.0;
      continue;
    }
    var g = 0.0;
    for (var d = 0u; d < p.samples; d++) {
      let o = (d * p.lists + l) * p.n + i;
      g += select(upstream[o], 0.0, abs(pert[o]) >= F32_MAX);
    }
    let s = scores[k];
    let w = g * shifted_slope(s, am);
    out[k] = w;
    if (s == m) {
      at_min += w;
    } else {
      rest += w;
    }
  }
  lstat[2u * l] = at_min;
  lstat[2u * l + 1u] = rest;
}

// One invocation per list: the |m| term, sign(m)/ties · Σ_j w_j, on the list's minimum items.
@compute @workgroup_size(WG)
fn grad_min(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let m = stat[0];
  let c = stat[1];
  // sign(0) = 0 (torch's abs backward): no gradient through |m| at m = 0
  if (c == 0.0 || m == 0.0) { return; }
  var holds = false;
  for (var i = 0u; i < p.n; i++) {
    let k = l * p.n + i;
    if (labels[k] >= 0.0 && scores[k] == m) { holds = true; }
  }
  if (!holds) { return; }
  var at_min = 0.0;
  var rest = 0.0;
  for (var j = 0u; j < p.lists; j++) {
    at_min += lstat[2u * j];
    rest += lstat[2u * j + 1u];
  }
  let sg = sign(m);
  for (var i = 0u; i < p.n; i++) {
    let k = l * p.n + i;
    if (labels[k] >= 0.0 && scores[k] == m) {
      out[k] = (out[k] + sg * at_min / c) + sg * rest / c;
    }
  }
}
