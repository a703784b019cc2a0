// Deterministic NeuralSort (Grover et al. 2019, as allRank): the per-list preparation, P-hat
// written as a matrix (the plain path) and the backward to the scores. The representation below
// is shared with the fused NeuralNDCG (kernels/neuralndcg.wgsl), whose module includes this file.
//
// A list has n slots; slot j is valid when labels[j] >= 0 (-1 marks padding); nv valid items. With
// sig_j = clamp(s_j / tau, +-limit) and ahat_j = sum_k |sig_j - sig_k| over valid k, rank row i
// (0 <= i < nv) of P-hat is
//     P[i, j] = exp(c_i * sig_j - ahat_j - lse_i),   c_i = nv - 1 - 2i,
// over valid j; every other entry is 0. Sinkhorn's result is diag(e^alpha) P diag(e^beta); the
// fused kernels keep O(n) vectors per list and recompute each entry as
//     exp(((c_i * sig_j + k0_j) + r0_i) + (ks_j + rs_i)),
// with the large constants k0_j = -ahat_j and r0_i = -max_j(c_i sig_j - ahat_j) (items planes K0,
// R0) apart from the small corrections ks_j = beta_j and rs_i = alpha_i - log(sum of the row)
// (state planes KAP, RHO): the large terms cancel first, so float32 keeps the small ones even when
// |s / tau| is huge. Every entry is <= 1 after a normalisation, so exp never overflows. Padded
// columns carry k0 = -BIG and rows beyond nv r0 = -BIG: their entries are exactly 0. The plain
// kernels write P-hat as an [lists, n, n] matrix instead.
//
// Sorted space: the preparation sorts each list's items by sig (descending, ties by slot; padding
// last), so columns are positions 0 .. n-1 with the valid items first (items plane SLOT maps a
// position back to its slot). Sorted, P-hat and every Sinkhorn iterate are concentrated near the
// diagonal, and the heavy loops skip a tile (4 rows x 32 columns, or 4 columns x 32 rows) when a
// bound on its exponents, from per-tile maxima (plane TIL of a state, STIL of items), is below
// -110: exp is exactly 0 in f32 there, so skipping changes nothing. The bound carries a margin of
// 1e-6 of the magnitudes it adds, for rounding.
//
// The bindings and the planes of items, states and work are declared in src/gpu/kernels.ts.
// np = n rounded up to a multiple of 4: the [.., lists, np] arrays are read as vec4 so that one
// invocation owns 4 rows or 4 columns of a list (register blocking; barriers are slow on llvmpipe).

// Items plane STIL holds per-tile sig maxima (first nt entries) and minima (next nt); state plane
// TIL the max of k0 + kap per column tile (first nt entries) and of r0 + rho per row tile (next).

// Quads (4 slots) per list, and tiles (8 quads) per list.
fn nq() -> u32 { return p.np / 4u; }
fn nt() -> u32 { return (nq() + 7u) / 8u; }

// First vec4 of list b in a plane of a [planes, lists, np] array.
fn at(plane: u32, b: u32) -> u32 { return (plane * p.lists + b) * nq(); }

fn m_at(b: u32, slot: u32) -> u32 { return b * META + slot; }

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }

fn hmax(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }

// c_i = nv - 1 - 2i for the 4 rows i0 .. i0 + 3.
fn c4(nv: f32, i0: u32) -> vec4<f32> {
  return vec4<f32>(nv - 1.0 - 2.0 * f32(i0)) - vec4<f32>(0.0, 2.0, 4.0, 6.0);
}

fn rows_valid(nv: f32, i0: u32) -> vec4<bool> {
  return vec4<f32>(f32(i0)) + vec4<f32>(0.0, 1.0, 2.0, 3.0) < vec4<f32>(nv);
}

// Quads holding `count` leading rows or positions.
fn quads_of(count: f32) -> u32 { return (u32(count) + 3u) / 4u; }

fn item_s(plane: u32, b: u32, j: u32) -> f32 { return items[at(plane, b) + j / 4u][j % 4u]; }
fn cur_s(plane: u32, b: u32, j: u32) -> f32 { return cur[at(plane, b) + j / 4u][j % 4u]; }
fn work_s(plane: u32, b: u32, j: u32) -> f32 { return work[at(plane, b) + j / 4u][j % 4u]; }

