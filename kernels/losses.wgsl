// Ranking losses (src/losses/*.ts): forward and backward kernels over [lists, n] score and label
// matrices, row-major. A list is one row; label -1 (any negative label) marks a padded item, label
// 0 a valid non-relevant item, label > 0 a relevant item (graded). Padded items never contribute
// and always get a zero gradient.
//
// Bindings (every entry point; unused slots are bound to dummy buffers):
//   0 s     read        scores [lists, n]
//   1 y     read        labels [lists, n]
//   2 wa    read        per-item workspace written by a forward pass
//   3 wb    read        per-list workspace
//   4 ent   read        a list's items as entries vec4(score, label, item index, extra), in the
//                       label order written by `sort_labels` ([lists, n] vec4)
//   5 info  read        `sort_labels`' per-list counts [lists, 4]
//   6 g     read        upstream gradient d total / d loss, [1]
//   7 den   read        the reduction's denominator saved by `finish`, [1]
//   8 o     read_write  main output
//   9 o2    read_write  second output
//  10 o3    read_write  scratch
//  11 p     uniform     Params
//
// Launches, 64 invocations per workgroup:
// - "per list" kernels: one invocation per list (linear index wid.x + wid.y * nwg.x), looping
//   serially over the list (the O(n) losses, the label sort, the reductions);
// - "per item" kernels: invocation q of list l = wid.y + wid.z * nwg.y owns four items (positions
//   4q .. 4q + 3, q = wid.x * 64 + lid) as the lanes of vec4 values and loops over the list's other
//   items (pairwise losses: O(n) per item). A workgroup never straddles two lists, so the inner
//   loop's loads are uniform across it, and each load serves four items: on llvmpipe the loads, not
//   the arithmetic, dominate such loops. On llvmpipe barriers are costly: no workgroup memory here.
// The pairwise kernels of hinge, ranknet, lambdaloss and smoothap walk the label order: relevant
// items first, so in the usual case (a few relevant items per list) an invocation of non-relevant
// items loops over the relevant items only, and pairs that cannot be selected are never visited.
//
// Forward: per-list (or per-item, then `reduce_items`) pairs (loss, count) -> `finish` -> the loss
// [1] and its denominator [1]. Backward: d loss / d s = g[0] / den[0] * d(sum of list losses)/d s.

struct Params {
  lists: u32,
  n: u32,
  mode: u32, // loss-specific switch: reduction, scheme, weighting, hinge variant
  k: u32, // lambdaloss: effective cutoff (n when none)
  f0: f32, // loss-specific reals (margin, sigma, alpha, temperature, ...)
  f1: f32,
  f2: f32,
  f3: f32,
}

@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> wa: array<f32>;
@group(0) @binding(3) var<storage, read> wb: array<f32>;
@group(0) @binding(4) var<storage, read> ent: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> info: array<f32>;
@group(0) @binding(6) var<storage, read> g: array<f32>;
@group(0) @binding(7) var<storage, read> den: array<f32>;
@group(0) @binding(8) var<storage, read_write> o: array<f32>;
@group(0) @binding(9) var<storage, read_write> o2: array<f32>;
@group(0) @binding(10) var<storage, read_write> o3: array<f32>;
@group(0) @binding(11) var<uniform> p: Params;

const FMAX = 3.4028235e38;
// allRank's DEFAULT_EPS and its natural log.
const EPS = 1e-10;
const LOG_EPS = -23.025850929940457;
const LN2 = 0.6931471805599453;
// Zhang & Lu's epsilon inside log(q + eps) of CMPM.
const CMPM_EPS = 1e-8;

fn linear(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 64u + lid;
}

fn valid(label: f32) -> bool {
  return label >= 0.0;
}

fn gain(label: f32) -> f32 {
  return exp2(label) - 1.0;
}

// ---------------------------------------------------------------------------------------------
// Reductions shared by every loss.

// Per list: sums the per-item pairs wa[(l * n + i) * 2 + {0, 1}] into o[l * 2 + {0, 1}].
// mode 0: plain sums (loss, count). mode 1 (smoothap): the item pairs are (R_P / R_Omega, is
// relevant) and the list gets (1 - AP, 1) when it has a relevant item, (0, 0) otherwise.
@compute @workgroup_size(64)
fn reduce_items(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  var a = 0.0;
  var c = 0.0;
  let base = l * p.n;
  for (var i = 0u; i < p.n; i++) {
    a += wa[(base + i) * 2u];
    c += wa[(base + i) * 2u + 1u];
  }
  if (p.mode == 1u) {
    if (c > 0.0) {
      a = 1.0 - a / c;
      c = 1.0;
    } else {
      a = 0.0;
      c = 0.0;
    }
  }
  o[l * 2u] = a;
  o[l * 2u + 1u] = c;
}

