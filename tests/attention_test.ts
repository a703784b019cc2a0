import {
  assertAllClose,
  assertEquals,
  assertFinite,
  assertThrows,
  gpuTest,
  gradCheck,
  randn,
  rng,
} from "./util.ts";
import { scope, Tensor } from "../src/autodiff/tensor.ts";
import { backward } from "../src/autodiff/tape.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sumAll } from "../src/ops/reduce.ts";
import { attention } from "../src/ops/attention.ts";
import {
  attentionBackwardRef,
  attentionRef,
  type AttentionShape,
} from "../src/reference/attention.ts";

/** A 0/1 mask: each list keeps a random number of leading-or-scattered valid items (≥ 0). */
function randomMask(lists: number, n: number, seed: number): Float32Array {
  const u = rng(seed);
  const m = new Float32Array(lists * n);
  for (let l = 0; l < lists; l++) {
    const keep = 0.3 + 0.7 * u();
    for (let i = 0; i < n; i++) m[l * n + i] = u() < keep ? 1 : 0;
  }
  return m;
}

// (lists, n, heads, dh): n = 1, n not a multiple of the 4-item block or of the 64-wide workgroup,
// heads 1 and 4, dh 1 up to the blocked kernels' 16, invocations straddling workgroups, n = 100.
const SHAPES: AttentionShape[] = [
  { lists: 1, n: 1, heads: 1, dh: 1 },
  { lists: 3, n: 1, heads: 4, dh: 3 },
  { lists: 2, n: 7, heads: 1, dh: 3 },
  { lists: 5, n: 13, heads: 4, dh: 8 },
  { lists: 3, n: 100, heads: 4, dh: 16 },
  { lists: 7, n: 66, heads: 1, dh: 16 },
];
// Head dimensions only the generic kernels take (up to their maximum of 128).
const WIDE: AttentionShape[] = [
  { lists: 2, n: 9, heads: 1, dh: 40 },
  { lists: 1, n: 5, heads: 2, dh: 128 },
];
const KERNELS = [
  { kernel: "blocked" as const, shapes: SHAPES },
  { kernel: "generic" as const, shapes: [...SHAPES, ...WIDE] },
];

const tag = (s: AttentionShape) => `${s.lists}×${s.n} h${s.heads} dh${s.dh}`;

// f32 dot products over dh terms and sums over n keys of values of order 1.
const TOL = (s: AttentionShape) => ({ atol: 2e-6 * Math.sqrt(s.dh * s.n) * 4, rtol: 1e-4 });

for (const { kernel, shapes } of KERNELS) {
  const what = `${kernel} kernels`;
  gpuTest(`attention forward matches the CPU reference (${what})`, async () => {
    for (const [s, masked] of shapes.flatMap((s) => [[s, false], [s, true]] as const)) {
      const rows = s.lists * s.n;
      const dm = s.heads * s.dh;
      const seed = s.lists * 1000 + s.n * 10 + s.heads;
      const [q, k, v] = [0, 1, 2].map((i) => randn(rows * dm, seed + i, 1.5));
      const mask = masked ? randomMask(s.lists, s.n, seed) : null;
      const out = scope(() =>
        attention(
          Tensor.from(q, [rows, dm]),
          Tensor.from(k, [rows, dm]),
          Tensor.from(v, [rows, dm]),
          { ...s, mask: mask ? Tensor.from(mask) : null, kernel },
        )
      );
      const got = await out.read();
      const ref = attentionRef(q, k, v, mask, s);
      assertAllClose(got, ref, TOL(s), `attention ${tag(s)}${masked ? " padded" : ""}`);
      out.dispose();
    }
  });

  gpuTest(`attention backward matches the CPU reference (${what})`, async () => {
    for (const [s, masked] of shapes.flatMap((s) => [[s, false], [s, true]] as const)) {
      const rows = s.lists * s.n;
      const dm = s.heads * s.dh;
      const seed = s.lists * 999 + s.n * 11 + s.heads;
      const [q, k, v, g] = [0, 1, 2, 3].map((i) => randn(rows * dm, seed + i));
      const mask = masked ? randomMask(s.lists, s.n, seed) : null;
      const params = [q, k, v].map((x, i) => Tensor.param(x, [rows, dm], "qkv"[i]));
      scope(() => {
        const out = attention(params[0], params[1], params[2], {
          ...s,
          mask: mask ? Tensor.from(mask) : null,
          kernel,
        });
        backward(sumAll(mul(out, Tensor.from(g, [rows, dm]))));
      });
      const ref = attentionBackwardRef(q, k, v, mask, g, s);
      const tol = { atol: 4e-6 * Math.sqrt(s.dh * s.n) * 4, rtol: 1e-3 };
      const t = `${tag(s)}${masked ? " padded" : ""}`;
      assertAllClose(await params[0].grad!.read(), ref.dq, tol, `dQ ${t}`);
      assertAllClose(await params[1].grad!.read(), ref.dk, tol, `dK ${t}`);
      assertAllClose(await params[2].grad!.read(), ref.dv, tol, `dV ${t}`);
      for (const p of params) {
        p.grad?.dispose();
        p.dispose();
      }
    }
  });
}

