// Sinkhorn scaling of materialised [lists, n, n] matrices (allRank `sinkhorn_scaling`, plain path),
// its backward pass, and the per-list stopping check shared with the fused kernels.
//
// The valid block of list b is rows 0 .. nv-1 (rank positions) by the slots j with labels >= 0;
// everything else is zero. Iteration t (1-based) divides every valid column by max(cs_j, eps),
// then every valid row by max(rs_i, eps), in place, and stores cs_t and rs_t in state t (planes
// rs, cs) for the backward pass. Before iteration t >= 2, sinkhorn_check stops a list (meta iters =
// t - 1) when all its row and column sums are within tol of 1; later dispatches skip it.
// Backward, in reverse, each step is undone on a copy of the output (rows multiplied by
// max(rs, eps), then columns by max(cs, eps)) while the gradient is pulled through it:
//   row step  M = N / r:  dN_ij = (dM_ij - [rs_i > eps] sum_j' dM_ij' M_ij') / r_i
//   col step  N = X / q:  dX_ij = (dN_ij - [cs_j > eps] sum_i' dN_i'j N_i'j) / q_j
//
// Bindings (group 0):
//   0 labels [total, n]      read        (row list0 + b is list b of the dispatch)
//   1 lmeta  [lists, 8]      read_write  per list: nv (slot 0), iters (slot 1)
//   2 prev   [4+, lists, np] read_write  state t-1 (planes kap, rho, rs, cs, ...; vec4)
//   3 cur    [4+, lists, np] read_write  state t (flags bit 2: a fused state, columns in the
//                                         sorted order of kernels/neuralsort.wgsl)
//   4 mat    [lists, n, n]   read_write  the matrix (forward) or the copy being unscaled (back)
//   5 mat2   [lists, n, n]   read_write  its gradient (backward)
//   6 params uniform (the same block as kernels/neuralsort.wgsl)

struct Params {
  lists: u32,
  n: u32,
  np: u32,
  list0: u32,
  total: u32,
  t: u32,
  max_iter: u32,
  flags: u32,
  k: u32,
  slot: u32,
  plane: u32,
  pad0: u32,
  tau: f32,
  limit: f32,
  tol: f32,
  pad1: f32,
}

@group(0) @binding(0) var<storage, read> labels: array<f32>;
@group(0) @binding(1) var<storage, read_write> lmeta: array<f32>;
@group(0) @binding(2) var<storage, read_write> prev: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> cur: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> mat: array<f32>;
@group(0) @binding(5) var<storage, read_write> mat2: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WG: u32 = 64u;
const EPS: f32 = 1e-10;
const NV: u32 = 0u;
const ITERS: u32 = 1u;
const RS: u32 = 2u;
const CS: u32 = 3u;

fn gid(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// Index of slot j of list b in plane `plane` of a state, as (vec4 index, lane).
fn st(plane: u32, b: u32, j: u32) -> vec2<u32> {
  return vec2<u32>((plane * p.lists + b) * (p.np / 4u) + j / 4u, j % 4u);
}

fn valid_col(b: u32, j: u32) -> bool { return labels[(p.list0 + b) * p.n + j] >= 0.0; }

fn nv_of(b: u32) -> u32 { return u32(lmeta[b * 8u + NV]); }

fn running(b: u32) -> bool { return lmeta[b * 8u + ITERS] >= f32(p.t); }

// One invocation per list, before iteration t >= 2: stop the list when every valid column sum of
// the current matrix (cs_t, in cur) and row sum (rs_{t-1} / max(rs_{t-1}, eps), in prev) is
// within tol of 1.
@compute @workgroup_size(64)
fn sinkhorn_check(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let b = gid(wid, nwg, lid);
  if (b >= p.lists || p.t < 2u || !running(b)) { return; }
  var err = 0.0;
  if ((p.flags & 4u) != 0u) {
    // fused state, in sorted space: the valid columns are positions 0 .. nv-1
    for (var j = 0u; j < nv_of(b); j++) {
      let s = st(CS, b, j);
      err = max(err, abs(cur[s.x][s.y] - 1.0));
    }
  } else {
    for (var j = 0u; j < p.n; j++) {
      if (valid_col(b, j)) {
        let s = st(CS, b, j);
        err = max(err, abs(cur[s.x][s.y] - 1.0));
      }
    }
  }
  for (var i = 0u; i < nv_of(b); i++) {
    let s = st(RS, b, i);
    let rs = prev[s.x][s.y];
    err = max(err, abs(rs / max(rs, EPS) - 1.0));
  }
  if (err < p.tol) { lmeta[b * 8u + ITERS] = f32(p.t - 1u); }
}

// One invocation per row: zero the entries of mat outside the valid block.
@compute @workgroup_size(64)
fn sinkhorn_mask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = gid(wid, nwg, lid);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  let base = g * p.n;
  let row_ok = i < nv_of(b);
  for (var j = 0u; j < p.n; j++) {
    if (!row_ok || !valid_col(b, j)) { mat[base + j] = 0.0; }
  }
}

