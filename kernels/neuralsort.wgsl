// Deterministic NeuralSort (Grover et al. 2019, as allRank) and NeuralNDCG, plain and fused.
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
fn prev_s(plane: u32, b: u32, j: u32) -> f32 { return prev[at(plane, b) + j / 4u][j % 4u]; }
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

// One invocation per position: its contribution to the ideal DCG@k (work plane TMP). The ideal
// rank counts items of larger gain, and of equal gain at earlier positions (gain increases with
// the label, and equal gains contribute the same whatever their order).
@compute @workgroup_size(WG)
fn item_ideal(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let j = g % p.np;
  let gj = item_s(GAIN, b, j);
  var value = 0.0;
  if (gj != 0.0) {
    let gb = at(GAIN, b);
    var rank = vec4<u32>(0u);
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    for (var q = 0u; q < quads_of(lmeta[m_at(b, NV)]); q++) {
      let g4 = items[gb + q];
      let before = vec4<u32>(q * 4u) + lane < vec4<u32>(j);
      let ahead = g4 > vec4<f32>(gj) | (g4 == vec4<f32>(gj) & before);
      rank += select(vec4<u32>(0u), vec4<u32>(1u), ahead);
    }
    let r = rank.x + rank.y + rank.z + rank.w;
    if (f32(r) < lmeta[m_at(b, CUT)]) { value = gj / log2(f32(r) + 2.0); }
  }
  work[at(TMP, b) + j / 4u][j % 4u] = value;
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
  let rmax = hmax(r0);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
    if (row_tile_dead(b, t, c.x, c.w, rmax, cur_s(TIL, b, t))) { continue; }
    for (var j = t * 8u; j < min(nvq, t * 8u + 8u); j++) {
      let s = items[sb + j];
      let k = items[kb + j];
      a0 += exp((c.x * s + k) + r0.x);
      a1 += exp((c.y * s + k) + r0.y);
      a2 += exp((c.z * s + k) + r0.z);
      a3 += exp((c.w * s + k) + r0.w);
    }
  }
  let rs = -log(vec4<f32>(hsum(a0), hsum(a1), hsum(a2), hsum(a3)));
  items[at(R0, b) + q] = select(vec4<f32>(-BIG), r0, valid);
  cur[at(RHO, b) + q] = select(vec4<f32>(0.0), rs, valid);
}

// One invocation per list: lmeta[slot] = the list's sum of work plane `plane`.
@compute @workgroup_size(WG)
fn list_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let b = linear_index(wid, nwg, lid, WG);
  if (b >= p.lists) { return; }
  let base = at(p.plane, b);
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < nq(); q++) { acc += work[base + q]; }
  lmeta[m_at(b, p.slot)] = hsum(acc);
}

// One invocation per list: out[list0 + b] = the list's ideal DCG (the sum of work plane TMP).
@compute @workgroup_size(WG)
fn list_idcg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let b = linear_index(wid, nwg, lid, WG);
  if (b >= p.lists) { return; }
  let base = at(TMP, b);
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < nq(); q++) { acc += work[base + q]; }
  out[p.list0 + b] = hsum(acc);
}

// One invocation, in place over out[0 .. total): ideal DCGs become the loss weights
// -1 / ((idcg_b + eps) N) for the N lists with idcg > 0, and 0 for the others.
@compute @workgroup_size(1)
fn batch_weights() {
  var count = 0.0;
  for (var b = 0u; b < p.total; b++) {
    if (out[b] > 0.0) { count += 1.0; }
  }
  for (var b = 0u; b < p.total; b++) {
    let idcg = out[b];
    var w = 0.0;
    if (idcg > 0.0) { w = -1.0 / ((idcg + EPS) * count); }
    out[b] = w;
  }
}

// One invocation: out[0] = sum_b weights[list0 + b] * dcg_b.
@compute @workgroup_size(1)
fn weighted_total() {
  var acc = 0.0;
  for (var b = 0u; b < p.lists; b++) { acc += weights[p.list0 + b] * lmeta[m_at(b, DCG)]; }
  out[0] = acc;
}

