// AdamW update (decoupled weight decay, optionally toward an anchor such as the initial weights),
// with bias correction, gradient scaling for global-norm clipping, and an optional value clamp.
// Per-step values (learning rate, bias corrections) come from a small storage buffer written once
// per step, so the uniform block stays constant and its buffer is reused.

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  // scale 0 marks a step whose gradient norm was not finite: skip it entirely (NaN * 0 is NaN).
  if (scale[0] == 0.0) { return; }
  let lr = step[0];
  let g = grad[i] * scale[0];
  var w = param[i];
  let center = select(0.0, anchor[i], p.use_anchor == 1u);
  w -= lr * p.weight_decay * (w - center);
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  w -= lr * (m * step[1]) / (sqrt(v * step[2]) + p.eps);
  param[i] = clamp(w, p.clamp_min, p.clamp_max);
}

// Global-norm clipping and the non-finite guard:
// param[0] = min(1, max_norm / (sqrt(sum of the k partial sums in grad) + 1e-6)), with p.n = k and
// p.eps = max_norm (0: no clipping). A non-finite norm zeroes this step's update (so NaN never
// reaches the weights) and records the step number (step[3]) in m1[0] if it is still 0; training
// reads that flag with the loss and stops, naming the step.
@compute @workgroup_size(1)
fn clip_scale() {
  var s = 0.0;
  for (var i = 0u; i < p.n; i++) { s += grad[i]; }
  let norm = sqrt(s);
  var f = 1.0;
  if (p.eps > 0.0 && norm > p.eps) { f = p.eps / (norm + 1e-6); }
  if (!(norm <= 3.4e38)) {
    f = 0.0;
    if (m1[0] == 0.0) { m1[0] = step[3]; }
  }
  param[0] = f;
}

// ---- The fused update: every parameter in one dispatch, four elements per invocation ----
// The optimiser keeps weights, gradients, moments (and anchors) of all its parameters in flat
// arrays, each parameter a segment padded to a multiple of CHUNK elements, so that a chunk (one
// workgroup, WG invocations of one vec4 each) lies in one segment; these entries read the arrays
// through the vec4 views (`param4`, …): on llvmpipe a load whose address varies per lane costs a
// loop over the lanes, whatever its width. `segs` holds SEG_WORDS words per segment (start, size,
// flags: bit 0 the parameter has a gradient this step, then weight decay, clamp min and clamp max
// as f32 bits), then, from p.segments · SEG_WORDS, the segment of each chunk. A segment without a
// gradient this step is left as it is: weights and moments neither decayed nor updated.
// clip_scale turns sumsq_flat's partial sums into the clipping factor between the two.

fn chunk_segment(chunk: u32) -> u32 {
  return segs[p.segments * SEG_WORDS + chunk] * SEG_WORDS;
}

// Sums of squares of the active gradients, per chunk and per component: param4[chunk] (a vec4
// whose four sums clip_scale adds up; p.n = flat length in elements).
@compute @workgroup_size(WG)
fn sumsq_flat(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid, WG);
  if (k >= p.n / CHUNK) { return; }
  let s = chunk_segment(k);
  var acc = vec4<f32>(0.0);
  if ((segs[s + 2u] & 1u) != 0u) {
    let q0 = k * (CHUNK / 4u);
    for (var j = 0u; j < CHUNK / 4u; j++) {
      let g = grad4[q0 + j];
      acc += g * g;
    }
  }
  param4[k] = acc;
}

// AdamW over the flat arrays, with each segment's weight decay and clamp (p.n = flat length in
// elements, a multiple of CHUNK).
@compute @workgroup_size(WG)
fn adamw_flat(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  // The chunk is the workgroup: the segment's words are then the same for every lane.
  let chunk = wid.x + wid.y * nwg.x;
  let i = chunk * WG + lid;
  if (i >= p.n / 4u) { return; }
  if (scale[0] == 0.0) { return; }
  let s = chunk_segment(chunk);
  if ((segs[s + 2u] & 1u) == 0u) { return; }
  let weight_decay = bitcast<f32>(segs[s + 3u]);
  let lr = step[0];
  let g = grad4[i] * scale[0];
  var w = param4[i];
  let center = select(vec4<f32>(0.0), anchor4[i], p.use_anchor == 1u);
  w -= lr * weight_decay * (w - center);
  let m = p.beta1 * m1_4[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2_4[i] + (1.0 - p.beta2) * g * g;
  m1_4[i] = m;
  m2_4[i] = v;
  w -= lr * (m * step[1]) / (sqrt(v * step[2]) + p.eps);
  let lo = bitcast<f32>(segs[s + 4u]);
  let hi = bitcast<f32>(segs[s + 5u]);
  param4[i] = clamp(w, vec4<f32>(lo), vec4<f32>(hi));
}
