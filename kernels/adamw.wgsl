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
