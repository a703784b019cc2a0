// Loss `cmpm` (src/losses/cmpm.ts); its module includes kernels/losses.wgsl (label order, lane
// helpers, reductions).
//
// cmpm: KL(p || q), p = softmax(s), q_j = [y_j > 0] / #relevant, over valid items:
// loss = sum_j p_j (log p_j - log(q_j + CMPM_EPS)). Lists without a relevant item give 0.

// Per list: (number of relevant items, max score, log sum exp(s - max), KL); shared by both
// passes. log p_j = (s_j - max) - log sum: exact at +-1e30, unlike s_j - logsumexp.
fn cmpm_stats(base: u32) -> vec4<f32> {
  var m = -F32_MAX;
  var npos = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      m = max(m, s[base + j]);
      if (yj > 0.0) { npos += 1.0; }
    }
  }
  if (npos == 0.0) { return vec4<f32>(0.0, 0.0, 0.0, 0.0); }
  var z = 0.0;
  for (var j = 0u; j < p.n; j++) {
    if (valid(y[base + j])) { z += exp(s[base + j] - m); }
  }
  let lz = log(z);
  let logq_pos = log(1.0 / npos + CMPM_EPS);
  let logq_neg = log(CMPM_EPS);
  var kl = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    if (valid(yj)) {
      let lp = (s[base + j] - m) - lz;
      kl += exp(lp) * (lp - select(logq_neg, logq_pos, yj > 0.0));
    }
  }
  return vec4<f32>(npos, m, lz, kl);
}

@compute @workgroup_size(WG)
fn cmpm_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let st = cmpm_stats(l * p.n);
  o[l * 2u] = st.w;
  o[l * 2u + 1u] = select(0.0, 1.0, st.x > 0.0);
}

// d/ds_k = coef * p_k (log p_k - log(q_k + eps) - KL).  Out: o = grad.
@compute @workgroup_size(WG)
fn cmpm_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let l = linear_index(wid, nwg, lid, WG);
  if (l >= p.lists) { return; }
  let base = l * p.n;
  let coef = g[0] / den[0];
  let st = cmpm_stats(base);
  let logq_pos = log(1.0 / max(st.x, 1.0) + CMPM_EPS);
  let logq_neg = log(CMPM_EPS);
  for (var j = 0u; j < p.n; j++) {
    let yj = y[base + j];
    var d = 0.0;
    if (st.x > 0.0 && valid(yj)) {
      let lp = (s[base + j] - st.y) - st.z;
      d = coef * exp(lp) * (lp - select(logq_neg, logq_pos, yj > 0.0) - st.w);
    }
    o[base + j] = d;
  }
}