// One invocation: the batch reduction of the per-list pairs wb[l * 2 + {0, 1}] = (loss, count).
// mode 0: mean over all lists; mode 1: sum; mode 2: sum of losses / sum of counts (0 if no count).
// o[0] = the loss, o2[0] = the denominator the backward kernels divide by (never 0).
@compute @workgroup_size(1)
fn finish() {
  var total = 0.0;
  var count = 0.0;
  for (var l = 0u; l < p.lists; l++) {
    total += wb[l * 2u];
    count += wb[l * 2u + 1u];
  }
  var d = 1.0;
  if (p.mode == 0u) {
    d = f32(max(p.lists, 1u));
  } else if (p.mode == 2u) {
    d = max(count, 1.0);
  }
  o[0] = total / d;
  o2[0] = d;
}

// ---------------------------------------------------------------------------------------------
// softmax: per list, q = y / sum(y) over valid items, loss = sum_j q_j (logsumexp(s) - s_j).
// Lists whose labels sum to 0 give 0. Out: o[l * 2 + {0, 1}] = (loss, 1 or 0).

@compute @workgroup_size(64)
fn softmax_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  var m = -FMAX;
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
@compute @workgroup_size(64)
fn softmax_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  var m = -FMAX;
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

// ---------------------------------------------------------------------------------------------
// listnet (allRank listNet): loss = -sum_j softmax(y)_j log(softmax(s)_j + EPS) over valid items.
// All-padding lists give 0. Out: o[l * 2 + {0, 1}] = (loss, 1 or 0).

@compute @workgroup_size(64)
fn listnet_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  var ms = -FMAX;
  var my = -FMAX;
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
@compute @workgroup_size(64)
fn listnet_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  var ms = -FMAX;
  var my = -FMAX;
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

// ---------------------------------------------------------------------------------------------
// cmpm: KL(p || q), p = softmax(s), q_j = [y_j > 0] / #relevant, over valid items:
// loss = sum_j p_j (log p_j - log(q_j + CMPM_EPS)). Lists without a relevant item give 0.

// Per list: (number of relevant items, max score, log sum exp(s - max), KL); shared by both
// passes. log p_j = (s_j - max) - log sum: exact at +-1e30, unlike s_j - logsumexp.
fn cmpm_stats(base: u32) -> vec4<f32> {
  var m = -FMAX;
  var npos = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      m = max(m, s[base + j]);
      if (yj > 0.0) { npos += 1.0; }
    }
  }
  if (npos == 0.0) { return vec4<f32>(0.0, 0.0, 0.0, 0.0); }
  var z = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (valid(y[base + j])) { z += exp(s[base + j] - m); }
  }
  let lz = log(z);
  let logq_pos = log(1.0 / npos + CMPM_EPS);
  let logq_neg = log(CMPM_EPS);
  var kl = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      let lp = (s[base + j] - m) - lz;
      kl += exp(lp) * (lp - select(logq_neg, logq_pos, yj > 0.0));
    }
  }
  return vec4<f32>(npos, m, lz, kl);
}

@compute @workgroup_size(64)
fn cmpm_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let st = cmpm_stats(l * p.n);
  o[l * 2u] = st.w;
  o[l * 2u + 1u] = select(0.0, 1.0, st.x > 0.0);
}

// d/ds_k = coef * p_k (log p_k - log(q_k + eps) - KL).  Out: o = grad.
@compute @workgroup_size(64)
fn cmpm_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  let st = cmpm_stats(base);
  let logq_pos = log(1.0 / max(st.x, 1.0) + CMPM_EPS);
  let logq_neg = log(CMPM_EPS);
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    var d = 0.0;
    if (st.x > 0.0 && valid(yj)) {
      let lp = (s[base + j] - st.y) - st.z;
      d = coef * exp(lp) * (lp - select(logq_neg, logq_pos, yj > 0.0) - st.w);
    }
    o[base + j] = d;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared by the per-item kernels: vec4 helpers. The lanes of approxndcg's kernels are the items