gpuTest("attention gradient (Q, K, V) matches finite differences, with padding", async () => {
  for (
    const [s, kernel] of [
      [{ lists: 1, n: 1, heads: 1, dh: 3 }, "blocked"],
      [{ lists: 2, n: 5, heads: 2, dh: 3 }, "blocked"],
      [{ lists: 3, n: 6, heads: 4, dh: 1 }, "blocked"],
      [{ lists: 3, n: 6, heads: 1, dh: 40 }, "generic"],
    ] as const
  ) {
    const rows = s.lists * s.n;
    const dm = s.heads * s.dh;
    // Padding in every list but the first of a multi-list case, including an all-padding list.
    const mask = new Float32Array(rows).fill(1);
    if (s.lists > 1) mask.set([1, 0, 1, 1, 0, 1].slice(0, s.n), s.n);
    if (s.lists > 2) mask.fill(0, 2 * s.n, 3 * s.n);
    const maskT = Tensor.from(mask);
    const inputs = [0, 1, 2].map((i) => ({ shape: [rows, dm], data: randn(rows * dm, 60 + i) }));
    await gradCheck(
      inputs,
      (q, k, v) => attention(q, k, v, { ...s, mask: maskT, kernel }),
      (q, k, v) => attentionRef(q, k, v, mask, s),
    );
    maskT.dispose();
  }
});

for (const kernel of ["blocked", "generic"] as const) {
  gpuTest(
    `padded items never affect real items, and padded outputs are zero (${kernel})`,
    async () => {
      // 4 real items; the same list padded to 9 with huge values must give the same outputs.
      const s = { lists: 1, heads: 2, dh: 8, kernel };
      const dm = 16;
      const [q, k, v] = [0, 1, 2].map((i) => randn(4 * dm, 70 + i));
      const small = scope(() =>
        attention(Tensor.from(q, [4, dm]), Tensor.from(k, [4, dm]), Tensor.from(v, [4, dm]), {
          ...s,
          n: 4,
        })
      );
      const mask = Tensor.from([1, 1, 0, 1, 0, 1, 0, 0, 0]);
      // Real items at slots 0, 1, 3, 5; padding at 2, 4, 6, 7, 8.
      const slots = [0, 1, 3, 5];
      const pad = (x: Float64Array, seed: number) => {
        const full = randn(9 * dm, seed, 1e3);
        slots.forEach((r, i) => full.set(x.subarray(i * dm, (i + 1) * dm), r * dm));
        return full;
      };
      const big = scope(() =>
        attention(
          Tensor.from(pad(q, 80), [9, dm]),
          Tensor.from(pad(k, 81), [9, dm]),
          Tensor.from(pad(v, 82), [9, dm]),
          { ...s, n: 9, mask },
        )
      );
      const a = await small.read();
      const b = await big.read();
      const real = new Float32Array(4 * dm);
      slots.forEach((r, i) => real.set(b.subarray(r * dm, (r + 1) * dm), i * dm));
      assertAllClose(real, a, { atol: 1e-6, rtol: 1e-6 }, "real items with and without padding");
      for (const r of [2, 4, 6, 7, 8]) {
        assertEquals(Array.from(b.subarray(r * dm, (r + 1) * dm)), new Array(dm).fill(0));
      }
      [small, big, mask].forEach((t) => t.dispose());
    },
  );

  gpuTest(`an all-padding list yields zeros and finite gradients (${kernel})`, async () => {
    const s = { lists: 2, n: 3, heads: 1, dh: 3, kernel };
    const params = [0, 1, 2].map((i) => Tensor.param(randn(18, 90 + i), [6, 3], "qkv"[i]));
    const mask = Tensor.from([0, 0, 0, 1, 0, 1]);
    const out = scope(() => {
      const o = attention(params[0], params[1], params[2], { ...s, mask });
      backward(sumAll(o));
      return o;
    });
    const values = await out.read();
    assertFinite(values, "output");
    assertEquals(Array.from(values.subarray(0, 9)), new Array(9).fill(0));
    for (const p of params) {
      const g = await p.grad!.read();
      assertFinite(g, `${p.label} grad`);
      assertEquals(Array.from(g.subarray(0, 9)), new Array(9).fill(0));
    }
    for (const t of [out, mask, ...params]) {
      t.grad?.dispose();
      t.dispose();
    }
  });

  gpuTest(`attention stays finite for large scores (${kernel})`, async () => {
    const s = { lists: 1, n: 6, heads: 2, dh: 8, kernel };
    const [q, k, v] = [0, 1, 2].map((i) => randn(96, 95 + i, i < 2 ? 30 : 1));
    const out = scope(() =>
      attention(Tensor.from(q, [6, 16]), Tensor.from(k, [6, 16]), Tensor.from(v, [6, 16]), s)
    );
    const got = await out.read();
    assertFinite(got, "output");
    const ref = attentionRef(q, k, v, null, s);
    assertAllClose(got, ref, { atol: 1e-4, rtol: 1e-4 }, "large scores");
    out.dispose();
  });
}

gpuTest("attention rejects bad shapes with clear errors", () => {
  scope(() => {
    const x = Tensor.zeros([6, 8]);
    const opts = { lists: 2, n: 3, heads: 2 };
    assertThrows(() => attention(x, x, Tensor.zeros([6, 4]), opts), /shapes differ/);
    assertThrows(() => attention(x, x, x, { ...opts, n: 4 }), /6 rows, expected lists·n = 2·4 = 8/);
    assertThrows(
      () => attention(x, x, x, { ...opts, heads: 3 }),
      /d_model 8 is not divisible by 3/,
    );
    assertThrows(
      () => attention(x, x, x, { ...opts, mask: Tensor.zeros([5]) }),
      /mask \[5\] has 5 values for 6 items/,
    );
    const wide = Tensor.zeros([2, 258]);
    assertThrows(
      () => attention(wide, wide, wide, { lists: 1, n: 2, heads: 2 }),
      /head dimension 258\/2 = 129 exceeds 128/,
    );
    const mid = Tensor.zeros([2, 34]);
    assertThrows(
      () => attention(mid, mid, mid, { lists: 1, n: 2, heads: 2, kernel: "blocked" }),
      /blocked kernels take head dimensions up to 16, got 17/,
    );
  });
});
