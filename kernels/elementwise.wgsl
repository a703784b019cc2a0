// Elementwise kernels over flat f32 arrays.
// Bindings: a (read), b (read), out (read_write), params. Unused inputs are bound to a dummy buffer.
// One invocation per element; linear index = (wid.x + wid.y * nwg.x) * 256 + lid (see groups1d).

struct Params {
  n: u32,       // element count
  cols: u32,    // row length, for row-broadcast ops
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + lid;
}

// out = alpha * a + beta * b
@compute @workgroup_size(256)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i] + p.beta * b[i]; }
}

// out = alpha * a * b
@compute @workgroup_size(256)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i] * b[i]; }
}

// out = alpha * a + beta
@compute @workgroup_size(256)
fn affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i] + p.beta; }
}

// out = alpha * a * b[0]  (scale by a one-element tensor)
@compute @workgroup_size(256)
fn mul_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i] * b[0]; }
}

// out = a + b[i % cols]  (add a bias row to every row)
@compute @workgroup_size(256)
fn add_row_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = a[i] + b[i % p.cols]; }
}

// out = exp(alpha * a)
@compute @workgroup_size(256)
fn exp_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = exp(p.alpha * a[i]); }
}

// out = max(a, 0)
@compute @workgroup_size(256)
fn relu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = max(a[i], 0.0); }
}

// out = b where a > 0, else 0   (a = relu input, b = upstream gradient)
@compute @workgroup_size(256)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = select(0.0, b[i], a[i] > 0.0); }
}

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
const GELU_C: f32 = 0.7978845608028654;

fn gelu_tanh(x: f32) -> f32 {
  // tanh saturates: clamp its argument so exp() inside tanh never overflows.
  return tanh(clamp(GELU_C * (x + 0.044715 * x * x * x), -15.0, 15.0));
}

@compute @workgroup_size(256)
fn gelu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) {
    let x = a[i];
    out[i] = 0.5 * x * (1.0 + gelu_tanh(x));
  }
}

// out = b * gelu'(a)
@compute @workgroup_size(256)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) {
    let x = a[i];
    let t = gelu_tanh(x);
    let dinner = GELU_C * (1.0 + 3.0 * 0.044715 * x * x);
    out[i] = b[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner);
  }
}

// out = alpha * a[0] for every element (backward of a full reduction)
@compute @workgroup_size(256)
fn broadcast_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[0]; }
}

// out[i] = alpha * a[i / cols]   (each row filled with that row's value)
@compute @workgroup_size(256)
fn broadcast_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i / p.cols]; }
}

// out[i] = alpha * a[i % cols]   (each row a copy of the vector a)
@compute @workgroup_size(256)
fn broadcast_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i % p.cols]; }
}