// ---------------------------------------------------------------------------------------------
// Fused Sinkhorn (scaling form; prev = state t-1, cur = state t). A list whose check stopped it
// (iters < t) skips its work but carries its state forward, so the last state is always final.
// After fused_col_update and after fused_row_step, state_tiles refreshes the tile maxima of cur.

// One invocation per quad of columns: cs_j = sum_i M_ij of the state t-1 matrix (into cur).
@compute @workgroup_size(WG)
fn fused_col_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) { return; }
  let nv = lmeta[m_at(b, NV)];
  let nvq = quads_of(nv);
  var acc = vec4<f32>(0.0);
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    let ks = prev[at(KAP, b) + q];
    let r0b = at(R0, b);
    let rsb = at(RHO, b);
    for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
      if (col_tile_dead(t, nv, s, k0 + ks, prev_s(TIL, b, nt() + t))) { continue; }
      for (var r = t * 8u; r < min(nvq, t * 8u + 8u); r++) {
        let r0 = items[r0b + r];
        let rs = prev[rsb + r];
        let c = c4(nv, r * 4u);
        acc += exp(((c.x * s + k0) + r0.x) + (ks + rs.x));
        acc += exp(((c.y * s + k0) + r0.y) + (ks + rs.y));
        acc += exp(((c.z * s + k0) + r0.z) + (ks + rs.z));
        acc += exp(((c.w * s + k0) + r0.w) + (ks + rs.w));
      }
    }
  }
  cur[at(CS, b) + q] = acc;
}

// One invocation per quad of positions: the column normalisation kap_t = kap_{t-1} - log max(cs,
// eps).
@compute @workgroup_size(WG)
fn fused_col_update(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let k = prev[at(KAP, b) + q];
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) {
    cur[at(KAP, b) + q] = k;
    return;
  }
  let cs = cur[at(CS, b) + q];
  let valid = items[at(VMASK, b) + q] > vec4<f32>(0.0);
  cur[at(KAP, b) + q] = select(vec4<f32>(0.0), k - log(max(cs, vec4<f32>(EPS))), valid);
}

// One invocation per quad of rows: the row normalisation rho_t = rho_{t-1} - log max(rs, eps).
@compute @workgroup_size(WG)
fn fused_row_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let rq = at(RHO, b) + q;
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) {
    cur[rq] = prev[rq];
    cur[at(RS, b) + q] = vec4<f32>(1.0);
    return;
  }
  let nv = lmeta[m_at(b, NV)];
  let i0 = q * 4u;
  let valid = rows_valid(nv, i0);
  if (!valid.x) {
    cur[rq] = vec4<f32>(0.0);
    cur[at(RS, b) + q] = vec4<f32>(0.0);
    return;
  }
  let c = c4(nv, i0);
  let r0 = items[at(R0, b) + q];
  let rs = prev[rq];
  let rmax = hmax(r0 + rs);
  let sb = at(SIG, b);
  let k0b = at(K0, b);
  let ksb = at(KAP, b);
  let nvq = quads_of(nv);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
    if (row_tile_dead(b, t, c.x, c.w, rmax, cur_s(TIL, b, t))) { continue; }
    for (var j = t * 8u; j < min(nvq, t * 8u + 8u); j++) {
      let s = items[sb + j];
      let k0 = items[k0b + j];
      let ks = cur[ksb + j];
      a0 += exp(((c.x * s + k0) + r0.x) + (ks + rs.x));
      a1 += exp(((c.y * s + k0) + r0.y) + (ks + rs.y));
      a2 += exp(((c.z * s + k0) + r0.z) + (ks + rs.z));
      a3 += exp(((c.w * s + k0) + r0.w) + (ks + rs.w));
    }
  }
  let sums = vec4<f32>(hsum(a0), hsum(a1), hsum(a2), hsum(a3));
  cur[rq] = select(vec4<f32>(0.0), rs - log(max(sums, vec4<f32>(EPS))), valid);
  cur[at(RS, b) + q] = select(vec4<f32>(0.0), sums, valid);
}

