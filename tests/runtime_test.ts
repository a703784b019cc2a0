import {
  assertAllClose,
  assertEquals,
  assertOk,
  assertRejects,
  assertThrows,
  gpuTest,
} from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { ELEMENTWISE } from "../src/gpu/kernels.ts";
import { defineWgslSource } from "../src/gpu/kernel.ts";
import { sizeClass } from "../src/gpu/pool.ts";
import { backward } from "../src/autodiff/tape.ts";
import { readTensors, scope, Tensor } from "../src/autodiff/tensor.ts";
import { relu } from "../src/ops/elementwise.ts";
import { matmul } from "../src/ops/matmul.ts";
import { addBias, mean } from "../src/ops/reduce.ts";
import { AdamW } from "../src/optim/adamw.ts";

gpuTest("a broken WGSL module throws a readable error naming file, entry and line", async () => {
  defineWgslSource(
    "broken_test",
    "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = 1u;\n}\n",
  );
  await assertRejects(
    () => rt().compile({ file: "broken_test", entry: "main", storage: [] }),
    /broken_test\.wgsl:main failed to compile.*\n.*line 3/,
  );
});

gpuTest(
  "a kernel that fails validation at dispatch throws at the next submit, naming it",
  async () => {
    const a = Tensor.zeros([4]);
    // binding one buffer as read-only and read-write in one dispatch is a validation error
    ELEMENTWISE.dispatch("axpby", { a, b: a, out: a }, { n: 4, alpha: 1, beta: 1 }, [1]);
    await assertRejects(() => rt().sync(), /elementwise\.wgsl:axpby/);
    a.dispose();
  },
);

gpuTest("a tensor over the binding limit is refused with the size and the limit", () => {
  const limit = rt().gpu.maxBinding;
  const rows = Math.ceil(limit / 4 / 1000) + 1;
  assertThrows(() => new Tensor([rows, 1000]), /over this device's maxStorageBufferBindingSize of/);
});

gpuTest("size classes waste at most 25 % and are multiples of 16", () => {
  for (const n of [1, 15, 17, 255, 257, 1000, 4097, 1e6, 123456789]) {
    const s = sizeClass(n);
    assertOk(s >= n && s % 16 === 0 && s <= Math.max(16, n * 1.25 + 16), `sizeClass(${n}) = ${s}`);
  }
});

gpuTest(
  "a training step is one submit with no readback, and steady state allocates nothing",
  async () => {
    const runtime = rt();
    const w1 = Tensor.param(new Float32Array(32 * 16).fill(0.01), [32, 16]);
    const b1 = Tensor.param(new Float32Array(16), [16]);
    const x = Tensor.from(new Float32Array(8 * 32).fill(1), [8, 32]);
    const opt = new AdamW([w1, b1], { lr: 0.01 });
    const step = () =>
      scope(() => {
        backward(mean(relu(addBias(matmul(x, w1), b1))));
        opt.step();
        opt.zeroGrad();
      });
    step();
    await runtime.sync();
    const before = { ...runtime.stats };
    const created = runtime.pool.stats.created;
    for (let i = 0; i < 5; i++) {
      step();
      runtime.submit();
    }
    await runtime.sync();
    assertEquals(runtime.stats.readbacks - before.readbacks, 0);
    assertEquals(runtime.stats.submits - before.submits, 5);
    assertEquals(runtime.pool.stats.created - created, 0, "buffers created in steady state");
    assertAllClose([(await w1.read())[0]], [(await w1.read())[0]], {}); // readable afterwards
    [w1, b1, x].forEach((t) => t.dispose());
    opt.dispose();
  },
);

gpuTest("per-step uniform values recycle a bounded set of buffers and stay correct", async () => {
  const runtime = rt();
  const saved = runtime.uniformCacheLimit;
  runtime.uniformCacheLimit = 4;
  const a = Tensor.from([1, 2, 3, 4]);
  const out = Tensor.zeros([4]);
  const before = runtime.stats.uniformBuffers;
  try {
    for (let step = 0; step < 40; step++) {
      // a value that changes every step, as a dropout step or a tie seed does
      ELEMENTWISE.dispatch("affine", { a, out }, { n: 4, cols: 1, alpha: step, beta: 1 }, [1]);
      assertAllClose(await out.read(), [1, 2, 3, 4].map((v) => step * v + 1), { atol: 0 });
    }
    const created = runtime.stats.uniformBuffers - before;
    assertOk(created <= 6, `${created} uniform buffers for 40 distinct blocks (limit 4)`);
  } finally {
    runtime.uniformCacheLimit = saved;
    a.dispose();
    out.dispose();
  }
});

gpuTest(
  "indirect dispatches read their workgroup counts on the GPU; 0 counts run nothing",
  async () => {
    const wg = ELEMENTWISE.decl.workgroupSize!;
    const n = 3 * wg + 10; // 4 workgroups
    const a = Tensor.from(Array.from({ length: n }, (_, i) => i));
    const out = Tensor.zeros([n]);
    const counts = new Tensor([8], { label: "counts" });
    try {
      const args = { n, cols: 1, alpha: 2, beta: 1 };
      // counts at word 4: one workgroup (the first 64 elements), then all four
      rt().upload(counts.buffer, new Uint32Array([0, 1, 1, 0, 1, 1, 1, 0]));
      ELEMENTWISE.dispatch("affine", { a, out }, args, { indirect: counts, offset: 0 });
      assertAllClose(await out.read(), new Float32Array(n), { atol: 0 }, "0 workgroups: nothing");
      ELEMENTWISE.dispatch("affine", { a, out }, args, { indirect: counts, offset: 16 });
      const first = Array.from({ length: n }, (_, i) => i < wg ? 2 * i + 1 : 0);
      assertAllClose(await out.read(), first, { atol: 0 }, "1 workgroup");
      rt().upload(counts.buffer, new Uint32Array([4, 1, 1]), 16);
      ELEMENTWISE.dispatch("affine", { a, out }, args, { indirect: counts, offset: 16 });
      assertAllClose(await out.read(), first.map((_, i) => 2 * i + 1), { atol: 0 }, "4 workgroups");
      for (const offset of [2, 24]) {
        assertThrows(
          () => ELEMENTWISE.dispatch("affine", { a, out }, args, { indirect: counts, offset }),
          /indirect workgroup counts at byte/,
        );
      }
    } finally {
      [a, out, counts].forEach((t) => t.dispose());
    }
  },
);

gpuTest(
  "readTensors reads several tensors, empty and odd-sized ones too, with one GPU wait",
  async () => {
    const values = [[1.5], [], Array.from({ length: 1001 }, (_, i) => i - 0.25), [-2, 3]];
    const tensors = values.map((v) => Tensor.from(v, [v.length]));
    // Work recorded before the read is part of it (the read submits the open batch).
    const doubled = relu(tensors[2]);
    await rt().sync();
    const before = rt().stats.waits;
    const got = await readTensors([...tensors, doubled]);
    assertEquals(rt().stats.waits - before, 1);
    assertEquals(got.map((g) => g.length), [1, 0, 1001, 2, 1001]);
    values.forEach((v, i) => assertAllClose(got[i], v, { atol: 0 }, `tensor ${i}`));
    assertAllClose(got[4], values[2].map((x) => Math.max(x, 0)), { atol: 0 }, "relu");
    assertEquals(await readTensors([]), []);
    await assertRejects(
      () => rt().readMany([{ buffer: tensors[2].buffer, bytes: 6 }]),
      /6 bytes at offset 0 is not 4-byte aligned/,
    );
    for (const t of [...tensors, doubled]) t.dispose();
  },
);
