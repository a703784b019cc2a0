// Row-wise layer norm over the last dim of a rows x cols row-major matrix, and its backward:
//   y = (x - mean) / sqrt(var + eps) * gamma + beta      (var: biased, over the row's cols values)
// What the bindings a, b, c, out, out2 hold is listed per entry point.
// One invocation per row (or per column chunk): on llvmpipe barriers are costly, so each
// invocation loops serially over its slice and no workgroup memory is used.

// Mean and 1 / sqrt(var + eps) of row i of a (two passes: no cancellation from E[x^2] - E[x]^2).
fn row_stats(i: u32) -> vec2<f32> {
  let base = i * p.cols;
  var s = 0.0;
  for (var j = 0u; j < p.cols; j++) { s += a[base + j]; }
  let mean = s / f32(p.cols);
  var v = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    let d = a[base + j] - mean;
    v += d * d;
  }
  return vec2<f32>(mean, inverseSqrt(v / f32(p.cols) + p.eps));
}

// Forward. a = x [rows, cols], b = gamma [cols], c = beta [cols]; out = y [rows, cols].
@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let st = row_stats(i);
  let base = i * p.cols;
  for (var j = 0u; j < p.cols; j++) {
    out[base + j] = (a[base + j] - st.x) * st.y * b[j] + c[j];
  }
}

// Backward to x. a = x, b = gamma, c = g (upstream gradient); out = dx [rows, cols],
// out2 = stats [rows, 2] (mean, rstd per row, reused by backward_params_partial).
// With xh = (x - mean) * rstd and gh = g * gamma:  dx = rstd * (gh - mean(gh) - xh * mean(gh * xh)).
@compute @workgroup_size(WG)
fn layernorm_backward_input(@builtin(workgroup_id) wid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.rows) { return; }
  let st = row_stats(i);
  out2[2u * i] = st.x;
  out2[2u * i + 1u] = st.y;
  let base = i * p.cols;
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    let gh = c[base + j] * b[j];
    sg += gh;
    sgx += gh * (a[base + j] - st.x) * st.y;
  }
  let inv_n = 1.0 / f32(p.cols);
  let mg = sg * inv_n;
  let mgx = sgx * inv_n;
  for (var j = 0u; j < p.cols; j++) {
    let xh = (a[base + j] - st.x) * st.y;
    out[base + j] = st.y * (c[base + j] * b[j] - mg - xh * mgx);
  }
}

// Partial parameter gradients over chunks of `chunk` rows. a = x, b = g, c = stats [rows, 2];
// out = partial [chunks, 2 * cols]: columns 0..cols-1 hold sum g * xh (dgamma), cols..2cols-1 hold
// sum g (dbeta). One invocation per (chunk, column).
@compute @workgroup_size(WG)
fn layernorm_backward_params_partial(@builtin(workgroup_id) wid: vec3<u32>,
                                     @builtin(num_workgroups) nwg: vec3<u32>,
                                     @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  let chunks = (p.rows + CHUNK - 1u) / CHUNK;
  if (e >= chunks * p.cols) { return; }
  let k = e / p.cols;
  let j = e - k * p.cols;
  let start = k * CHUNK;
  let end = min(start + CHUNK, p.rows);
  var dg = 0.0;
  var db = 0.0;
  for (var i = start; i < end; i++) {
    let g = b[i * p.cols + j];
    dg += g * (a[i * p.cols + j] - c[2u * i]) * c[2u * i + 1u];
    db += g;
  }
  out[k * 2u * p.cols + j] = dg;
  out[k * 2u * p.cols + p.cols + j] = db;
}

// Sums the partials. a = partial [chunks, 2 * cols]; out = dgamma [cols], out2 = dbeta [cols].
@compute @workgroup_size(WG)
fn layernorm_backward_params_finish(@builtin(workgroup_id) wid: vec3<u32>,
                                    @builtin(num_workgroups) nwg: vec3<u32>,
                                    @builtin(local_invocation_index) lid: u32) {
  let j = linear_index(wid, nwg, lid, WG);
  if (j >= p.cols) { return; }
  let chunks = (p.rows + CHUNK - 1u) / CHUNK;
  var dg = 0.0;
  var db = 0.0;
  for (var k = 0u; k < chunks; k++) {
    dg += a[k * 2u * p.cols + j];
    db += a[k * 2u * p.cols + p.cols + j];
  }
  out[j] = dg;
  out2[j] = db;
}
