// The ranking losses' shared code (src/losses/launch.ts), included by each loss's kernel file
// (kernels/<loss>.wgsl): entries and helpers over [lists, n] score and label
// matrices, row-major. A list is one row; label -1 (any negative label) marks a padded item, label
// 0 a valid non-relevant item, label > 0 a relevant item (graded). Padded items never contribute
// and always get a zero gradient.
//
// Launches, WG (64) invocations per workgroup:
// - "per list" kernels: one invocation per list (linear index wid.x + wid.y * nwg.x), looping
//   serially over the list (the O(n) losses, the label sort, the reductions);
// - "per item" kernels: invocation q of list l = wid.y + wid.z * nwg.y owns four items (positions
//   4q .. 4q + 3, q = wid.x * WG + lid) as the lanes of vec4 values and loops over the list's other
//   items (pairwise losses: O(n) per item). A workgroup never straddles two lists, so the inner
//   loop's loads are uniform across it, and each load serves four items: on llvmpipe the loads, not
//   the arithmetic, dominate such loops. On llvmpipe barriers are costly: no workgroup memory here.
// The pairwise kernels of hinge, ranknet, lambdaloss and smoothap walk the label order: relevant
// items first, so in the usual case (a few relevant items per list) an invocation of non-relevant
// items loops over the relevant items only, and pairs that cannot be selected are never visited.
//
// Forward: per-list (or per-item, then `reduce_items`) pairs (loss, count) -> `finish` -> the loss
// [1] and its denominator [1]. Backward: d loss / d s = g[0] / den[0] * d(sum of list losses)/d s.

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
@compute @workgroup_size(WG)
fn reduce_items(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
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
  let b = lowbias32(h) % m;
  return (a * k + b) % m;
}

fn write_entry(base: u32, r: u32, i: u32) {
  let q = (base + r) * 4u;
  o[q] = s[base + i];
  o[q + 1u] = y[base + i];
  o[q + 2u] = f32(i);
  o[q + 3u] = 0.0;
}

@compute @workgroup_size(WG)
fn sort_labels(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
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
    hr = lowbias32(p.mode ^ lowbias32(l + 0x9e3779b9u)) | 1u;
    hz = lowbias32(hr ^ 0x85ebca6bu) | 1u;
  }
  let nv = nr + nz;
  var kr = 0u;
  var kz = 0u;
  var pad = nv;
  var hardest = -1.0;
  var hardest_score = -F32_MAX;
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

// Per list: o[l] = max(ideal DCG@k, EPS) from the label order (only relevant items gain).
@compute @workgroup_size(WG)
fn ideal_dcg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let end = min(u32(info[l * 4u]), p.k);
  var dcg = 0.0;
  for (var r = 0u; r < end; r++) { dcg += gain(ent[base + r].y) / log2(2.0 + f32(r)); }
  o[l] = max(dcg, EPS);
}
