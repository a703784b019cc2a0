// Masked multi-head self-attention over lists (the softmax(Q K^T / sqrt(d_head)) V core), and its
// backward. Q, K, V, O are [lists * n, d_model] row-major with d_model = heads * dh: row l * n + i is
// item i of list l, and columns hd * dh .. (hd + 1) * dh - 1 belong to head hd.
//   O[l, i, hd] = sum_j P[l, hd, i, j] V[l, j, hd],  P = softmax_j(scale * Q[l, i, hd] . K[l, j, hd])
// where the softmax runs over the valid keys j of list l (mask[l * n + j] > 0.5). A padded query
// gets O = 0 (and a zero gradient); padded keys are never attended to, so they cannot affect valid
// items, and a list with no valid item yields zeros.
//
// What the bindings a, b, out0, out1 hold per entry point (X = "" or "_blocked"):
//   attention_forward{X}:     out0 = O; a, b, out1 unused.
//   attention_backward_q{X}:  a = O, b = dO; out0 = dQ, out1 = stats [lists, heads, n, 2] holding
//                             (delta = dO . O, log-sum-exp of the scaled scores) per query. The
//                             log-sum-exp is recomputed here (as FlashAttention does), so the
//                             forward keeps nothing but O.
//   attention_backward_kv{X}: a = stats, b = dO; out0 = dK, out1 = dV.
// No workgroup memory and no barriers (both costly on llvmpipe): each invocation loops serially
// over its list. Two variants of each entry point:
//   generic (no suffix): one invocation per (list, head, item), dh <= MAX_DH at run time.
//   _blocked: one invocation per block of 4 consecutive items of one (list, head), held as the
//     lanes of vec4s; the head dimension is the pipeline constant DH <= FAST_DH, so loops over it
//     are unrolled and the per-invocation arrays stay in registers. Each K/V row (forward, dQ) or
//     Q/dO row (dK, dV) loaded in the loop then serves 4 items: on llvmpipe every such load is a
//     per-lane gather, and sharing it makes these kernels 2-4x faster. Larger blocks or DH make
//     llvmpipe's shader compile take tens of seconds, hence the limits. Rows past the end of a
//     list are computed on a clamped copy of the last row and never written.

fn valid(row: u32) -> bool {
  return p.has_mask == 0u || mask[row] > 0.5;
}

// ---------------------------------------------------------------------------------------------
// Generic kernels: one invocation per (list, head, item), index (l * heads + hd) * n + i.

// MAX_DH, the largest head dimension of the generic kernels, sizes their private arrays.

struct Item {
  t: u32,      // invocation index (l * heads + hd) * n + i
  list: u32,
  head: u32,
  base: u32,   // first element of this item's head slice: (l * n + i) * d_model + hd * dh
}

fn item(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Item {
  let t = linear_index(wid, nwg, lid, WG);
  let i = t % p.n;
  let lh = t / p.n;
  let hd = lh % p.heads;
  let l = lh / p.heads;
  return Item(t, l, hd, ((l * p.n + i) * p.heads + hd) * p.dh);
}

// Element offset of item j's head slice in the same list and head as `it`.
fn slice_of(it: Item, j: u32) -> u32 {
  return ((it.list * p.n + j) * p.heads + it.head) * p.dh;
}

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let it = item(wid, nwg, lid);
  if (it.t >= p.lists * p.heads * p.n) { return; }
  let dh = p.dh;
  if (!valid(it.list * p.n + it.t % p.n)) {
    for (var d = 0u; d < dh; d++) { out0[it.base + d] = 0.0; }
    return;
  }
  var qs: array<f32, MAX_DH>;
  var acc: array<f32, MAX_DH>;
  for (var d = 0u; d < dh; d++) {
    qs[d] = q[it.base + d] * p.scale;
    acc[d] = 0.0;
  }
  // Online softmax: running max m and running sum s of exp(score - m).
  var m = -F32_MAX;
  var s = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (!valid(it.list * p.n + j)) { continue; }
    let kb = slice_of(it, j);
    var x = 0.0;
    for (var d = 0u; d < dh; d++) { x += qs[d] * k[kb + d]; }
    let mn = max(m, x);
    let corr = exp(m - mn);
    let pj = exp(x - mn);
    s = s * corr + pj;
    for (var d = 0u; d < dh; d++) { acc[d] = acc[d] * corr + pj * v[kb + d]; }
    m = mn;
  }
  // s >= 1: the query's own key is valid.
  let inv = 1.0 / s;
  for (var d = 0u; d < dh; d++) { out0[it.base + d] = acc[d] * inv; }
}

