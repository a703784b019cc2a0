// Row gather and its adjoint (scatter-add), over row-major matrices of `cols` columns.
// Bindings: src (read), index (read, u32 as bits in f32 storage is avoided: a separate u32 array),
// offsets (read), out (read_write), params.

struct Params {
  rows: u32,   // rows of out (gather) or of the source matrix (scatter)
  cols: u32,
  src_rows: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// out[r, :] = src[idx[r], :]; one invocation per output element.
@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (e >= p.rows * p.cols) { return; }
  let r = e / p.cols;
  let c = e - r * p.cols;
  out[e] = src[idx[r] * p.cols + c];
}

// Adjoint of gather: out[s, :] = sum over r with idx[r] = s of src[r, :]. The host passes the
// inverse map in CSR form: rows r listed in idx[offsets[s] .. offsets[s + 1]). One invocation per
// output element, so no atomics are needed.
@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (e >= p.rows * p.cols) { return; }
  let s = e / p.cols;
  let c = e - s * p.cols;
  var acc = 0.0;
  for (var k = offsets[s]; k < offsets[s + 1u]; k++) { acc += src[idx[k] * p.cols + c]; }
  out[e] = acc;
}
