// Elementwise kernels over flat f32 arrays.
// One invocation per element (linear_index); b is unset where an entry reads no second input.

// out = alpha * a + beta * b
@compute @workgroup_size(WG)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i] + p.beta * b[i]; }
}

// out = alpha * a * b
@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i] * b[i]; }
}

// out = alpha * a + beta
@compute @workgroup_size(WG)
fn affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i] + p.beta; }
}

// out = alpha * a * b[0]  (scale by a one-element tensor)
@compute @workgroup_size(WG)
fn mul_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i] * b[0]; }
}

// out = a + b[i % cols]  (add a bias row to every row)
@compute @workgroup_size(WG)
fn add_row_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = a[i] + b[i % p.cols]; }
}

// out = exp(alpha * a)
@compute @workgroup_size(WG)
fn exp_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = exp(p.alpha * a[i]); }
}

// out = max(a, 0)
@compute @workgroup_size(WG)
fn relu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = max(a[i], 0.0); }
}

// out = b where a > 0, else 0   (a = relu input, b = upstream gradient)
@compute @workgroup_size(WG)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = select(0.0, b[i], a[i] > 0.0); }
}

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

fn gelu_tanh(x: f32) -> f32 {
  // tanh saturates: clamp its argument so exp() inside tanh never overflows.
  return tanh(clamp(GELU_C * (x + 0.044715 * x * x * x), -15.0, 15.0));
}

@compute @workgroup_size(WG)
fn gelu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) {
    let x = a[i];
    out[i] = 0.5 * x * (1.0 + gelu_tanh(x));
  }
}

// out = b * gelu'(a)
@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) {
    let x = a[i];
    let t = gelu_tanh(x);
    let dinner = GELU_C * (1.0 + 3.0 * 0.044715 * x * x);
    out[i] = b[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner);
  }
}

// out = alpha * a[0] for every element (backward of a full reduction)
@compute @workgroup_size(WG)
fn broadcast_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[0]; }
}

// out[i] = alpha * a[i / cols]   (each row filled with that row's value)
@compute @workgroup_size(WG)
fn broadcast_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i / p.cols]; }
}

// out[i] = alpha * a[i % cols]   (each row a copy of the vector a)
@compute @workgroup_size(WG)
fn broadcast_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = p.alpha * a[i % p.cols]; }
}
