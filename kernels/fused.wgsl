// Fused chains of a training step (src/ops/fused.ts): each entry does in one dispatch what the
// unfused ops of kernels/elementwise.wgsl and kernels/reduce.wgsl do in two or more.
// Matrices are row-major rows x cols. The column-parallel entries (one invocation per column, or
// per column and block of ROW_BLOCK rows) have neighbouring lanes read neighbouring addresses and
// need no integer division per element; one invocation per column also lets the same pass sum a
// column (the bias gradient).

// GELU, tanh approximation, as kernels/elementwise.wgsl (0.5 x (1 + tanh(...))).
fn fused_gelu_tanh(x: f32) -> f32 {
  return tanh(clamp(GELU_C * (x + 0.044715 * x * x * x), -15.0, 15.0));
}

// act(h) for p.act (ACT_NONE, ACT_RELU, ACT_GELU).
fn act_forward(h: f32) -> f32 {
  if (p.act == ACT_RELU) { return max(h, 0.0); }
  if (p.act == ACT_GELU) { return 0.5 * h * (1.0 + fused_gelu_tanh(h)); }
  return h;
}

// act'(h) for p.act.
fn act_derivative(h: f32) -> f32 {
  if (p.act == ACT_RELU) { return select(0.0, 1.0, h > 0.0); }
  if (p.act == ACT_GELU) {
    let t = fused_gelu_tanh(h);
    let dinner = GELU_C * (1.0 + 3.0 * 0.044715 * h * h);
    return 0.5 * (1.0 + t) + 0.5 * h * (1.0 - t * t) * dinner;
  }
  return 1.0;
}

// The column-block entries: invocation k takes column k % cols (x) and the rows [y, z) of block
// k / cols (none past the last block).
fn column_block(k: u32) -> vec3<u32> {
  let start = min((k / p.cols) * ROW_BLOCK, p.rows);
  return vec3<u32>(k % p.cols, start, min(start + ROW_BLOCK, p.rows));
}

// out[i, j] = act(a[i, j] + b[j]), by column blocks.
@compute @workgroup_size(WG)
fn bias_act(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let cb = column_block(linear_index(wid, nwg, lid, WG));
  let j = cb.x;
  let bj = b[j];
  for (var i = cb.y; i < cb.z; i++) {
    let at = i * p.cols + j;
    out[at] = act_forward(a[at] + bj);
  }
}

// Backward of bias_act, one invocation per column j (a = pre-bias input x, b = bias, c = upstream
// gradient g): out[i, j] = g[i, j] * act'(x[i, j] + b[j]) and the bias gradient
// out2[j] = sum_i out[i, j].
@compute @workgroup_size(WG)
fn bias_act_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.cols) { return; }
  let bj = b[j];
  var s = 0.0;
  for (var i = 0u; i < p.rows; i++) {
    let at = i * p.cols + j;
    let d = c[at] * act_derivative(a[at] + bj);
    out[at] = d;
    s += d;
  }
  out2[j] = s;
}

// h[i, j] = a[i, j] + b[j] (b only when p.has_bias).
fn biased(at: u32, j: u32) -> f32 {
  if (p.has_bias == 1u) { return a[at] + b[j]; }
  return a[at];
}

