import { assertAllClose, gpuTest, gradCheck, randn } from "./util.ts";
import { Tensor } from "../src/autodiff/tensor.ts";
import { matmul } from "../src/ops/matmul.ts";
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
];

// Every tile in both orientations, forced, on shapes straddling its block (the planner alone would
// keep the large tile for big products only).
for (const tile of ["large", "medium", "small", "thin"] as const) {
  for (const dual of [false, true]) {
    gpuTest(`matmul ${tile} tile${dual ? " (transposed output)" : ""} on edge shapes`, async () => {
      for (const [m, n, k] of [[1, 1, 1], [33, 257, 5], [65, 63, 33], [7, 300, 2]]) {
        for (
          const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]
        ) {
          const a = randn(m * k, m + 3 * k);
          const b = randn(k * n, n + 5 * k);
          const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
          const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
          const c = matmul(ta, tb, { transA, transB, plan: { tile, dual } });
          assertAllClose(
            await c.read(),
            matmulRef(a, b, m, n, k, transA, transB),
            TOL(k),
            `${tile}${dual ? " dual" : ""} ${transA ? "Aᵀ" : "A"}·${
              transB ? "Bᵀ" : "B"
            } ${m}x${n}x${k}`,
          );
          [ta, tb, c].forEach((t) => t.dispose());
        }
      }
    });
  }
}

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
