// Row-wise and full reductions over a rows x cols row-major matrix.
// One invocation per row (or column, or chunk):
// on llvmpipe, barriers are costly, so each invocation loops serially over its slice.

// out[i] = alpha * sum_j a[i, j]
@compute @workgroup_size(WG)
fn row_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  var s = 0.0;
  let base = i * p.cols;
  for (var j = 0u; j < p.cols; j++) { s += a[base + j]; }
  out[i] = p.alpha * s;
}

// out[j] = alpha * sum_i a[i, j]
@compute @workgroup_size(WG)
fn col_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.cols) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.rows; i++) { s += a[i * p.cols + j]; }
  out[j] = p.alpha * s;
}

// out[i] = alpha * sum_j a[i, j] * b[i, j]   (row-wise dot products)
@compute @workgroup_size(WG)
fn row_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  var s = 0.0;
  let base = i * p.cols;
  for (var j = 0u; j < p.cols; j++) { s += a[base + j] * b[base + j]; }
  out[i] = p.alpha * s;
}

// out[i] = log sum_j exp(a[i, j]); a row of -inf gives -inf.
@compute @workgroup_size(WG)
fn row_logsumexp(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  var m = -F32_MAX;
  for (var j = 0u; j < p.cols; j++) { m = max(m, a[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.cols; j++) { s += exp(a[base + j] - m); }
  out[i] = m + log(s);
}

// out[i, j] = b[i] * exp(a[i, j] - c[i])   (backward of logsumexp: b = upstream grad, c = lse)
@compute @workgroup_size(WG)
fn row_logsumexp_backward(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  for (var j = 0u; j < p.cols; j++) { out[base + j] = b[i] * exp(a[base + j] - c[i]); }
}

// out[i, :] = softmax(a[i, :])
@compute @workgroup_size(WG)
fn row_softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  var m = -F32_MAX;
  for (var j = 0u; j < p.cols; j++) { m = max(m, a[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.cols; j++) { s += exp(a[base + j] - m); }
  let inv = 1.0 / s;
  for (var j = 0u; j < p.cols; j++) { out[base + j] = exp(a[base + j] - m) * inv; }
}

// out = y * (g - sum_j g_j y_j) per row   (a = softmax output y, b = upstream grad g)
@compute @workgroup_size(WG)
fn row_softmax_backward(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  var d = 0.0;
  for (var j = 0u; j < p.cols; j++) { d += a[base + j] * b[base + j]; }
  for (var j = 0u; j < p.cols; j++) { out[base + j] = a[base + j] * (b[base + j] - d); }
}

// The norm of row `base` as (m, r) with ||x|| = m * r: m = max |x_j| and r = sqrt(sum (x_j / m)^2),
// so no square overflows or underflows for any finite row (1e19 and 1e-15 scale alike); (0, 0) for
// a zero row.
fn row_norm_parts(base: u32, cols: u32) -> vec2<f32> {
  var m = 0.0;
  for (var j = 0u; j < cols; j++) { m = max(m, abs(a[base + j])); }
  if (m == 0.0) { return vec2<f32>(0.0, 0.0); }
  let im = 1.0 / m;
  var s = 0.0;
  for (var j = 0u; j < cols; j++) {
    let x = a[base + j] * im;
    s += x * x;
  }
  return vec2<f32>(m, sqrt(s));
}

// out[i, :] = a[i, :] / max(||a[i, :]||, eps), with the norm computed scale-robustly
// (row_norm_parts): y_j = (x_j / m) / r when ||x|| > eps.
@compute @workgroup_size(WG)
fn row_l2norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  let mr = row_norm_parts(base, p.cols);
  // ||x|| > eps, tested as r > eps / m without forming m * r.
  if (mr.x > 0.0 && mr.y > p.eps / mr.x) {
    let inv = (1.0 / mr.x) / mr.y;
    for (var j = 0u; j < p.cols; j++) { out[base + j] = a[base + j] * inv; }
  } else {
    for (var j = 0u; j < p.cols; j++) { out[base + j] = a[base + j] / p.eps; }
  }
}

// Backward of row_l2norm (a = input x, b = upstream grad g). With n = ||x||:
// n > eps: (g - y (y . g)) / n with y = x / n;  n <= eps: g / eps.
@compute @workgroup_size(WG)
fn row_l2norm_backward(@builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let base = i * p.cols;
  let mr = row_norm_parts(base, p.cols);
  if (!(mr.x > 0.0 && mr.y > p.eps / mr.x)) {
    for (var j = 0u; j < p.cols; j++) { out[base + j] = b[base + j] / p.eps; }
    return;
  }
  let inv = (1.0 / mr.x) / mr.y;
  var yg = 0.0;
  for (var j = 0u; j < p.cols; j++) { yg += a[base + j] * inv * b[base + j]; }
  for (var j = 0u; j < p.cols; j++) {
    out[base + j] = (b[base + j] - a[base + j] * inv * yg) * inv;
  }
}

// out[k] = alpha * sum of a[k * cols .. min((k + 1) * cols, rows)), for k < ceil(rows / cols).
// Here `rows` is the element count and `cols` the chunk length; repeated until one value remains.
@compute @workgroup_size(WG)
fn chunk_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  let start = k * p.cols;
  if (start >= p.rows) { return; }
  let end = min(start + p.cols, p.rows);
  var s = 0.0;
  for (var i = start; i < end; i++) { s += a[i]; }
  out[k] = p.alpha * s;
}
