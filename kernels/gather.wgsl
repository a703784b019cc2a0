// Row gather and its adjoint (scatter-add), over row-major matrices of `cols` columns.

// out[r, :] = src[idx[r], :]; one invocation per output element.
@compute @workgroup_size(WG)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  if (e >= p.rows * p.cols) { return; }
  let r = e / p.cols;
  let c = e - r * p.cols;
  out[e] = src[idx[r] * p.cols + c];
}

// gather_rows when cols is a multiple of 4: one invocation per quad of an output row (a vec4 load
// and store; on llvmpipe a load whose address varies per lane is a loop over the lanes, so four
// elements per load cost what one did).
@compute @workgroup_size(WG)
fn gather_rows4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  let cq = p.cols / 4u;
  if (e >= p.rows * cq) { return; }
  let r = e / cq;
  let c = e - r * cq;
  out4[e] = src4[idx[r] * cq + c];
}

// Adjoint of gather: out[s, :] = sum over r with idx[r] = s of src[r, :]. The host passes the
// inverse map in CSR form: rows r listed in idx[offsets[s] .. offsets[s + 1]). One invocation per
// output element, so no atomics are needed.
@compute @workgroup_size(WG)
fn scatter_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let e = linear_index(wid, nwg, lid, WG);
  if (e >= p.rows * p.cols) { return; }
  let s = e / p.cols;
  let c = e - s * p.cols;
  var acc = 0.0;
  for (var k = offsets[s]; k < offsets[s + 1u]; k++) { acc += src[idx[k] * p.cols + c]; }
  out[e] = acc;
}
