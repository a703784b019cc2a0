// Kernel declarations (src/gpu/declare.ts): the generated header (prelude, WG, constants, Params,
// bindings and views) compiles and runs; TypeScript reads the declared constants; a wrong entry,
// binding, parameter or override name is a type error (`@ts-expect-error` below: `deno check`
// fails if any of those lines type-checks) and, for untyped callers, a runtime error. A sampler
// binding is bound by the runtime, and a sample at a texel's centre returns the texel exactly.

import { assertAllClose, assertEquals, assertRejects, assertThrows, gpuTest } from "./util.ts";
import { declareKernel, read, readWrite, sampler, texture } from "../src/gpu/declare.ts";
import { defineWgslSource, wgslSource } from "../src/gpu/kernel.ts";
import { ELEMENTWISE, MATMUL, MATMUL_TEX } from "../src/gpu/kernels.ts";
import { f32, PRELUDE, u32 } from "../src/gpu/prelude.ts";
import { rt } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/autodiff/tensor.ts";

defineWgslSource(
  "declare_test",
  `// out[i] = x[i] * p.scale + SHIFT + i, read once as f32 and once through the vec4 view x4
@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = x[i] * p.scale + SHIFT + f32(i + ZERO); }
}

@compute @workgroup_size(WG)
fn fill4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < p.n) { out[i] = x4[i / 4u][i % 4u] * p.scale + SHIFT + f32(i + ZERO); }
}
`,
);

const TEST = declareKernel({
  file: "declare_test",
  entries: ["fill", "fill4"],
  workgroupSize: 32,
  bindings: { x: read("f32", { views: { x4: "vec4<f32>" } }), out: readWrite("f32") },
  params: { n: "u32", scale: "f32" },
  constants: { SHIFT: f32(0.5), ZERO: u32(0) },
});

gpuTest("a declared kernel compiles from its generated header and runs", async () => {
  assertEquals(TEST.constants.SHIFT, 0.5);
  const source = wgslSource("declare_test");
  for (
    const line of [
      "const WG: u32 = 32u;",
      "const SHIFT: f32 = 0.5;",
      `const EPS: f32 = ${PRELUDE.EPS};`,
      "@group(0) @binding(0) var<storage, read> x: array<f32>;",
      "@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;",
      "@group(0) @binding(1) var<storage, read_write> out: array<f32>;",
      "@group(0) @binding(2) var<uniform> p: Params;",
    ]
  ) {
    assertEquals(source.includes(line), true, `generated header has "${line}"`);
  }
  const n = 70; // more than two workgroups of 32
  const x = Tensor.from(Array.from({ length: n }, (_, i) => i / 10));
  for (const entry of ["fill", "fill4"] as const) {
    const out = Tensor.zeros([n]);
    TEST.launch(entry, { x, out }, { n, scale: 2 }, n);
    const expected = Array.from({ length: n }, (_, i) => (i / 10) * 2 + 0.5 + i);
    assertAllClose(await out.read(), expected, { atol: 1e-5 }, entry);
    out.dispose();
  }
  x.dispose();
});

gpuTest("a compile error in a declared kernel names the line of its own file", async () => {
  defineWgslSource(
    "declare_broken",
    "@compute @workgroup_size(WG)\nfn main() {\n  let x: f32 = 1u;\n}\n",
  );
  const BROKEN = declareKernel({
    file: "declare_broken",
    entries: ["main"],
    workgroupSize: 1,
    bindings: {},
  });
  await assertRejects(
    () => rt().compile(BROKEN.spec("main")),
    /declare_broken\.wgsl:main.*\n.*line 3:/,
  );
});