// dQ_i = scale * sum_j P_ij (dO_i . V_j - delta_i) K_j with delta_i = dO_i . O_i; also writes
// (delta_i, lse_i) for attention_backward_kv.
@compute @workgroup_size(WG)
fn attention_backward_q(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let it = item(wid, nwg, lid);
  if (it.t >= p.lists * p.heads * p.n) { return; }
  let dh = p.dh;
  if (!valid(it.list * p.n + it.t % p.n)) {
    for (var d = 0u; d < dh; d++) { out0[it.base + d] = 0.0; }
    out1[2u * it.t] = 0.0;
    out1[2u * it.t + 1u] = 0.0;
    return;
  }
  var qs: array<f32, MAX_DH>;
  var go: array<f32, MAX_DH>;
  var dq: array<f32, MAX_DH>;
  var delta = 0.0;
  for (var d = 0u; d < dh; d++) {
    qs[d] = q[it.base + d] * p.scale;
    go[d] = b[it.base + d];
    delta += go[d] * a[it.base + d];
    dq[d] = 0.0;
  }
  // Pass 1: the query's log-sum-exp.
  var m = -F32_MAX;
  var s = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (!valid(it.list * p.n + j)) { continue; }
    let kb = slice_of(it, j);
    var x = 0.0;
    for (var d = 0u; d < dh; d++) { x += qs[d] * k[kb + d]; }
    let mn = max(m, x);
    s = s * exp(m - mn) + exp(x - mn);
    m = mn;
  }
  let lse = m + log(s);
  out1[2u * it.t] = delta;
  out1[2u * it.t + 1u] = lse;
  // Pass 2: dS_ij = P_ij (dO_i . V_j - delta_i), dQ_i += dS_ij K_j.
  for (var j = 0u; j < p.n; j++) {
    if (!valid(it.list * p.n + j)) { continue; }
    let kb = slice_of(it, j);
    var x = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < dh; d++) {
      x += qs[d] * k[kb + d];
      dp += go[d] * v[kb + d];
    }
    let ds = exp(x - lse) * (dp - delta);
    for (var d = 0u; d < dh; d++) { dq[d] += ds * k[kb + d]; }
  }
  for (var d = 0u; d < dh; d++) { out0[it.base + d] = dq[d] * p.scale; }
}