// Whether every entry of rows with c in [cbot, ctop] and rho <= rmax, in column tile t (kap <=
// kmax), has an exponent below DEAD.
fn row_tile_dead(b: u32, t: u32, ctop: f32, cbot: f32, rmax: f32, kmax: f32) -> bool {
  let smax = item_s(STIL, b, t);
  let smin = item_s(STIL, b, nt() + t);
  let cs = max(max(ctop * smax, ctop * smin), max(cbot * smax, cbot * smin));
  let mag = abs(rmax) + abs(cs) + abs(kmax);
  return rmax + cs + kmax + 1e-6 * mag < DEAD;
}

// Whether every entry of the 4 columns (sig s, kap k) in row tile t (rho <= rmax) is dead.
fn col_tile_dead(t: u32, nv: f32, s: vec4<f32>, k: vec4<f32>, rmax: f32) -> bool {
  let ctop = nv - 1.0 - 64.0 * f32(t);
  let cbot = max(ctop - 62.0, 1.0 - nv);
  let cs = max(ctop * s, cbot * s);
  let top = hmax(cs + k);
  let mag = abs(rmax) + hmax(abs(cs)) + abs(hmax(k));
  return rmax + top + 1e-6 * mag < DEAD;
}

// ---------------------------------------------------------------------------------------------
// The tile loops every P-hat and Sinkhorn pass shares. Entries call them with constant `state` and
// `weight` arguments, which the shader compiler folds after inlining: no branch is left in the
// loops.

// Where a loop reads kap, rho and the tile maxima: the state bound as cur or prev, or (IN_PREP,
// preparation) kap = 0 and tiles from cur.
const IN_CUR: u32 = 0u;
const IN_PREV: u32 = 1u;
const IN_PREP: u32 = 2u;
// The per-column (row loops) or per-row (column loops) weights: 1, or a plane of items or work.
const W_ONE: u32 = 0u;
const W_GAIN: u32 = 1u;
const W_DISC: u32 = 2u;
const W_H: u32 = 3u;
const W_GBAR: u32 = 4u;
const W_ZETA: u32 = 5u;

fn state4(state: u32, idx: u32) -> vec4<f32> {
  if (state == IN_PREV) { return prev[idx]; }
  return cur[idx];
}

fn kap4(state: u32, b: u32, q: u32) -> vec4<f32> {
  if (state == IN_PREP) { return vec4<f32>(0.0); }
  return state4(state, at(KAP, b) + q);
}

fn tile_max(state: u32, b: u32, e: u32) -> f32 { return state4(state, at(TIL, b) + e / 4u)[e % 4u]; }

fn weight4(weight: u32, b: u32, q: u32) -> vec4<f32> {
  switch (weight) {
    case W_GAIN: { return items[at(GAIN, b) + q]; }
    case W_DISC: { return items[at(DISC, b) + q]; }
    case W_H: { return work[at(H, b) + q]; }
    case W_GBAR: { return work[at(GBAR, b) + q]; }
    case W_ZETA: { return work[at(ZETA, b) + q]; }
    default: { return vec4<f32>(1.0); }
  }
}

// For the 4 rank rows (c, r0, rs) of list b: sum_j w_j exp(((c_i s_j + k0_j) + r0_i) + (ks_j +
// rs_i)) over the valid positions j, skipping column tiles whose exponents are all below DEAD.
fn row_sums(b: u32, c: vec4<f32>, r0: vec4<f32>, rs: vec4<f32>, state: u32, weight: u32)
    -> vec4<f32> {
  let nvq = quads_of(lmeta[m_at(b, NV)]);
  let rmax = hmax(r0 + rs);
  let sb = at(SIG, b);
  let k0b = at(K0, b);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
    if (row_tile_dead(b, t, c.x, c.w, rmax, tile_max(state, b, t))) { continue; }
    for (var j = t * 8u; j < min(nvq, t * 8u + 8u); j++) {
      let s = items[sb + j];
      let k0 = items[k0b + j];
      let ks = kap4(state, b, j);
      let w = weight4(weight, b, j);
      a0 += exp(((c.x * s + k0) + r0.x) + (ks + rs.x)) * w;
      a1 += exp(((c.y * s + k0) + r0.y) + (ks + rs.y)) * w;
      a2 += exp(((c.z * s + k0) + r0.z) + (ks + rs.z)) * w;
      a3 += exp(((c.w * s + k0) + r0.w) + (ks + rs.w)) * w;
    }
  }
  return vec4<f32>(hsum(a0), hsum(a1), hsum(a2), hsum(a3));
}

