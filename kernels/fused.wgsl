// Fused chains of a training step (src/ops/fused.ts): each entry does in one dispatch what the
// unfused ops of kernels/elementwise.wgsl and kernels/reduce.wgsl do in two or more.
// Matrices are row-major rows x cols. The elementwise entries are grid entries (one invocation
// per element, column from x and row from y: no integer division per element); the column-parallel
// ones (one invocation per column, looping over the rows) also sum their column in the same pass
// (the bias gradient).

// GELU, tanh approximation, as kernels/elementwise.wgsl (0.5 x (1 + tanh(...))), four at a time.
fn fused_gelu_tanh(x: vec4<f32>) -> vec4<f32> {
  return tanh(clamp(GELU_C * (x + 0.044715 * x * x * x), vec4<f32>(-15.0), vec4<f32>(15.0)));
}

// act(h) for p.act (ACT_NONE, ACT_RELU, ACT_GELU), four at a time (the quad entries; the scalar
// entries splat).
fn act_forward4(h: vec4<f32>) -> vec4<f32> {
  if (p.act == ACT_RELU) { return max(h, vec4<f32>(0.0)); }
  if (p.act == ACT_GELU) { return 0.5 * h * (1.0 + fused_gelu_tanh(h)); }
  return h;
}

// act'(h) for p.act, four at a time.
fn act_derivative4(h: vec4<f32>) -> vec4<f32> {
  if (p.act == ACT_RELU) { return select(vec4<f32>(0.0), vec4<f32>(1.0), h > vec4<f32>(0.0)); }
  if (p.act == ACT_GELU) {
    let t = fused_gelu_tanh(h);
    let dinner = GELU_C * (1.0 + 3.0 * 0.044715 * h * h);
    return 0.5 * (1.0 + t) + 0.5 * h * (1.0 - t * t) * dinner;
  }
  return vec4<f32>(1.0);
}

fn act_forward(h: f32) -> f32 { return act_forward4(vec4<f32>(h)).x; }

fn act_derivative(h: f32) -> f32 { return act_derivative4(vec4<f32>(h)).x; }

// The element of a grid entry (a 2-D dispatch of ceil(cols / WG) x rows workgroups, rows spread
// over y and z when over 65535, see grid2d in src/ops/fused.ts): column x = wid.x * WG + lid and
// row y = wid.y + wid.z * nwg.y, with no integer division per element; x >= cols or y >= rows is
// past the matrix.
fn grid_element(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> vec2<u32> {
  return vec2<u32>(wid.x * WG + lid, wid.y + wid.z * nwg.y);
}

// out[i, j] = act(a[i, j] + b[j]), one invocation per element (a grid entry).
@compute @workgroup_size(WG)
fn bias_act(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let e = grid_element(wid, nwg, lid);
  if (e.x >= p.cols || e.y >= p.rows) { return; }
  let at = e.y * p.cols + e.x;
  out[at] = act_forward(a[at] + b[e.x]);
}

// bias_act when cols is a multiple of 4: one invocation per quad of a row (grid over cols / 4).
@compute @workgroup_size(WG)
fn bias_act4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = grid_element(wid, nwg, lid);
  let cq = p.cols / 4u;
  if (e.x >= cq || e.y >= p.rows) { return; }
  let at = e.y * cq + e.x;
  out4[at] = act_forward4(a4[at] + b4[e.x]);
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

// bias_act_backward when cols is a multiple of 4: one invocation per quad of columns.
@compute @workgroup_size(WG)
fn bias_act_backward4(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  let cq = p.cols / 4u;
  if (j >= cq) { return; }
  let bj = b4[j];
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < p.rows; i++) {
    let at = i * cq + j;
    let d = c4[at] * act_derivative4(a4[at] + bj);
    out4[at] = d;
    s += d;
  }
  out24[j] = s;
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

// h[i, 4q .. 4q + 3] for the quad at a4[at] (b4[q] added only when p.has_bias).
fn biased4(at: u32, q: u32) -> vec4<f32> {
  if (p.has_bias == 1u) { return a4[at] + b4[q]; }
  return a4[at];
}

// x . x summed component by component onto s, in the scalar loop's order (bit-identical sums).
fn add_squares(s: f32, x: vec4<f32>) -> f32 {
  return (((s + x.x * x.x) + x.y * x.y) + x.z * x.z) + x.w * x.w;
}

// bias_l2norm when cols is a multiple of 4: a quad per load and store (on llvmpipe each storage
// access is a loop over the lanes), the same sums in the same order, so the same bits.
@compute @workgroup_size(WG)
fn bias_l2norm4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let cq = p.cols / 4u;
  let base = i * cq;
  var s = 0.0;
  for (var q = 0u; q < cq; q++) { s = add_squares(s, biased4(base + q, q)); }
  var factor = -1.0 / p.eps;
  if (s > 1e-30 && s < 1e30) {
    let n = sqrt(s);
    if (n > p.eps) { factor = 1.0 / n; }
  } else {
    var m = vec4<f32>(0.0);
    for (var q = 0u; q < cq; q++) { m = max(m, abs(biased4(base + q, q))); }
    let mm = max(max(m.x, m.y), max(m.z, m.w));
    if (mm > 0.0) {
      let im = 1.0 / mm;
      s = 0.0;
      for (var q = 0u; q < cq; q++) { s = add_squares(s, biased4(base + q, q) * im); }
      let r = sqrt(s);
      if (r > p.eps / mm) { factor = im / r; }
    }
  }
  let scale = abs(factor);
  for (var q = 0u; q < cq; q++) { out4[base + q] = biased4(base + q, q) * scale; }
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

// Backward of lse_rows_cols (b = upstream gradient [rows + cols], c = its output), a grid entry:
// out[i, j] = alpha (b[i] exp(alpha a[i, j] - c[i]) + b[rows + j] exp(alpha a[i, j] - c[rows + j])).
@compute @workgroup_size(WG)
fn lse_rows_cols_backward(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let e = grid_element(wid, nwg, lid);
  if (e.x >= p.cols || e.y >= p.rows) { return; }
  let at = e.y * p.cols + e.x;
  let x = p.alpha * a[at];
  out[at] = p.alpha * (b[e.y] * exp(x - c[e.y]) + b[p.rows + e.x] * exp(x - c[p.rows + e.x]));
}

// Backward of the row dot products alpha sum_j a[i, j] b[i, j] (c = upstream gradient [rows]), a
// grid entry: out = alpha c[i] b[i, j] (a's gradient) and out2 = alpha c[i] a[i, j] (b's).
@compute @workgroup_size(WG)
fn row_dot_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let e = grid_element(wid, nwg, lid);
  if (e.x >= p.cols || e.y >= p.rows) { return; }
  let at = e.y * p.cols + e.x;
  let gi = p.alpha * c[e.y];
  out[at] = gi * b[at];
  out2[at] = gi * a[at];
}