// Iteration t, one invocation per column: cs_t = the valid column's sum (into cur).
@compute @workgroup_size(64)
fn sinkhorn_col_sums(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let g = gid(wid, nwg, lid);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let j = g % p.n;
  if (!running(b)) { return; }
  var cs = 0.0;
  if (valid_col(b, j)) {
    let nv = nv_of(b);
    for (var i = 0u; i < nv; i++) { cs += mat[(b * p.n + i) * p.n + j]; }
  }
  let s = st(CS, b, j);
  cur[s.x][s.y] = cs;
}

// Iteration t, one invocation per row: divide by the column sums, then by the row sum (rs_t).
@compute @workgroup_size(64)
fn sinkhorn_row_step(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let g = gid(wid, nwg, lid);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  if (!running(b) || i >= nv_of(b)) { return; }
  let base = g * p.n;
  var rs = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let s = st(CS, b, j);
    let v = mat[base + j] / max(cur[s.x][s.y], EPS);
    mat[base + j] = v;
    rs += v;
  }
  let r = max(rs, EPS);
  for (var j = 0u; j < p.n; j++) { mat[base + j] = mat[base + j] / r; }
  let s = st(RS, b, i);
  cur[s.x][s.y] = rs;
}

// Backward of iteration t's row step, one invocation per row (mat = M_t, becomes N_t).
@compute @workgroup_size(64)
fn sinkhorn_back_rows(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let g = gid(wid, nwg, lid);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let i = g % p.n;
  if (!running(b) || i >= nv_of(b)) { return; }
  let base = g * p.n;
  let s = st(RS, b, i);
  let rs = cur[s.x][s.y];
  let r = max(rs, EPS);
  var d = 0.0;
  if (rs > EPS) {
    for (var j = 0u; j < p.n; j++) { d += mat2[base + j] * mat[base + j]; }
  }
  for (var j = 0u; j < p.n; j++) {
    mat2[base + j] = (mat2[base + j] - d) / r;
    mat[base + j] = mat[base + j] * r;
  }
}

// Backward of iteration t's column step, one invocation per column (mat = N_t, becomes M_{t-1}).
@compute @workgroup_size(64)
fn sinkhorn_back_cols(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let g = gid(wid, nwg, lid);
  if (g >= p.lists * p.n) { return; }
  let b = g / p.n;
  let j = g % p.n;
  if (!running(b) || !valid_col(b, j)) { return; }
  let nv = nv_of(b);
  let s = st(CS, b, j);
  let cs = cur[s.x][s.y];
  let q = max(cs, EPS);
  var e = 0.0;
  if (cs > EPS) {
    for (var i = 0u; i < nv; i++) {
      let idx = (b * p.n + i) * p.n + j;
      e += mat2[idx] * mat[idx];
    }
  }
  for (var i = 0u; i < nv; i++) {
    let idx = (b * p.n + i) * p.n + j;
    mat2[idx] = (mat2[idx] - e) / q;
    mat[idx] = mat[idx] * q;
  }
}