// For the 4 positions (s, k0, ks) of list b, over the rank rows i of the first `quads` row quads
// (rho and tiles from `state`), with e_i = exp(((c_i s + k0) + r0_i) + (ks + rs_i)): the sums of
// w_i e_i, of c_i w_i e_i and of c_i e_i, skipping row tiles whose exponents are all below DEAD.
fn col_sums(b: u32, s: vec4<f32>, k0: vec4<f32>, ks: vec4<f32>, quads: u32, state: u32,
            weight: u32) -> array<vec4<f32>, 3> {
  let nv = lmeta[m_at(b, NV)];
  let r0b = at(R0, b);
  let rsb = at(RHO, b);
  var sw = vec4<f32>(0.0);
  var scw = vec4<f32>(0.0);
  var sc = vec4<f32>(0.0);
  for (var t = 0u; t < (quads + 7u) / 8u; t++) {
    if (col_tile_dead(t, nv, s, k0 + ks, tile_max(state, b, nt() + t))) { continue; }
    for (var r = t * 8u; r < min(quads, t * 8u + 8u); r++) {
      let r0 = items[r0b + r];
      let rs = state4(state, rsb + r);
      let w = weight4(weight, b, r);
      let c = c4(nv, r * 4u);
      let e0 = exp(((c.x * s + k0) + r0.x) + (ks + rs.x));
      let e1 = exp(((c.y * s + k0) + r0.y) + (ks + rs.y));
      let e2 = exp(((c.z * s + k0) + r0.z) + (ks + rs.z));
      let e3 = exp(((c.w * s + k0) + r0.w) + (ks + rs.w));
      let w0 = e0 * w.x;
      let w1 = e1 * w.y;
      let w2 = e2 * w.z;
      let w3 = e3 * w.w;
      sw += w0 + w1 + w2 + w3;
      scw += c.x * w0 + c.y * w1 + c.z * w2 + c.w * w3;
      sc += c.x * e0 + c.y * e1 + c.z * e2 + c.w * e3;
    }
  }
  return array<vec4<f32>, 3>(sw, scw, sc);
}

// ---------------------------------------------------------------------------------------------
// Preparation (run in this order)

// One invocation per list: nv, the iteration count (max_iter until Sinkhorn stops early), cut.
@compute @workgroup_size(WG)
fn list_prep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let b = linear_index(wid, nwg, lid, WG);
  if (b >= p.lists) { return; }
  var nv = 0u;
  let row = (p.list0 + b) * p.n;
  for (var j = 0u; j < p.n; j++) {
    if (labels[row + j] >= 0.0) { nv++; }
  }
  var cut = nv;
  if (p.k > 0u) { cut = min(p.k, nv); }
  lmeta[m_at(b, NV)] = f32(nv);
  lmeta[m_at(b, ITERS)] = f32(p.max_iter);
  lmeta[m_at(b, CUT)] = f32(cut);
  lmeta[m_at(b, DCG)] = 0.0;
}

// One invocation per slot (np per list): unsorted sig, gain and mask; discount of rank row j.
@compute @workgroup_size(WG)
fn item_prep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let j = g % p.np;
  var valid = false;
  var y = 0.0;
  var s = 0.0;
  if (j < p.n) {
    let idx = (p.list0 + b) * p.n + j;
    y = labels[idx];
    valid = y >= 0.0;
    if ((p.flags & 2u) != 0u) { s = scores[idx]; }
  }
  var sig = 0.0;
  var gain = 0.0;
  if (valid) {
    sig = clamp(s / p.tau, -p.limit, p.limit);
    gain = y;
    if ((p.flags & 1u) != 0u) { gain = exp2(y) - 1.0; }
  }
  var disc = 0.0;
  if (f32(j) < lmeta[m_at(b, CUT)]) { disc = 1.0 / log2(f32(j) + 2.0); }
  let q = j / 4u;
  let c = j % 4u;
  items[at(USIG, b) + q][c] = sig;
  items[at(UGAIN, b) + q][c] = gain;
  items[at(UVMASK, b) + q][c] = select(0.0, 1.0, valid);
  items[at(DISC, b) + q][c] = disc;
}