// 4q .. 4q + 3 in index order (load_s4, load_y4); those of the other pairwise kernels are positions
// of the label order (load_lanes, below). A lane past the list's end reads as padding (label -1,
// score 0) and is never written.

const Z4 = vec4<f32>(0.0);
const ONE4 = vec4<f32>(1.0);
const U0 = vec4<u32>(0u);

fn lane_items(i0: u32) -> vec4<u32> {
  return vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u);
}

fn load_s4(base: u32, i0: u32) -> vec4<f32> {
  var v = Z4;
  for (var c = 0u; c < 4u; c++) {
    if (i0 + c < p.n) { v[c] = s[base + i0 + c]; }
  }
  return v;
}

fn load_y4(base: u32, i0: u32) -> vec4<f32> {
  var v = vec4<f32>(-1.0);
  for (var c = 0u; c < 4u; c++) {
    if (i0 + c < p.n) { v[c] = y[base + i0 + c]; }
  }
  return v;
}

// wa[first + c * stride] for the lanes inside the list, 0 elsewhere.
fn load_wa4(first: u32, stride: u32, i0: u32) -> vec4<f32> {
  var v = Z4;
  for (var c = 0u; c < 4u; c++) {
    if (i0 + c < p.n) { v[c] = wa[first + c * stride]; }
  }
  return v;
}

// o[first + c * stride] = v[c] for the lanes inside the list.
fn store_o4(first: u32, stride: u32, i0: u32, v: vec4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    if (i0 + c < p.n) { o[first + c * stride] = v[c]; }
  }
}

fn store_o2_4(first: u32, stride: u32, i0: u32, v: vec4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    if (i0 + c < p.n) { o2[first + c * stride] = v[c]; }
  }
}

fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
  let e = exp(-abs(x));
  return select(e, ONE4, x >= Z4) / (1.0 + e);
}

// sigmoid(x) * sigmoid(-x), the sigmoid's derivative.
fn dsigmoid4(x: vec4<f32>) -> vec4<f32> {
  let e = exp(-abs(x));
  return e / ((1.0 + e) * (1.0 + e));
}

fn softplus4(x: vec4<f32>) -> vec4<f32> {
  return max(x, Z4) + log(1.0 + exp(-abs(x)));
}

fn gain4(label: vec4<f32>) -> vec4<f32> {
  return exp2(label) - 1.0;
}

// ---------------------------------------------------------------------------------------------
// Sorts the `count` (key, index) pairs at o3[start ..] by descending key, stably (a bottom-up
// merge sort, O(count log count), ping-ponging with the `count` pairs after them). Returns where
// the sorted pairs start. The pairs are kept together so that a comparison reads no other buffer.
fn merge_sort_pairs(start: u32, count: u32) -> u32 {
  var src = start;
  var dst = start + 2u * count;
  for (var width = 1u; width < count; width *= 2u) {
    for (var lo = 0u; lo < count; lo += 2u * width) {
      let mid = min(lo + width, count);
      let hi = min(lo + 2u * width, count);
      var i = lo;
      var j = mid;
      for (var k = lo; k < hi; k++) {
        var left = i < mid;
        if (left && j < hi) { left = !(o3[src + 2u * j] > o3[src + 2u * i]); }
        var take = src + 2u * j;
        if (left) {
          take = src + 2u * i;
          i++;
        } else {
          j++;
        }
        o3[dst + 2u * k] = o3[take];
        o3[dst + 2u * k + 1u] = o3[take + 1u];
      }
    }
    let t = src;
    src = dst;
    dst = t;
  }
  return src;
}

// The label order, per list: relevant items (label > 0) by descending label, then the label-0
// items, then the padded items by index. Ties (equal labels) are in index order when p.mode is 0;
// otherwise p.mode seeds a pseudo-random order of each tie class (listMLE breaks ties at random,
// as allRank does by shuffling): the k-th item of a class goes to slot (a·k + b) mod m, with a
// coprime to the class size m and a, b hashed from (seed, list) — see `tie_slot`. Writes the entries
// o[(l * n + r) * 4 + {0, 1, 2, 3}] = (score, label, item index, 0) of the item at position r, and
// o2[l * 4 + {0, 1, 2, 3}] = (nr relevant, nv valid, position of the first highest-scored label-0
// item or -1, 0). o3 [lists, n, 4] is scratch. O(n) for the partition, O(nr log nr) for the sort.

fn hash32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