// ---------------------------------------------------------------------------------------------
// Fused NeuralNDCG on the final state (cur). DCG = sum_i d_i sum_j M_ij g_j.

// neuralNDCG: one invocation per quad of rank rows, work TMP = d_i * (M g)_i.
@compute @workgroup_size(WG)
fn fused_dcg_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let d = items[at(DISC, b) + q];
  var value = vec4<f32>(0.0);
  if (d.x != 0.0) {
    value = d * row_gains(b, q);
  }
  work[at(TMP, b) + q] = value;
}

// (M g)_i for the 4 rank rows of quad q of list b, in the state bound as cur.
fn row_gains(b: u32, q: u32) -> vec4<f32> {
  let nv = lmeta[m_at(b, NV)];
  let c = c4(nv, q * 4u);
  let r0 = items[at(R0, b) + q];
  let rs = cur[at(RHO, b) + q];
  let rmax = hmax(r0 + rs);
  let sb = at(SIG, b);
  let k0b = at(K0, b);
  let ksb = at(KAP, b);
  let gb = at(GAIN, b);
  let nvq = quads_of(nv);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
    if (row_tile_dead(b, t, c.x, c.w, rmax, cur_s(TIL, b, t))) { continue; }
    for (var j = t * 8u; j < min(nvq, t * 8u + 8u); j++) {
      let s = items[sb + j];
      let k0 = items[k0b + j];
      let ks = cur[ksb + j];
      let gain = items[gb + j];
      a0 += exp(((c.x * s + k0) + r0.x) + (ks + rs.x)) * gain;
      a1 += exp(((c.y * s + k0) + r0.y) + (ks + rs.y)) * gain;
      a2 += exp(((c.z * s + k0) + r0.z) + (ks + rs.z)) * gain;
      a3 += exp(((c.w * s + k0) + r0.w) + (ks + rs.w)) * gain;
    }
  }
  return vec4<f32>(hsum(a0), hsum(a1), hsum(a2), hsum(a3));
}

// (M^T d)_j and (M^T (c d))_j for the 4 columns of quad q of list b, in the state bound as cur
// (rank rows below the cutoff only).
fn col_discounts(b: u32, q: u32) -> array<vec4<f32>, 2> {
  let nv = lmeta[m_at(b, NV)];
  let s = items[at(SIG, b) + q];
  let k0 = items[at(K0, b) + q];
  let ks = cur[at(KAP, b) + q];
  let r0b = at(R0, b);
  let rsb = at(RHO, b);
  let db = at(DISC, b);
  let cq = quads_of(lmeta[m_at(b, CUT)]);
  var ed = vec4<f32>(0.0);
  var edc = vec4<f32>(0.0);
  for (var t = 0u; t < (cq + 7u) / 8u; t++) {
    if (col_tile_dead(t, nv, s, k0 + ks, cur_s(TIL, b, nt() + t))) { continue; }
    for (var r = t * 8u; r < min(cq, t * 8u + 8u); r++) {
      let r0 = items[r0b + r];
      let rs = cur[rsb + r];
      let d = items[db + r];
      let c = c4(nv, r * 4u);
      let e0 = exp(((c.x * s + k0) + r0.x) + (ks + rs.x)) * d.x;
      let e1 = exp(((c.y * s + k0) + r0.y) + (ks + rs.y)) * d.y;
      let e2 = exp(((c.z * s + k0) + r0.z) + (ks + rs.z)) * d.z;
      let e3 = exp(((c.w * s + k0) + r0.w) + (ks + rs.w)) * d.w;
      ed += e0 + e1 + e2 + e3;
      edc += c.x * e0 + c.y * e1 + c.z * e2 + c.w * e3;
    }
  }
  return array<vec4<f32>, 2>(ed, edc);
}

