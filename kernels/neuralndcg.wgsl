// NeuralNDCG (allRank neuralNDCG and neuralNDCG_transposed) on NeuralSort's representation: the
// fused Sinkhorn iterations and loss, their backward, and the soft DCG of a materialised matrix
// (the plain path). The module includes kernels/neuralsort.wgsl, whose header describes the
// representation (sorted space, the large constants k0 and r0, the corrections kap and rho, tiles).

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
// (iters < t) skips its work: sinkhorn_check has handed its state to the final state. The host
// launches these from the gate's workgroup counts, which become 0 once every list has stopped.
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
  let nvq = quads_of(lmeta[m_at(b, NV)]);
  var acc = vec4<f32>(0.0);
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    acc = col_sums(b, s, k0, prev[at(KAP, b) + q], nvq, IN_PREV, W_ONE)[0];
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
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) { return; }
  let k = prev[at(KAP, b) + q];
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
  if (lmeta[m_at(b, ITERS)] < f32(p.t)) { return; }
  let nv = lmeta[m_at(b, NV)];
  let i0 = q * 4u;
  let valid = rows_valid(nv, i0);
  if (!valid.x) {
    cur[rq] = vec4<f32>(0.0);
    cur[at(RS, b) + q] = vec4<f32>(0.0);
    return;
  }
  let rs = prev[rq];
  let sums = row_sums(b, c4(nv, i0), items[at(R0, b) + q], rs, IN_CUR, W_ONE);
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
  let c = c4(lmeta[m_at(b, NV)], q * 4u);
  return row_sums(b, c, items[at(R0, b) + q], cur[at(RHO, b) + q], IN_CUR, W_GAIN);
}

// (M^T d)_j and (M^T (c d))_j for the 4 columns of quad q of list b, in the state bound as cur
// (rank rows below the cutoff only).
fn col_discounts(b: u32, q: u32) -> array<vec4<f32>, 3> {
  let s = items[at(SIG, b) + q];
  let k0 = items[at(K0, b) + q];
  let cq = quads_of(lmeta[m_at(b, CUT)]);
  return col_sums(b, s, k0, cur[at(KAP, b) + q], cq, IN_CUR, W_DISC);
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
  var ed = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
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
  let nvq = quads_of(lmeta[m_at(b, NV)]);
  // x = sum_i gbar_i E_ij, y = sum_i c_i gbar_i E_ij, w = sum_i c_i E_ij (kap of state t, rho of
  // state t - 1)
  var sums = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    sums = col_sums(b, s, k0, cur[at(KAP, b) + q], nvq, IN_PREV, W_GBAR);
  }
  let x = sums[0];
  let y = sums[1];
  let w = sums[2];
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
    let r0 = items[at(R0, b) + q];
    let z = row_sums(b, c4(nv, i0), r0, prev[at(RHO, b) + q], IN_PREV, W_H);
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
  let nvq = quads_of(lmeta[m_at(b, NV)]);
  var sums = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (q < nvq) {
    let s = items[at(SIG, b) + q];
    let k0 = items[at(K0, b) + q];
    sums = col_sums(b, s, k0, prev[at(KAP, b) + q], nvq, IN_PREV, W_ZETA);
  }
  work[at(A1, b) + q] = sums[0] - work[at(A1, b) + q];
  work[at(A2, b) + q] = work[at(A2, b) + q] - sums[1];
}

// ---------------------------------------------------------------------------------------------
// Plain path: the soft DCG of a materialised matrix (mat, slot order) and its gradient.

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
