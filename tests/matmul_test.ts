import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
} from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { rt } from "../src/gpu/runtime.ts";
import { expandUnrolls } from "../src/gpu/kernel.ts";
import {
  clearMatmulTuning,
  cpuAdapter,
  forcedPath,
  type ForcedPlan,
  matmul,
  MATMUL_PATHS,
  matmulNtInto,
  matmulPlan,
  planKey,
  planOf,
  shapeClass,
  storeConstants,
  textureSide,
  tuneMatmul,
} from "../src/ops/matmul.ts";
import { matmulRef } from "../src/reference/matmul.ts";

// Tolerance: f32 accumulation over K terms of N(0,1)·N(0,1) products; error grows ~ sqrt(K)·ε.
const TOL = (k: number) => ({ atol: 1e-5 * Math.sqrt(k) * 4, rtol: 1e-4 });

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [3, 5, 7],
  [17, 13, 1],
  [33, 65, 31],
  [64, 64, 64],
  [5, 3, 2049], // large K
  [130, 67, 9],
  // Around the blocked kernel's tiles (MATMUL_TILES: 32, 16, 8 or 4 rows × 256 or 64 columns per
  // workgroup, direct or transposed), K not a multiple of 4 (zero-padded operands), 1×N, M×1, and
  // K = 1 with a large output.
  [17, 129, 3],
  [40, 300, 37],
  [65, 257, 65],
  [1, 1000, 7],
  [1000, 1, 9],
  [300, 400, 1],
  [250, 120, 33], // runs as its transpose (the dual product) on the large tile
  // C stored a vec4 at a time (VROWS: N a multiple of 4; VCOLS, transposed output: M one), with the
  // last block's rows or columns partly outside C.
  [38, 44, 6],
  [37, 44, 6],
];

Deno.test("storeConstants: vec4 stores only where C's written rows or columns are whole quads", () => {
  assertEquals(storeConstants(false, 3, 8), { VROWS: 1, VCOLS: 0 });
  assertEquals(storeConstants(false, 8, 6), { VROWS: 0, VCOLS: 0 });
  assertEquals(storeConstants(true, 8, 3), { VROWS: 0, VCOLS: 1 });
  assertEquals(storeConstants(true, 6, 8), { VROWS: 0, VCOLS: 0 });
  assertEquals(storeConstants(false, 1, 1), { VROWS: 0, VCOLS: 0 });
});

// Every plan forced: each tile of the register-blocked kernel in both orientations, with its operands
// read through textures and from storage buffers, and the workgroup-memory kernel, on shapes
// straddling their blocks (1×1, sizes off the tile, K not a multiple of 4, K larger than a block).
const FORCED: ForcedPlan[] = [
  ...(["texture", "buffer"] as const).flatMap((path) =>
    (["large", "medium", "small", "thin"] as const).flatMap((tile) =>
      [false, true].map((dual) => ({ path, tile, dual }))
    )
  ),
  { path: "shared", tile: "medium", dual: false },
];
for (const plan of FORCED) {
  const name = plan.path === "shared"
    ? "shared"
    : `${plan.path} ${plan.tile}${plan.dual ? " (transposed output)" : ""}`;
  gpuTest(`matmul ${name} plan matches the float64 twin on edge shapes`, async () => {
    for (const [m, n, k] of [[1, 1, 1], [33, 257, 5], [65, 63, 33], [7, 300, 2], [3, 70, 131]]) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
        const a = randn(m * k, m + 3 * k);
        const b = randn(k * n, n + 5 * k);
        const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
        const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
        const c = matmul(ta, tb, { transA, transB, plan });
        assertAllClose(
          await c.read(),
          matmulRef(a, b, m, n, k, transA, transB),
          TOL(k),
          `${name} ${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} ${m}x${n}x${k}`,
        );
        [ta, tb, c].forEach((t) => t.dispose());
      }
    }
  });
}

// A transposed operand is read as stored (one dispatch per product) on the tiles that allow it,
// and transposed by mm_pad first on the large tile (two), with the same values.
gpuTest(
  "matmul texture path reads transposed operands as stored, except on the large tile",
  async () => {
    const [m, n, k] = [64, 128, 256];
    for (const [transA, transB] of [[false, true], [true, false], [true, true]]) {
      const a = randn(m * k, 7);
      const b = randn(k * n, 8);
      const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
      const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
      const want = matmulRef(a, b, m, n, k, transA, transB);
      for (const tile of ["medium", "large"] as const) {
        const before = rt().stats.dispatches;
        const c = matmul(ta, tb, { transA, transB, plan: { path: "texture", tile, dual: false } });
        const pads = tile === "large" ? Number(transA) + Number(transB) : 0;
        assertEquals(rt().stats.dispatches - before, 1 + pads, `${tile} ${transA} ${transB}`);
        assertAllClose(await c.read(), want, TOL(k), `${tile} ${transA} ${transB}`);
        c.dispose();
      }
      [ta, tb].forEach((t) => t.dispose());
    }
  },
);