// neuralNDCG_transposed: one invocation per quad of columns, work TMP = g_j * (M^T d)_j.
@compute @workgroup_size(WG)
fn fused_dcg_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let gain = items[at(GAIN, b) + q];
  var value = vec4<f32>(0.0);
  if (any(gain != vec4<f32>(0.0))) {
    value = gain * col_discounts(b, q)[0];
  }
  work[at(TMP, b) + q] = value;
}

// ---------------------------------------------------------------------------------------------
// Fused backward. With G_ij = gl * w_b * d_i * g_j (gl = upstream gradient) the loss is
// sum_ij G_ij M_ij. Iteration t of Sinkhorn computed
// cs_t = colsums(P e^(alpha_{t-1} + beta_{t-1})), beta_t = beta_{t-1} - log max(cs_t, eps), rs_t = rowsums(P e^(alpha_{t-1} + beta_t)),
// alpha_t = alpha_{t-1} - log max(rs_t, eps). Going back, work holds per row abar (d loss /
// d alpha), zeta (sum_j P_ij dP_ij) and gbar (d loss / d rs_t), and per column bbar (d loss /
// d beta), A1 = sum_i P_ij dP_ij, A2 = sum_i c_i P_ij dP_ij and h (d loss / d cs_t), where dP is
// the gradient with respect to P-hat, which is never formed.

// One invocation per quad of rows: abar = zeta = sum_j G_ij M_ij; then gbar for iteration t.
@compute @workgroup_size(WG)
fn fused_back_init_rows(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let d = items[at(DISC, b) + q];
  var abar = vec4<f32>(0.0);
  if (d.x != 0.0) {
    abar = upstream[0] * weights[p.list0 + b] * d * row_gains(b, q);
  }
  var zeta = abar;
  var gbar = vec4<f32>(0.0);
  if (p.t >= 1u && lmeta[m_at(b, ITERS)] >= f32(p.t)) {
    let rs = cur[at(RS, b) + q];
    gbar = select(vec4<f32>(0.0), -abar / rs, rs > vec4<f32>(EPS));
    abar += gbar * rs;
    zeta += gbar * rs;
  }
  work[at(ABAR, b) + q] = abar;
  work[at(ZETA, b) + q] = zeta;
  work[at(GBAR, b) + q] = gbar;
}

// One invocation per quad of columns: bbar = A1 = sum_i G_ij M_ij, A2 = sum_i c_i G_ij M_ij.
@compute @workgroup_size(WG)
fn fused_back_init_cols(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let gain = items[at(GAIN, b) + q];
  var ed = array<vec4<f32>, 2>(vec4<f32>(0.0), vec4<f32>(0.0));
  if (any(gain != vec4<f32>(0.0))) {
    ed = col_discounts(b, q);
  }
  let coef = upstream[0] * weights[p.list0 + b] * gain;
  work[at(BBAR, b) + q] = coef * ed[0];
  work[at(A1, b) + q] = coef * ed[0];
  work[at(A2, b) + q] = coef * ed[1];
}