// One invocation per slot: its sorted position (valid items by sig descending, ties by slot, then
// padding in slot order; slots >= n keep their place); scatters sig, gain, mask and the slot.
@compute @workgroup_size(WG)
fn item_sort(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let j = g % p.np;
  let sj = item_s(USIG, b, j);
  let valid = item_s(UVMASK, b, j) > 0.0;
  var pos = j;
  if (j < p.n) {
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    var count = vec4<u32>(0u);
    let sb = at(USIG, b);
    let mb = at(UVMASK, b);
    for (var q = 0u; q < nq(); q++) {
      let idx = vec4<u32>(q * 4u) + lane;
      let m = items[mb + q] > vec4<f32>(0.0);
      let s = items[sb + q];
      let before = idx < vec4<u32>(j);
      var ahead: vec4<bool>;
      if (valid) {
        ahead = m & (s > vec4<f32>(sj) | (s == vec4<f32>(sj) & before));
      } else {
        ahead = !m & before;
      }
      count += select(vec4<u32>(0u), vec4<u32>(1u), ahead);
    }
    pos = count.x + count.y + count.z + count.w;
    if (!valid) { pos += u32(lmeta[m_at(b, NV)]); }
  }
  let q = pos / 4u;
  let c = pos % 4u;
  items[at(SIG, b) + q][c] = sj;
  items[at(GAIN, b) + q][c] = item_s(UGAIN, b, j);
  items[at(VMASK, b) + q][c] = select(0.0, 1.0, valid);
  items[at(SLOT, b) + q][c] = f32(j);
}

// One invocation per tile of 32 positions: the tile's sig max and min over valid positions.
@compute @workgroup_size(WG)
fn item_tiles(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nt()) { return; }
  let b = g / nt();
  let t = g % nt();
  let nv = u32(lmeta[m_at(b, NV)]);
  var smax = 0.0;
  var smin = 0.0;
  if (t * 32u < nv) {
    smax = item_s(SIG, b, t * 32u);
    smin = item_s(SIG, b, min(t * 32u + 31u, nv - 1u));
  }
  let base = at(STIL, b);
  items[base + t / 4u][t % 4u] = smax;
  items[base + (nt() + t) / 4u][(nt() + t) % 4u] = smin;
}

// One invocation per position: k0_j = -ahat_j (-BIG when padded) into items, ks_j = 0 into state 0
// (bound as cur).
@compute @workgroup_size(WG)
fn item_abs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let j = g % p.np;
  var k0 = -BIG;
  let nv = lmeta[m_at(b, NV)];
  if (f32(j) < nv) {
    let sj = vec4<f32>(item_s(SIG, b, j));
    var acc = vec4<f32>(0.0);
    let sb = at(SIG, b);
    let mb = at(VMASK, b);
    for (var q = 0u; q < quads_of(nv); q++) {
      acc += abs(sj - items[sb + q]) * items[mb + q];
    }
    k0 = -hsum(acc);
  }
  items[at(K0, b) + j / 4u][j % 4u] = k0;
  cur[at(KAP, b) + j / 4u][j % 4u] = 0.0;
}

// One invocation per tile of a state (cur): plane 0 = max of k0 + kap per column tile, 1 = max of
// r0 + rho per row tile.
@compute @workgroup_size(WG)
fn state_tiles(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nt()) { return; }
  let b = g / nt();
  let t = g % nt();
  let big = at(select(K0, R0, p.plane == 1u), b);
  let small = at(select(KAP, RHO, p.plane == 1u), b);
  var m = -BIG;
  for (var q = t * 8u; q < min(t * 8u + 8u, nq()); q++) {
    m = max(m, hmax(items[big + q] + cur[small + q]));
  }
  let dst = at(TIL, b);
  let e = t + p.plane * nt();
  cur[dst + e / 4u][e % 4u] = m;
}