// The texture path on operands whose rows are whole 256-byte rows (copied into the textures
// without mm_pad) and on operands that are not, in the same batch (textures reused after submit).
gpuTest("matmul texture path: copied and packed operands agree with the twin", async () => {
  for (const [m, n, k] of [[64, 128, 64], [70, 128, 64], [64, 130, 66], [128, 64, 256]]) {
    const a = randn(m * k, m + k);
    const b = randn(k * n, n + k);
    const ta = Tensor.from(a, [m, k]);
    const tb = Tensor.from(b, [k, n]);
    const plan: ForcedPlan = { path: "texture", tile: "medium", dual: false };
    const c1 = matmul(ta, tb, { plan });
    const c2 = matmul(ta, tb, { plan: { ...plan, dual: true } });
    const want = matmulRef(a, b, m, n, k);
    assertAllClose(await c1.read(), want, TOL(k), `${m}x${n}x${k}`);
    assertAllClose(await c2.read(), want, TOL(k), `${m}x${n}x${k} dual`);
    [ta, tb, c1, c2].forEach((t) => t.dispose());
  }
});

gpuTest(
  "CROSSRANK_MATMUL_OPERANDS forces the path, and a bad value names the variable",
  async () => {
    const [m, n, k] = [40, 72, 24];
    const a = randn(m * k, 7);
    const b = randn(k * n, 8);
    const ta = Tensor.from(a, [m, k]);
    const tb = Tensor.from(b, [k, n]);
    const before = Deno.env.get("CROSSRANK_MATMUL_OPERANDS");
    try {
      for (const path of MATMUL_PATHS) {
        Deno.env.set("CROSSRANK_MATMUL_OPERANDS", path);
        assertEquals(forcedPath(), path);
        assertEquals(matmulPlan("nn", m, n, k).path, path);
        assertEquals(planOf("nt", m, n, k).path, path);
        const c = matmul(ta, tb);
        assertAllClose(await c.read(), matmulRef(a, b, m, n, k), TOL(k), path);
        c.dispose();
      }
      Deno.env.set("CROSSRANK_MATMUL_OPERANDS", "textures");
      assertThrows(() => matmul(ta, tb), /CROSSRANK_MATMUL_OPERANDS=textures/);
      Deno.env.delete("CROSSRANK_MATMUL_OPERANDS");
      // By adapter: the register-blocked kernel reading textures on llvmpipe, shared tiles on GPUs.
      assertEquals(cpuAdapter("llvmpipe (LLVM 15.0.6, 256 bits)"), true);
      assertEquals(cpuAdapter("NVIDIA H100 80GB HBM3"), false);
      const expected = cpuAdapter() ? "texture" : "shared";
      assertEquals(matmulPlan("nn", m, n, k).path, expected);
    } finally {
      if (before === undefined) Deno.env.delete("CROSSRANK_MATMUL_OPERANDS");
      else Deno.env.set("CROSSRANK_MATMUL_OPERANDS", before);
      ta.dispose();
      tb.dispose();
    }
  },
);

Deno.test("operand textures get power-of-two sides unless that passes the limit", () => {
  // One llvmpipe variant of the texture kernel per tile (bench/README.md, Mesa 25 section).
  assertEquals([1, 2, 3, 5, 64, 65, 1000].map((x) => textureSide(x, 8192)), [
    1,
    2,
    4,
    8,
    64,
    128,
    1024,
  ]);
  assertEquals(textureSide(5000, 8192), 8192);
  assertEquals(textureSide(5000, 6000), 5000); // 8192 would pass the limit: the exact side
  assertEquals(textureSide(0, 8192), 1);
});