// Iteration t, one invocation per quad of columns: back through the row step (E = P e^(alpha_{t-1}
// + beta_t)), then through the column step: h = d loss / d cs_t.
@compute @workgroup_size(WG)
fn fused_back_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) { return; }
  let nv = lmeta[m_at(b, NV)];
  let nvq = quads_of(nv);
  var x = vec4<f32>(0.0);
  var y = vec4<f32>(0.0);
  var w = vec4<f32>(0.0);
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    let ks = cur[at(KAP, b) + q];
    let r0b = at(R0, b);
    let rsb = at(RHO, b);
    let gbb = at(GBAR, b);
    for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
      if (col_tile_dead(t, nv, s, k0 + ks, prev_s(TIL, b, nt() + t))) { continue; }
      for (var r = t * 8u; r < min(nvq, t * 8u + 8u); r++) {
        let r0 = items[r0b + r];
        let rs = prev[rsb + r];
        let gb = work[gbb + r];
        let c = c4(nv, r * 4u);
        let e0 = exp(((c.x * s + k0) + r0.x) + (ks + rs.x));
        let e1 = exp(((c.y * s + k0) + r0.y) + (ks + rs.y));
        let e2 = exp(((c.z * s + k0) + r0.z) + (ks + rs.z));
        let e3 = exp(((c.w * s + k0) + r0.w) + (ks + rs.w));
        x += gb.x * e0 + gb.y * e1 + gb.z * e2 + gb.w * e3;
        y += (c.x * gb.x) * e0 + (c.y * gb.y) * e1 + (c.z * gb.z) * e2 + (c.w * gb.w) * e3;
        w += c.x * e0 + c.y * e1 + c.z * e2 + c.w * e3;
      }
    }
  }
  let cs = cur[at(CS, b) + q];
  let qd = max(cs, vec4<f32>(EPS));
  var bbar = work[at(BBAR, b) + q] + x;
  var a1 = work[at(A1, b) + q] + x;
  var a2 = work[at(A2, b) + q] + y;
  let h = select(vec4<f32>(0.0), -bbar / cs, cs > vec4<f32>(EPS));
  bbar += h * cs;
  a1 += h * cs;
  // sum_i c_i P_ij e^(alpha_{t-1} + beta_{t-1}) = max(cs, eps) * sum_i c_i E_ij
  a2 += h * qd * w;
  work[at(BBAR, b) + q] = bbar;
  work[at(A1, b) + q] = a1;
  work[at(A2, b) + q] = a2;
  work[at(H, b) + q] = h;
}

// Iteration t, one invocation per quad of rows: the column step's row adjoint (F = P e^(alpha_{t-1}
// + beta_{t-1})), then gbar for iteration t - 1.
@compute @workgroup_size(WG)
fn fused_back_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let nv = lmeta[m_at(b, NV)];
  let iters = lmeta[m_at(b, ITERS)];
  let i0 = q * 4u;
  if (f32(i0) >= nv || iters < f32(p.t - 1u)) { return; }
  var abar = work[at(ABAR, b) + q];
  var zeta = work[at(ZETA, b) + q];
  if (iters >= f32(p.t)) {
    let c = c4(nv, i0);
    let r0 = items[at(R0, b) + q];
    let rs = prev[at(RHO, b) + q];
    let rmax = hmax(r0 + rs);
    let sb = at(SIG, b);
    let k0b = at(K0, b);
    let ksb = at(KAP, b);
    let hb = at(H, b);
    let nvq = quads_of(nv);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
      if (row_tile_dead(b, t, c.x, c.w, rmax, prev_s(TIL, b, t))) { continue; }
      for (var j = t * 8u; j < min(nvq, t * 8u + 8u); j++) {
        let s = items[sb + j];
        let k0 = items[k0b + j];
        let ks = prev[ksb + j];
        let h = work[hb + j];
        a0 += exp(((c.x * s + k0) + r0.x) + (ks + rs.x)) * h;
        a1 += exp(((c.y * s + k0) + r0.y) + (ks + rs.y)) * h;
        a2 += exp(((c.z * s + k0) + r0.z) + (ks + rs.z)) * h;
        a3 += exp(((c.w * s + k0) + r0.w) + (ks + rs.w)) * h;
      }
    }
    let z = vec4<f32>(hsum(a0), hsum(a1), hsum(a2), hsum(a3));
    abar += z;
    zeta += z;
  }
  var gbar = vec4<f32>(0.0);
  if (p.t >= 2u) {
    let rsum = prev[at(RS, b) + q];
    gbar = select(vec4<f32>(0.0), -abar / rsum, rsum > vec4<f32>(EPS));
    abar += gbar * rsum;
    zeta += gbar * rsum;
  }
  work[at(ABAR, b) + q] = abar;
  work[at(ZETA, b) + q] = zeta;
  work[at(GBAR, b) + q] = gbar;
}

