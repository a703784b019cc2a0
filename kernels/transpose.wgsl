// out[j, i] = a[i, j] for a rows x cols matrix. One invocation per element of out, reading a column.

struct Params {
  rows: u32,
  cols: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (e >= p.rows * p.cols) { return; }
  let j = e / p.rows;      // row of out
  let i = e - j * p.rows;  // column of out
  out[e] = a[i * p.cols + j];
}