// Two products whose operand textures share one power-of-two size but hold different extents,
// reusing the pooled textures across submits: stale texels beyond each operand are never read.
gpuTest(
  "matmul texture path reads only each operand's texels in a reused larger texture",
  async () => {
    const plan: ForcedPlan = { path: "texture", tile: "medium", dual: false };
    for (const [m, n, k] of [[60, 120, 60], [35, 70, 37], [60, 120, 60], [33, 97, 35]]) {
      const a = randn(m * k, 7 * m + k);
      const b = randn(k * n, 3 * n + k);
      const ta = Tensor.from(a, [m, k]);
      const tb = Tensor.from(b, [k, n]);
      const c = matmul(ta, tb, { plan });
      assertAllClose(await c.read(), matmulRef(a, b, m, n, k), TOL(k), `${m}x${n}x${k}`);
      [ta, tb, c].forEach((t) => t.dispose());
      rt().submit();
    }
  },
);

gpuTest("the texture path falls back to storage buffers beyond the texture size limit", () => {
  const side = rt().device.limits.maxTextureDimension2D;
  // m rows beyond the limit and n too wide for the dual product's rows: both orientations fail.
  const plan = matmulPlan("nn", side + 1, side * 4 + 8, 4, "texture");
  assertEquals(plan.path, "buffer");
  assertThrows(
    () => planOf("nn", side + 1, 8, 4, { path: "texture", tile: "small", dual: false }),
    /maxTextureDimension2D/,
  );
});

gpuTest(
  "tuneMatmul measures candidates per shape class and the planner then uses the fastest",
  async () => {
    try {
      const [result] = await tuneMatmul([{ layout: "nt", m: 40, n: 72, k: 24 }], 1);
      assertEquals(result.shapeClass, shapeClass("nt", 40, 72, 24));
      const paths = new Set(result.timings.map((t) => t.plan.path));
      for (const path of MATMUL_PATHS) assertOk(paths.has(path), `candidate ${path} timed`);
      for (let i = 1; i < result.timings.length; i++) {
        assertOk(result.timings[i - 1].ms <= result.timings[i].ms, "fastest first");
      }
      // Same class (sizes round up to the same powers of two): the measured plan.
      assertEquals(planKey(matmulPlan("nt", 33, 65, 17)), planKey(result.timings[0].plan));
      // The measured plan computes the product.
      const a = randn(33 * 17, 1);
      const b = randn(65 * 17, 2);
      const ta = Tensor.from(a, [33, 17]);
      const tb = Tensor.from(b, [65, 17]);
      const c = matmul(ta, tb, { transB: true });
      assertAllClose(await c.read(), matmulRef(a, b, 33, 65, 17, false, true), TOL(17));
      [ta, tb, c].forEach((t) => t.dispose());
    } finally {
      clearMatmulTuning();
    }
  },
);

for (const kernel of ["blocked", "naive"] as const) {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const tag = `${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}`;
      gpuTest(`matmul ${kernel} ${tag} matches the CPU reference on edge shapes`, async () => {
        for (const [m, n, k] of SHAPES) {
          const a = randn(m * k, m * 31 + k);
          const b = randn(k * n, n * 17 + k);
          const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
          const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
          const c = matmul(ta, tb, { transA, transB, kernel });
          const got = await c.read();
          assertAllClose(
            got,
            matmulRef(a, b, m, n, k, transA, transB),
            TOL(k),
            `${tag} ${m}x${n}x${k}`,
          );
          [ta, tb, c].forEach((t) => t.dispose());
        }
      });
    }
  }
}

// Large products on the blocked kernel only (the naive kernel is slow here).
const LARGE: { shape: [number, number, number]; transA: boolean; transB: boolean }[] = [
  { shape: [1000, 1000, 1000], transA: false, transB: false },
  { shape: [517, 483, 301], transA: false, transB: true },
  { shape: [517, 483, 301], transA: true, transB: false },
  { shape: [517, 483, 301], transA: true, transB: true },
  { shape: [256, 512, 512], transA: false, transB: true },
  { shape: [2, 3, 65537], transA: false, transB: false }, // huge K
  { shape: [524300, 2, 3], transA: false, transB: false }, // > 65535 row blocks: split dispatch
];

for (const { shape: [m, n, k], transA, transB } of LARGE) {
  const tag = `${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}`;
  gpuTest(`matmul blocked ${tag} ${m}×${n}×${k} matches the CPU reference`, async () => {
    const a = randn(m * k, m + 3 * k);
    const b = randn(k * n, n + 5 * k);
    const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
    const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
    const c = matmul(ta, tb, { transA, transB });
    const got = await c.read();
    assertAllClose(got, matmulRef(a, b, m, n, k, transA, transB), TOL(k), `${tag} ${m}x${n}x${k}`);
    [ta, tb, c].forEach((t) => t.dispose());
  });
}