fn gcd(x: u32, y: u32) -> u32 {
  var a = x;
  var b = y;
  while (b != 0u) {
    let t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Slot of the k-th of m tied items under the affine permutation seeded by h (identity when h is 0
// or m > 65535, where a·k could overflow).
fn tie_slot(k: u32, m: u32, h: u32) -> u32 {
  if (h == 0u || m < 2u || m > 65535u) { return k; }
  var a = 1u + h % m;
  while (gcd(a, m) != 1u) { a = a % m + 1u; }
  let b = hash32(h) % m;
  return (a * k + b) % m;
}

fn write_entry(base: u32, r: u32, i: u32) {
  let q = (base + r) * 4u;
  o[q] = s[base + i];
  o[q + 1u] = y[base + i];
  o[q + 2u] = f32(i);
  o[q + 3u] = 0.0;
}

@compute @workgroup_size(64)
fn sort_labels(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let n = p.n;
  let base = l * n;
  let start = 4u * base;
  var nr = 0u;
  var nz = 0u;
  for (var i = 0u; i < n; i++) {
    let yi = y[base + i];
    if (yi > 0.0) {
      nr++;
    } else if (yi == 0.0) {
      nz++;
    }
  }
  var hr = 0u;
  var hz = 0u;
  if (p.mode != 0u) {
    hr = hash32(p.mode ^ hash32(l + 0x9e3779b9u)) | 1u;
    hz = hash32(hr ^ 0x85ebca6bu) | 1u;
  }
  let nv = nr + nz;
  var kr = 0u;
  var kz = 0u;
  var pad = nv;
  var hardest = -1.0;
  var hardest_score = -FMAX;
  for (var i = 0u; i < n; i++) {
    let yi = y[base + i];
    if (yi > 0.0) {
      // relevant items enter the (stable) sort in their tie order
      let slot = tie_slot(kr, nr, hr);
      o3[start + 2u * slot] = yi;
      o3[start + 2u * slot + 1u] = f32(i);
      kr++;
    } else if (yi == 0.0) {
      let z = nr + tie_slot(kz, nz, hz);
      let si = s[base + i];
      if (hardest < 0.0 || si > hardest_score) {
        hardest = f32(z);
        hardest_score = si;
      }
      write_entry(base, z, i);
      kz++;
    } else if (!(yi > 0.0)) {
      write_entry(base, pad, i);
      pad++;
    }
  }
  let sorted = merge_sort_pairs(start, nr);
  for (var r = 0u; r < nr; r++) { write_entry(base, r, u32(o3[sorted + 2u * r + 1u])); }
  o2[l * 4u] = f32(nr);
  o2[l * 4u + 1u] = f32(nv);
  o2[l * 4u + 2u] = hardest;
  o2[l * 4u + 3u] = 0.0;
}

// ---------------------------------------------------------------------------------------------
// Per-item kernels over the label order: invocation q owns positions q0 = 4q .. q0 + 3.

struct Lanes {
  s: vec4<f32>, // scores
  y: vec4<f32>, // labels (-1 past the list's end)
  idx: vec4<u32>, // item indices
  x: vec4<f32>, // the entries' extra field
}

fn load_lanes(base: u32, q0: u32) -> Lanes {
  var r: Lanes;
  r.s = Z4;
  r.y = vec4<f32>(-1.0);
  r.idx = U0;
  r.x = Z4;
  for (var c = 0u; c < 4u; c++) {
    if (q0 + c < p.n) {
      let e = ent[base + q0 + c];
      r.s[c] = e.x;
      r.y[c] = e.y;
      r.idx[c] = u32(e.z);
      r.x[c] = e.w;
    }
  }
  return r;
}

// o[base + idx[c]] = v[c]: a gradient back at the items' own places.
fn store_items(base: u32, q0: u32, idx: vec4<u32>, v: vec4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    if (q0 + c < p.n) { o[base + idx[c]] = v[c]; }
  }
}

// ---------------------------------------------------------------------------------------------
// hinge (VSE++): per relevant item i, over the list's non-relevant valid items j (label 0):
// mode 0: sum_j max(0, margin - s_i + s_j); mode 1: max(0, margin - s_i + max_j s_j).
// f0 = margin. Reads the label order. Per position out: o[t * 2 + {0, 1}] = (loss, 1 if relevant).

@compute @workgroup_size(64)
fn hinge_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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
@compute @workgroup_size(64)
fn hinge_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

// ---------------------------------------------------------------------------------------------
// ranknet (allRank rankNet): per valid item i, over valid j with y_i > y_j:
// w_ij * softplus(-(s_i - s_j)); mode 0: w = 1, 1: |y_i - y_j|, 2: |y_i^2 - y_j^2|.
// Reads the label order. Per position out: o[t * 2 + {0, 1}] = (loss, number of pairs).

fn ranknet_weight4(yi: vec4<f32>, yj: f32) -> vec4<f32> {
  if (p.mode == 1u) { return abs(yi - yj); }
  if (p.mode == 2u) { return abs(yi * yi - yj * yj); }
  return ONE4;
}

@compute @workgroup_size(64)
fn ranknet_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

@compute @workgroup_size(64)
fn ranknet_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

// ---------------------------------------------------------------------------------------------
// lambdaloss (allRank lambdaLoss). Positions are ranks among the list's valid items by descending
// score (ties: lower index first); k = effective cutoff. mode = scheme: 0 ndcgLoss1, 1 ndcgLoss2,
// 2 lambdaRank, 3 ndcgLoss2PP, 4 rankNet. f0 = sigma, f1 = mu, f2 = 1 / ln(base) of the log.

// Per list: every valid item's 0-based position by descending score (ties: lower index first),
// o[l * n + i] (0 for padded items). o3 [lists, n, 4] is scratch. O(n log n).
@compute @workgroup_size(64)
fn sort_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
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
@compute @workgroup_size(64)
fn lambda_entries(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
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

// Per list: o[l] = max(ideal DCG@k, EPS) from the label order (only relevant items gain).
@compute @workgroup_size(64)
fn ideal_dcg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let end = min(u32(info[l * 4u]), p.k);
  var dcg = 0.0;
  for (var r = 0u; r < end; r++) { dcg += gain(ent[base + r].y) / log2(2.0 + f32(r)); }
  o[l] = max(dcg, EPS);
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
@compute @workgroup_size(64)
fn lambda_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

@compute @workgroup_size(64)
fn lambda_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

// ---------------------------------------------------------------------------------------------
// listmle (allRank listMLE), per list over the label order (ties: lower index first): with m the
// list's maximum score and C_r = sum_{r' >= r} exp(s_r' - m) (a suffix sum),
// loss = sum_r log(C_r + EPS) - (s_r - m). Out: o[l * 2 + {0, 1}] = (loss, 1 if any valid),
// o2[l * n + r] = C_r.

@compute @workgroup_size(64)
fn listmle_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let nv = u32(info[l * 4u + 1u]);
  var m = -FMAX;
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
@compute @workgroup_size(64)
fn listmle_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear(wid, nwg, lid);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let nv = u32(info[l * 4u + 1u]);
  let coef = g[0] / den[0];
  var m = -FMAX;
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

// ---------------------------------------------------------------------------------------------
// smoothap (Brown et al. 2020), f0 = temperature tau. For a relevant item i of a list:
// A_i = 1 + sum_{relevant j != i} sigmoid((s_j - s_i) / tau),
// B_i = 1 + sum_{valid j != i} sigmoid((s_j - s_i) / tau); AP = mean over relevant i of A_i / B_i.
// Reads the label order. Per position out: o[t * 2 + {0, 1}] = (A_i / B_i, 1) for relevant items,
// o2[t * 2 + {0, 1}] = (A_i, B_i).

@compute @workgroup_size(64)
fn smoothap_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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
@compute @workgroup_size(64)
fn smoothap_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let q0 = (wid.x * 64u + lid) * 4u;
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

// approxndcg (allRank approxNDCGLoss), f0 = alpha. Per valid item i:
// P_i = 1 + sum_{valid b != i} max(sigmoid(-alpha (s_i - s_b)), EPS), the approximate position;
// list loss = -sum_i G_i / log2(1 + P_i), G_i = (2^y_i - 1) / max(ideal DCG, EPS).

// Per item: o[t * 2 + {0, 1}] = (-G_i / log2(1 + P_i), 0) and o2[t] = phi_i, the derivative of
// G_i / log2(1 + P_i) by P_i. Reads wb[l] = max(ideal DCG, EPS) (ideal_dcg over the label order).
@compute @workgroup_size(64)
fn approx_prep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let i0 = (wid.x * 64u + lid) * 4u;
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
@compute @workgroup_size(64)
fn approx_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let l = wid.y + wid.z * nwg.y;
  let i0 = (wid.x * 64u + lid) * 4u;
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