// For key j: dK_j = scale * sum_i P_ij (dO_i . V_j - delta_i) Q_i,  dV_j = sum_i P_ij dO_i,
// over the valid queries i, with delta_i and the log-sum-exp of query i read from the stats.
@compute @workgroup_size(WG)
fn attention_backward_kv(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
  let it = item(wid, nwg, lid);
  if (it.t >= p.lists * p.heads * p.n) { return; }
  let dh = p.dh;
  if (!valid(it.list * p.n + it.t % p.n)) {
    for (var d = 0u; d < dh; d++) {
      out0[it.base + d] = 0.0;
      out1[it.base + d] = 0.0;
    }
    return;
  }
  var kj: array<f32, MAX_DH>;
  var vj: array<f32, MAX_DH>;
  var dk: array<f32, MAX_DH>;
  var dv: array<f32, MAX_DH>;
  for (var d = 0u; d < dh; d++) {
    kj[d] = k[it.base + d];
    vj[d] = v[it.base + d];
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  let row0 = (it.list * p.heads + it.head) * p.n;
  for (var i = 0u; i < p.n; i++) {
    if (!valid(it.list * p.n + i)) { continue; }
    let qb = slice_of(it, i);
    let st = row0 + i;
    var x = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < dh; d++) {
      x += q[qb + d] * p.scale * kj[d];
      dp += b[qb + d] * vj[d];
    }
    let pij = exp(x - a[2u * st + 1u]);
    let ds = pij * (dp - a[2u * st]);
    for (var d = 0u; d < dh; d++) {
      dk[d] += ds * q[qb + d];
      dv[d] += pij * b[qb + d];
    }
  }
  for (var d = 0u; d < dh; d++) {
    out0[it.base + d] = dk[d] * p.scale;
    out1[it.base + d] = dv[d];
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked kernels (see the header).

// The head dimension of the blocked kernels, a pipeline constant (= p.dh), at most FAST_DH.

// A block of 4 consecutive items of one (list, head).
struct Block {
  list: u32,
  head: u32,
  first: u32,      // item index of the block's first item
  rows: vec4<u32>, // element offsets of the head slices of items first .. first+3 (clamped)
}

// Element offset of the head slice of item i (clamped to the list) of list l, head hd.
fn slice_c(l: u32, hd: u32, i: u32) -> u32 {
  return ((l * p.n + min(i, p.n - 1u)) * p.heads + hd) * DH;
}

// The invocation's block; list = p.lists when the invocation has none.
fn block_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Block {
  let t = linear_index(wid, nwg, lid, WG);
  let nb = (p.n + BLOCK - 1u) / BLOCK;
  if (t >= p.lists * p.heads * nb) {
    return Block(p.lists, 0u, 0u, vec4<u32>(0u));
  }
  let lh = t / nb;
  let hd = lh % p.heads;
  let l = lh / p.heads;
  let i = (t % nb) * BLOCK;
  let rows = vec4<u32>(slice_c(l, hd, i), slice_c(l, hd, i + 1u), slice_c(l, hd, i + 2u),
                       slice_c(l, hd, i + 3u));
  return Block(l, hd, i, rows);
}

// Whether each item of the block exists (is inside the list) ...
fn inside4(bl: Block) -> vec4<bool> {
  return (bl.first + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(p.n);
}

// ... and whether it is a real item (inside and not padding).
fn valid4(bl: Block) -> vec4<bool> {
  let base = bl.list * p.n;
  let last = p.n - 1u;
  let i = bl.first;
  let ok = vec4<bool>(valid(base + min(i, last)), valid(base + min(i + 1u, last)),
                      valid(base + min(i + 2u, last)), valid(base + min(i + 3u, last)));
  return ok & inside4(bl);
}

fn load4_q(r: vec4<u32>, d: u32) -> vec4<f32> {
  return vec4<f32>(q[r.x + d], q[r.y + d], q[r.z + d], q[r.w + d]);
}
fn load4_k(r: vec4<u32>, d: u32) -> vec4<f32> {
  return vec4<f32>(k[r.x + d], k[r.y + d], k[r.z + d], k[r.w + d]);
}
fn load4_v(r: vec4<u32>, d: u32) -> vec4<f32> {
  return vec4<f32>(v[r.x + d], v[r.y + d], v[r.z + d], v[r.w + d]);
}
fn load4_a(r: vec4<u32>, d: u32) -> vec4<f32> {
  return vec4<f32>(a[r.x + d], a[r.y + d], a[r.z + d], a[r.w + d]);
}
fn load4_b(r: vec4<u32>, d: u32) -> vec4<f32> {
  return vec4<f32>(b[r.x + d], b[r.y + d], b[r.z + d], b[r.w + d]);
}

// Writes x (0 where !ok) to out0[r + d] / out1[r + d] for the items that exist.
fn store4_0(r: vec4<u32>, d: u32, inside: vec4<bool>, ok: vec4<bool>, x: vec4<f32>) {
  let y = select(vec4<f32>(0.0), x, ok);
  if (inside.x) { out0[r.x + d] = y.x; }
  if (inside.y) { out0[r.y + d] = y.y; }
  if (inside.z) { out0[r.z + d] = y.z; }
  if (inside.w) { out0[r.w + d] = y.w; }
}
fn store4_1(r: vec4<u32>, d: u32, inside: vec4<bool>, ok: vec4<bool>, x: vec4<f32>) {
  let y = select(vec4<f32>(0.0), x, ok);
  if (inside.x) { out1[r.x + d] = y.x; }
  if (inside.y) { out1[r.y + d] = y.y; }
  if (inside.z) { out1[r.z + d] = y.z; }
  if (inside.w) { out1[r.w + d] = y.w; }
}

// One online-softmax step: the new running max, the factor rescaling the old sum, exp(x - max).
struct Online {
  m: vec4<f32>,
  corr: vec4<f32>,
  e: vec4<f32>,
}

fn online(m: vec4<f32>, x: vec4<f32>) -> Online {
  let mn = max(m, x);
  return Online(mn, exp(m - mn), exp(x - mn));
}

@compute @workgroup_size(WG)
fn attention_forward_blocked(@builtin(workgroup_id) wid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_index) lid: u32) {
  let bl = block_of(wid, nwg, lid);
  if (bl.list >= p.lists) { return; }
  var qs: array<vec4<f32>, FAST_DH>;
  var acc: array<vec4<f32>, FAST_DH>;
  for (var d = 0u; d < DH; d++) {
    qs[d] = load4_q(bl.rows, d) * p.scale;
    acc[d] = vec4<f32>(0.0);
  }
  var m = vec4<f32>(-F32_MAX);
  var s = vec4<f32>(0.0);
  for (var j = 0u; j < p.n; j++) {
    if (!valid(bl.list * p.n + j)) { continue; }
    let kb = slice_c(bl.list, bl.head, j);
    var x = vec4<f32>(0.0);
    for (var d = 0u; d < DH; d++) { x += qs[d] * k[kb + d]; }
    let u = online(m, x);
    s = s * u.corr + u.e;
    for (var d = 0u; d < DH; d++) { acc[d] = acc[d] * u.corr + u.e * v[kb + d]; }
    m = u.m;
  }
  // s >= 1 once any key is valid (the maximum contributes exp(0)); 0 only for all-padding lists.
  let inv = 1.0 / max(s, vec4<f32>(1.0));
  let inside = inside4(bl);
  let ok = valid4(bl);
  for (var d = 0u; d < DH; d++) { store4_0(bl.rows, d, inside, ok, acc[d] * inv); }
}

@compute @workgroup_size(WG)
fn attention_backward_q_blocked(@builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
  let bl = block_of(wid, nwg, lid);
  if (bl.list >= p.lists) { return; }
  var qs: array<vec4<f32>, FAST_DH>;
  var go: array<vec4<f32>, FAST_DH>;
  var dq: array<vec4<f32>, FAST_DH>;
  var kr: array<f32, FAST_DH>;
  var delta = vec4<f32>(0.0);
  for (var d = 0u; d < DH; d++) {
    qs[d] = load4_q(bl.rows, d) * p.scale;
    go[d] = load4_b(bl.rows, d);
    delta += go[d] * load4_a(bl.rows, d);
    dq[d] = vec4<f32>(0.0);
  }
  // Pass 1: each query's log-sum-exp.
  var m = vec4<f32>(-F32_MAX);
  var s = vec4<f32>(0.0);
  for (var j = 0u; j < p.n; j++) {
    if (!valid(bl.list * p.n + j)) { continue; }
    let kb = slice_c(bl.list, bl.head, j);
    var x = vec4<f32>(0.0);
    for (var d = 0u; d < DH; d++) { x += qs[d] * k[kb + d]; }
    let u = online(m, x);
    s = s * u.corr + u.e;
    m = u.m;
  }
  let lse = m + log(max(s, vec4<f32>(1.0)));
  // Pass 2: dS_ij = P_ij (dO_i . V_j - delta_i), dQ_i += dS_ij K_j.
  for (var j = 0u; j < p.n; j++) {
    if (!valid(bl.list * p.n + j)) { continue; }
    let kb = slice_c(bl.list, bl.head, j);
    var x = vec4<f32>(0.0);
    var dp = vec4<f32>(0.0);
    for (var d = 0u; d < DH; d++) {
      kr[d] = k[kb + d];
      x += qs[d] * kr[d];
      dp += go[d] * v[kb + d];
    }
    let ds = exp(x - lse) * (dp - delta);
    for (var d = 0u; d < DH; d++) { dq[d] += ds * kr[d]; }
  }
  let inside = inside4(bl);
  let ok = valid4(bl);
  for (var d = 0u; d < DH; d++) { store4_0(bl.rows, d, inside, ok, dq[d] * p.scale); }
  let st = 2u * ((bl.list * p.heads + bl.head) * p.n + bl.first) + vec4<u32>(0u, 2u, 4u, 6u);
  store4_1(st, 0u, inside, ok, delta);
  store4_1(st, 1u, inside, ok, lse);
}

@compute @workgroup_size(WG)
fn attention_backward_kv_blocked(@builtin(workgroup_id) wid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>,
                                 @builtin(local_invocation_index) lid: u32) {
  let bl = block_of(wid, nwg, lid);
  if (bl.list >= p.lists) { return; }
  var kb4: array<vec4<f32>, FAST_DH>;
  var vb4: array<vec4<f32>, FAST_DH>;
  var dk: array<vec4<f32>, FAST_DH>;
  var dv: array<vec4<f32>, FAST_DH>;
  var qr: array<f32, FAST_DH>;
  var gr: array<f32, FAST_DH>;
  for (var d = 0u; d < DH; d++) {
    kb4[d] = load4_k(bl.rows, d);
    vb4[d] = load4_v(bl.rows, d);
    dk[d] = vec4<f32>(0.0);
    dv[d] = vec4<f32>(0.0);
  }
  for (var i = 0u; i < p.n; i++) {
    if (!valid(bl.list * p.n + i)) { continue; }
    let qb = slice_c(bl.list, bl.head, i);
    let st = 2u * ((bl.list * p.heads + bl.head) * p.n + i);
    let delta = a[st];
    let lse = a[st + 1u];
    var x = vec4<f32>(0.0);
    var dp = vec4<f32>(0.0);
    for (var d = 0u; d < DH; d++) {
      qr[d] = q[qb + d] * p.scale;
      gr[d] = b[qb + d];
      x += kb4[d] * qr[d];
      dp += vb4[d] * gr[d];
    }
    let pij = exp(x - lse);
    let ds = pij * (dp - delta);
    for (var d = 0u; d < DH; d++) {
      dk[d] += ds * qr[d];
      dv[d] += pij * gr[d];
    }
  }
  let inside = inside4(bl);
  let ok = valid4(bl);
  for (var d = 0u; d < DH; d++) {
    store4_0(bl.rows, d, inside, ok, dk[d]);
    store4_1(bl.rows, d, inside, ok, dv[d]);
  }
}