gpuTest("matmul rejects mismatched inner dimensions with both shapes named", () => {
  const a = Tensor.zeros([2, 3], { label: "A" });
  const b = Tensor.zeros([4, 5], { label: "B" });
  try {
    let message = "";
    try {
      matmul(a, b);
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes("[2, 3]") || !message.includes("[4, 5]")) {
      throw new Error(`unexpected message: ${message}`);
    }
  } finally {
    a.dispose();
    b.dispose();
  }
});

for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    gpuTest(
      `matmul gradient (transA=${transA}, transB=${transB}) matches finite differences`,
      async () => {
        const [m, n, k] = [5, 6, 7];
        await gradCheck(
          [
            { shape: transA ? [k, m] : [m, k], data: randn(m * k, 1) },
            { shape: transB ? [n, k] : [k, n], data: randn(k * n, 2) },
          ],
          (a, b) => matmul(a, b, { transA, transB }),
          (a, b) => matmulRef(a, b, m, n, k, transA, transB),
        );
      },
    );
  }
}

gpuTest("matmul of a tensor with itself accumulates both gradients", async () => {
  const n = 4;
  await gradCheck(
    [{ shape: [n, n], data: randn(n * n, 3) }],
    (a) => matmul(a, a, { transB: true }),
    (a) => matmulRef(a, a, n, n, n, false, true),
  );
});

Deno.test("expandUnrolls repeats //#for blocks (nested, override bounds) and rejects bad ones", () => {
  const src = [
    "override TM: u32 = 2u;",
    "//#for i < TM",
    "//#for q < 3",
    "let c{i}_{q} = {i} + {q};",
    "//#end",
    "//#end",
    "keep {x}",
  ].join("\n");
  assertEquals(
    expandUnrolls(src, {}).split("\n").slice(1),
    [
      "let c0_0 = 0 + 0;",
      "let c0_1 = 0 + 1;",
      "let c0_2 = 0 + 2;",
      "let c1_0 = 1 + 0;",
      "let c1_1 = 1 + 1;",
      "let c1_2 = 1 + 2;",
      "keep {x}",
    ],
  );
  assertEquals(expandUnrolls(src, { TM: 1 }).split("\n").length, 1 + 3 + 1);
  assertThrows(() => expandUnrolls("//#for i < 2\nx", {}), /without \/\/#end/);
  assertThrows(() => expandUnrolls("x\n//#end", {}), /unmatched/);
  assertThrows(() => expandUnrolls("//#for i < NOPE\n//#end", {}), /NOPE/);
});

Deno.test("expandUnrolls keeps one branch of //#if (by override), nested in and around loops", () => {
  const src = [
    "override LT: u32 = 0u;",
    "//#if LT",
    "//#for i < 2",
    "t{i}",
    "//#if RT",
    "both{i}",
    "//#end",
    "//#end",
    "//#else",
    "//#for i < 2",
    "n{i}",
    "//#end",
    "//#end",
    "tail",
  ].join("\n");
  const body = (c: Record<string, number>) => expandUnrolls(src, c).split("\n").slice(1);
  assertEquals(body({}), ["n0", "n1", "tail"]);
  assertEquals(body({ LT: 1, RT: 0 }), ["t0", "t1", "tail"]);
  assertEquals(body({ LT: 1, RT: 1 }), ["t0", "both0", "t1", "both1", "tail"]);
  assertEquals(expandUnrolls("//#if 0\na\n//#end\nb", {}), "b");
  assertThrows(() => expandUnrolls("//#if LT\nx", {}), /\/\/#if without \/\/#end/);
  assertThrows(() => expandUnrolls("x\n//#else", {}), /unmatched \/\/#else/);
  assertThrows(() => expandUnrolls("//#if NOPE\n//#end", {}), /condition 'NOPE'/);
});

gpuTest("matmulNtInto refuses a plan that does not add one dot per vec4 of k", () => {
  // Retrieval's pair scores equal its block entries bit for bit only with that arithmetic: the
  // storage-buffer kernel, or the texture kernel's DOT variant on a tile that reads B as stored.
  const pool = rt().pool;
  const [a, b, c] = [pool.acquire(64), pool.acquire(64), pool.acquire(64)];
  for (
    const plan of [{ path: "texture", tile: "large", dual: false }, {
      path: "shared",
      tile: "medium",
      dual: false,
    }] as const
  ) {
    assertThrows(() => matmulNtInto(c, a, b, 2, 2, 4, plan), /does not add one dot/);
  }
  [a, b, c].forEach((x) => pool.release(x));
});