gpuTest("a wrong entry, binding, parameter or override name is a type error and is refused", () => {
  const a = Tensor.zeros([4]);
  const out = Tensor.zeros([4]);
  const p = { n: 4 };
  // @ts-expect-error: ELEMENTWISE has no entry `relu2`
  assertThrows(() => ELEMENTWISE.launch("relu2", { a, out }, p, 4), /no declared entry/);
  // @ts-expect-error: ELEMENTWISE has no binding `x`
  assertThrows(() => ELEMENTWISE.launch("relu", { a, out, x: a }, p, 4), /binding 'x'/);
  // @ts-expect-error: the binding `a` is required
  assertThrows(() => ELEMENTWISE.launch("relu", { out }, p, 4), /'a' is required/);
  // @ts-expect-error: ELEMENTWISE has no parameter `m`
  assertThrows(() => ELEMENTWISE.launch("relu", { a, out }, { m: 4 }, 4), /parameter 'm'/);
  const mm = { a, b: a, c: out };
  // @ts-expect-error: MATMUL has no override `TN`
  assertThrows(() => MATMUL.dispatch("mm_nn", mm, {}, [1], { TN: 4 }), /override 'TN'/);
  [a, out].forEach((t) => t.dispose());
});

defineWgslSource(
  "declare_texels",
  `// out[y w + x] = texel (x, y) of t, sampled at its centre through the runtime's nearest sampler
@compute @workgroup_size(WG)
fn texels(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= p.w * p.h) { return; }
  let at = vec2<f32>(f32(i % p.w), f32(i / p.w));
  let inv = 1.0 / vec2<f32>(textureDimensions(t));
  out[i] = textureSampleLevel(t, nearest, (at + 0.5) * inv, 0.0);
}
`,
);

const TEXELS = declareKernel({
  file: "declare_texels",
  entries: ["texels"],
  workgroupSize: 64,
  bindings: { t: texture(), nearest: sampler(), out: readWrite("vec4<f32>") },
  params: { w: "u32", h: "u32" },
});

gpuTest(
  "a sampler binding is the runtime's nearest sampler: texel centres read back exactly",
  async () => {
    const source = wgslSource("declare_texels");
    for (
      const line of [
        "@group(0) @binding(0) var t: texture_2d<f32>;",
        "@group(0) @binding(1) var nearest: sampler;",
        "@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;",
      ]
    ) {
      assertEquals(source.includes(line), true, `generated header has "${line}"`);
    }
    const device = rt().device;
    // Sides as the matmul's operand textures have them (powers of two) and not.
    // The device's largest side minus one: the widest side that is not a power of two, where the
    // centre's coordinate (x + 0.5) / w rounds the most.
    const widest = device.limits.maxTextureDimension2D - 1;
    for (const [w, h] of [[1, 1], [7, 5], [64, 3], [4095, 2], [4096, 1], [widest, 1]]) {
      const values = new Float32Array(w * h * 4).map((_, i) =>
        (i % 3 === 0 ? -1 : 1) * Math.fround(1 / (i + 3)) * 2 ** ((i % 61) - 30)
      );
      const tex = device.createTexture({
        size: [w, h],
        format: "rgba32float",
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
      });
      device.queue.writeTexture({ texture: tex }, values, { bytesPerRow: w * 16 }, [w, h]);
      const out = Tensor.zeros([w * h * 4]);
      TEXELS.launch("texels", { t: tex.createView(), out }, { w, h }, w * h);
      const got = await out.read();
      const bad = values.findIndex((v, i) => !Object.is(got[i], v));
      assertEquals(
        bad,
        -1,
        `${w}×${h}: texel component ${bad} reads ${got[bad]}, not ${values[bad]}`,
      );
      out.dispose();
      tex.destroy();
    }
  },
);

gpuTest("a sampler binding is not passed at launch", () => {
  const device = rt().device;
  const tex = device.createTexture({
    size: [1, 1],
    format: "rgba32float",
    usage: GPUTextureUsage.TEXTURE_BINDING,
  });
  const out = Tensor.zeros([4]);
  const [t, nearest] = [tex.createView(), rt().nearestSampler];
  assertThrows(
    // @ts-expect-error: `nearest` is bound by the runtime
    () => TEXELS.launch("texels", { t, out, nearest }, { w: 1, h: 1 }, 1),
    /runtime's sampler/,
  );
  assertEquals("nearest" in MATMUL_TEX.decl.bindings, true, "the matmul reads through it");
  out.dispose();
  tex.destroy();
});