// Row L2 normalisation of h = a + b, one invocation per row: out[i, :] = h / max(||h||, eps), with
// the norm scale-robust as kernels/reduce.wgsl's row_l2norm (max |h_j| first) where needed. Writes
// the row's factor to out2[i]: 1 / ||h|| when ||h|| > eps, else -1 / eps (the sign marks the branch
// for the backward).
@compute @workgroup_size(WG)
fn bias_l2norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  // One pass when the sum of squares is comfortably inside f32's range (no square overflowed, and
  // squares that underflowed are negligible next to it); else the scale-robust two passes.
  var s = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    let x = biased(base + j, j);
    s += x * x;
  }
  var factor = -1.0 / p.eps;
  if (s > 1e-30 && s < 1e30) {
    let n = sqrt(s);
    if (n > p.eps) { factor = 1.0 / n; }
  } else {
    var m = 0.0;
    for (var j = 0u; j < p.cols; j++) { m = max(m, abs(biased(base + j, j))); }
    if (m > 0.0) {
      let im = 1.0 / m;
      s = 0.0;
      for (var j = 0u; j < p.cols; j++) {
        let x = biased(base + j, j) * im;
        s += x * x;
      }
      let r = sqrt(s);
      // ||h|| > eps, tested as r > eps / m without forming m * r.
      if (r > p.eps / m) { factor = im / r; }
    }
  }
  let scale = abs(factor);
  for (var j = 0u; j < p.cols; j++) { out[base + j] = biased(base + j, j) * scale; }
  out2[i] = factor;
}

// Backward of bias_l2norm, one invocation per column j (a = output y, b = upstream gradient g,
// c = the row factors f of the forward, d = the row dot products y . g): out[i, j] =
// (g - y (y . g)) f where f > 0, g |f| where not; when p.has_bias, the bias gradient
// out2[j] = sum_i out[i, j].
@compute @workgroup_size(WG)
fn bias_l2norm_backward(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.cols) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.rows; i++) {
    let at = i * p.cols + j;
    let f = c[i];
    var gx = b[at] * -f;
    if (f > 0.0) { gx = (b[at] - a[at] * d[i]) * f; }
    out[at] = gx;
    s += gx;
  }
  if (p.has_bias == 1u) { out2[j] = s; }
}

// Scaled log-sum-exp of every row and every column: out[i] = log sum_j exp(alpha a[i, j]) for
// i < rows, out[rows + j] = log sum_i exp(alpha a[i, j]). Invocation k < rows does row k, the
// others a column; a line of -inf gives -inf.
@compute @workgroup_size(WG)
fn lse_rows_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  if (k >= p.rows + p.cols) { return; }
  var start = k * p.cols;
  var stride = 1u;
  var count = p.cols;
  if (k >= p.rows) {
    start = k - p.rows;
    stride = p.cols;
    count = p.rows;
  }
  var m = -F32_MAX;
  for (var t = 0u; t < count; t++) { m = max(m, p.alpha * a[start + t * stride]); }
  var s = 0.0;
  for (var t = 0u; t < count; t++) { s += exp(p.alpha * a[start + t * stride] - m); }
  out[k] = m + log(s);
}

// Backward of lse_rows_cols (b = upstream gradient [rows + cols], c = its output):
// out[i, j] = alpha (b[i] exp(alpha a[i, j] - c[i]) + b[rows + j] exp(alpha a[i, j] - c[rows + j])).
// By column blocks.
@compute @workgroup_size(WG)
fn lse_rows_cols_backward(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let cb = column_block(linear_index(wid, nwg, lid, WG));
  let j = cb.x;
  let gc = b[p.rows + j];
  let lc = c[p.rows + j];
  for (var i = cb.y; i < cb.z; i++) {
    let at = i * p.cols + j;
    let x = p.alpha * a[at];
    out[at] = p.alpha * (b[i] * exp(x - c[i]) + gc * exp(x - lc));
  }
}

// Backward of the row dot products alpha sum_j a[i, j] b[i, j] (c = upstream gradient [rows]):
// out = alpha c[i] b[i, j] (a's gradient) and out2 = alpha c[i] a[i, j] (b's), in one pass.
// By column blocks.
@compute @workgroup_size(WG)
fn row_dot_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let cb = column_block(linear_index(wid, nwg, lid, WG));
  let j = cb.x;
  for (var i = cb.y; i < cb.z; i++) {
    let at = i * p.cols + j;
    let gi = p.alpha * c[i];
    out[at] = gi * b[at];
    out2[at] = gi * a[at];
  }
}