// One invocation per quad of rank rows: r0_i = -max_j (c_i sig_j + k0_j) (-BIG beyond nv) into
// items, rs_i = -log sum_j exp(c_i sig_j + k0_j + r0_i) into state 0 (cur).
@compute @workgroup_size(WG)
fn row_lse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let i0 = q * 4u;
  let nv = lmeta[m_at(b, NV)];
  let valid = rows_valid(nv, i0);
  if (!valid.x) {
    items[at(R0, b) + q] = vec4<f32>(-BIG);
    cur[at(RHO, b) + q] = vec4<f32>(0.0);
    return;
  }
  let c = c4(nv, i0);
  let sb = at(SIG, b);
  let kb = at(K0, b);
  let nvq = quads_of(nv);
  var m0 = vec4<f32>(-BIG);
  var m1 = vec4<f32>(-BIG);
  var m2 = vec4<f32>(-BIG);
  var m3 = vec4<f32>(-BIG);
  for (var j = 0u; j < nvq; j++) {
    let s = items[sb + j];
    let k = items[kb + j];
    m0 = max(m0, c.x * s + k);
    m1 = max(m1, c.y * s + k);
    m2 = max(m2, c.z * s + k);
    m3 = max(m3, c.w * s + k);
  }
  let r0 = -vec4<f32>(hmax(m0), hmax(m1), hmax(m2), hmax(m3));
  let rs = -log(row_sums(b, c, r0, vec4<f32>(0.0), IN_PREP, W_ONE));
  items[at(R0, b) + q] = select(vec4<f32>(-BIG), r0, valid);
  cur[at(RHO, b) + q] = select(vec4<f32>(0.0), rs, valid);
}

// One invocation per position: d loss / d s_j = (A2_j + sum_k (abar_j + abar_k) sign(sig_j -
// sig_k)) / tau over valid k, written at the item's slot (out [total, n], rows list0 ..); 0 at
// padding and where s / tau was clamped.
@compute @workgroup_size(WG)
fn sort_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let j = g % p.np;
  if (j >= p.n) { return; }
  let idx = (p.list0 + b) * p.n + u32(item_s(SLOT, b, j));
  let nv = lmeta[m_at(b, NV)];
  if (f32(j) >= nv || abs(scores[idx] / p.tau) >= p.limit) {
    out[idx] = 0.0;
    return;
  }
  let sj = vec4<f32>(item_s(SIG, b, j));
  let aj = vec4<f32>(work_s(A1, b, j));
  let sb = at(SIG, b);
  let ab = at(A1, b);
  let mb = at(VMASK, b);
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < quads_of(nv); q++) {
    acc += (aj + work[ab + q]) * sign(sj - items[sb + q]) * items[mb + q];
  }
  out[idx] = (work_s(A2, b, j) + hsum(acc)) / p.tau;
}

// ---------------------------------------------------------------------------------------------
// Plain path: P-hat materialised as mat [lists, n, n] in slot order.

// One invocation per rank row: mat[b, i, :] = P-hat row i (zero rows beyond nv, zero at padding).
@compute @workgroup_size(WG)
fn neuralsort_write(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  let base = g * p.n;
  let nv = lmeta[m_at(b, NV)];
  if (f32(i) >= nv) {
    for (var j = 0u; j < p.n; j++) { mat[base + j] = 0.0; }
    return;
  }
  let c = nv - 1.0 - 2.0 * f32(i);
  let r0 = item_s(R0, b, i);
  let rs = cur_s(RHO, b, i);
  for (var j = 0u; j < p.n; j++) {
    let v = exp(((c * item_s(SIG, b, j) + item_s(K0, b, j)) + r0) + (cur_s(KAP, b, j) + rs));
    mat[base + u32(item_s(SLOT, b, j))] = v;
  }
}

// One invocation per rank row: zeta_i = sum_j P_ij dP_ij (mat = P-hat, mat2 = its gradient).
@compute @workgroup_size(WG)
fn neuralsort_back_rows(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  let base = g * p.n;
  var acc = 0.0;
  for (var j = 0u; j < p.n; j++) { acc += mat[base + j] * mat2[base + j]; }
  work[at(ZETA, b) + i / 4u][i % 4u] = acc;
}

// One invocation per position: A1 = abar = -sum_i P_ij (dP_ij - zeta_i), A2 = sum_i c_i P_ij
// (dP_ij - zeta_i) for the item's column j, for sort_backward.
@compute @workgroup_size(WG)
fn neuralsort_back_cols(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let pos = g % p.np;
  var q1 = 0.0;
  var q2 = 0.0;
  if (pos < p.n) {
    let j = u32(item_s(SLOT, b, pos));
    let nv = lmeta[m_at(b, NV)];
    let zb = at(ZETA, b);
    for (var i = 0u; i < u32(nv); i++) {
      let idx = (b * p.n + i) * p.n + j;
      let v = mat[idx] * (mat2[idx] - work[zb + i / 4u][i % 4u]);
      q1 += v;
      q2 += (nv - 1.0 - 2.0 * f32(i)) * v;
    }
  }
  work[at(A1, b) + pos / 4u][pos % 4u] = -q1;
  work[at(A2, b) + pos / 4u][pos % 4u] = q2;
}