// One invocation per quad of columns, prev = state 0: through the softmax and the logits.
// A1 <- abar_j = d loss / d ahat_j = -(A1 - sum_i P_ij zeta_i); A2 <- sum_i c_i dL_ij.
@compute @workgroup_size(WG)
fn fused_back_final(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * nq()) { return; }
  let b = g / nq();
  let q = g % nq();
  let nv = lmeta[m_at(b, NV)];
  let nvq = quads_of(nv);
  var q1 = vec4<f32>(0.0);
  var q2 = vec4<f32>(0.0);
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    let ks = prev[at(KAP, b) + q];
    let r0b = at(R0, b);
    let rsb = at(RHO, b);
    let zb = at(ZETA, b);
    for (var t = 0u; t < (nvq + 7u) / 8u; t++) {
      if (col_tile_dead(t, nv, s, k0 + ks, prev_s(TIL, b, nt() + t))) { continue; }
      for (var r = t * 8u; r < min(nvq, t * 8u + 8u); r++) {
        let r0 = items[r0b + r];
        let rs = prev[rsb + r];
        let z = work[zb + r];
        let c = c4(nv, r * 4u);
        let e0 = exp(((c.x * s + k0) + r0.x) + (ks + rs.x)) * z.x;
        let e1 = exp(((c.y * s + k0) + r0.y) + (ks + rs.y)) * z.y;
        let e2 = exp(((c.z * s + k0) + r0.z) + (ks + rs.z)) * z.z;
        let e3 = exp(((c.w * s + k0) + r0.w) + (ks + rs.w)) * z.w;
        q1 += e0 + e1 + e2 + e3;
        q2 += c.x * e0 + c.y * e1 + c.z * e2 + c.w * e3;
      }
    }
  }
  work[at(A1, b) + q] = q1 - work[at(A1, b) + q];
  work[at(A2, b) + q] = work[at(A2, b) + q] - q2;
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

// neuralNDCG on a materialised matrix: one invocation per rank row, work TMP = d_i (M g)_i.
@compute @workgroup_size(WG)
fn dcg_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let i = g % p.np;
  let d = item_s(DISC, b, i);
  var acc = 0.0;
  if (d != 0.0) {
    let base = (b * p.n + i) * p.n;
    for (var pos = 0u; pos < u32(lmeta[m_at(b, NV)]); pos++) {
      acc += mat[base + u32(item_s(SLOT, b, pos))] * item_s(GAIN, b, pos);
    }
  }
  work[at(TMP, b) + i / 4u][i % 4u] = d * acc;
}

// neuralNDCG_transposed on a materialised matrix: one invocation per position, TMP = g_j
// (M^T d)_j for the item's column j.
@compute @workgroup_size(WG)
fn dcg_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.np) { return; }
  let b = g / p.np;
  let pos = g % p.np;
  let gain = item_s(GAIN, b, pos);
  var acc = 0.0;
  if (gain != 0.0) {
    let j = u32(item_s(SLOT, b, pos));
    for (var i = 0u; i < u32(lmeta[m_at(b, CUT)]); i++) {
      acc += mat[(b * p.n + i) * p.n + j] * item_s(DISC, b, i);
    }
  }
  work[at(TMP, b) + pos / 4u][pos % 4u] = gain * acc;
}

// Gradient of the soft DCG: one invocation per rank row, mat2[b, i, j] = gl * w_b * d_i * g_j.
@compute @workgroup_size(WG)
fn dcg_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  let coef = upstream[0] * weights[p.list0 + b] * item_s(DISC, b, i);
  let base = g * p.n;
  for (var pos = 0u; pos < p.n; pos++) {
    mat2[base + u32(item_s(SLOT, b, pos))] = coef * item_s(GAIN, b, pos);
  }
}
