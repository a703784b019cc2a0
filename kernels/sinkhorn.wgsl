// Sinkhorn scaling of materialised [lists, n, n] matrices (allRank `sinkhorn_scaling`, plain path),
// its backward pass, and the per-list stopping check shared with the fused kernels.
//
// The valid block of list b is rows 0 .. nv-1 (rank positions) by the slots j with labels >= 0;
// everything else is zero. Iteration t (1-based) divides every valid column by max(cs_j, eps),
// then every valid row by max(rs_i, eps), in place, and stores cs_t and rs_t in state t (planes
// rs, cs) for the backward pass. Before iteration t >= 2, sinkhorn_check stops a list (meta iters =
// t - 1) when all its row and column sums are within tol of 1 (allRank's test after iteration
// t - 1); later dispatches skip it. On the fused path (flags bit 2) the check also hands the
// stopping list's state t - 1 to the final state and counts the lists still running in the gate
// (words G_*); the last list to stop closes it: the launches that read their workgroup counts from
// the gate get none, so once every list has converged the remaining iterations cost empty
// dispatches, without a readback.
// Backward, in reverse, each step is undone on a copy of the output (rows multiplied by
// max(rs, eps), then columns by max(cs, eps)) while the gradient is pulled through it:
//   row step  M = N / r:  dN_ij = (dM_ij - [rs_i > eps] sum_j' dM_ij' M_ij') / r_i
//   col step  N = X / q:  dX_ij = (dN_ij - [cs_j > eps] sum_i' dN_i'j N_i'j) / q_j
//
// Index of slot j of list b in plane `plane` of a state, as (vec4 index, lane).
fn st(plane: u32, b: u32, j: u32) -> vec2<u32> {
  return vec2<u32>((plane * p.lists + b) * (p.np / 4u) + j / 4u, j % 4u);
}

fn valid_col(b: u32, j: u32) -> bool { return labels[(p.list0 + b) * p.n + j] >= 0.0; }

fn nv_of(b: u32) -> u32 { return u32(lmeta[b * META + NV]); }

fn running(b: u32) -> bool { return lmeta[b * META + ITERS] >= f32(p.t); }

// One invocation per list, before iteration t >= 2: stop the list when every valid column sum of
// the current matrix (cs_t, in cur) and row sum (rs_{t-1} / max(rs_{t-1}, eps), in prev) is
// within tol of 1.
@compute @workgroup_size(WG)
fn sinkhorn_check(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let b = linear_index(wid, nwg, lid, WG);
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
  if (err < p.tol) {
    lmeta[b * META + ITERS] = f32(p.t - 1u);
    if ((p.flags & 4u) != 0u) { stop_fused(b); }
  }
}

// Fused path, list b stopped after iteration t - 1: its state t - 1 (prev) becomes its final state
// (flags bit 3: copied into cur, bit 4: into fin, neither: prev is the final state's buffer). The
// last list to stop closes the gate: the forward's remaining launches, and the backward passes of
// the iterations no list ran (triples t' > t - 1 of G_BACK), get 0 workgroups.
fn stop_fused(b: u32) {
  let nq = p.np / 4u;
  if ((p.flags & 24u) != 0u) {
    for (var plane = 0u; plane < STATE_PLANES; plane++) {
      let base = (plane * p.lists + b) * nq;
      for (var q = 0u; q < nq; q++) {
        if ((p.flags & 8u) != 0u) {
          cur[base + q] = prev[base + q];
        } else {
          fin[base + q] = prev[base + q];
        }
      }
    }
  }
  if (atomicSub(&gate[G_RUNNING], 1u) != 1u) { return; }
  let ran = p.t - 1u;
  atomicStore(&gate[G_RUN], ran);
  for (var w = G_QUADS; w < G_BACK; w++) { atomicStore(&gate[w], 0u); }
  for (var w = G_BACK + 3u * (ran + 1u); w < G_BACK + 3u * (p.max_iter + 1u); w++) {
    atomicStore(&gate[w], 0u);
  }
}

// One invocation per row: zero the entries of mat outside the valid block.
@compute @workgroup_size(WG)
fn sinkhorn_mask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
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
@compute @workgroup_size(WG)
fn sinkhorn_col_sums(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
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
@compute @workgroup_size(WG)
fn sinkhorn_row_step(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
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
@compute @workgroup_size(WG)
fn sinkhorn_back_rows(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
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
@compute @workgroup_size(WG)
fn sinkhorn_back_cols(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let g = linear_index(wid, nwg, lid, WG);
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
