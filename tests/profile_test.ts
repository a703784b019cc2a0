// The kernel profiler: exact counters for a known step, every entry point in the report, both
// timing modes, and nothing added when it is off.
import { assertEquals, assertOk, assertThrows, gpuTest } from "./util.ts";
import { rt } from "../src/gpu/runtime.ts";
import { ELEMENTWISE } from "../src/gpu/kernels.ts";
import { formatProfile, type ProfileMode, Profiler } from "../src/gpu/profile.ts";
import { Tensor } from "../src/autodiff/tensor.ts";

/** A known step: 3 axpby and 2 relu dispatches, one upload copy, one submit. */
function knownStep(a: Tensor, out: Tensor, host: Float32Array): void {
  for (let i = 0; i < 3; i++) {
    ELEMENTWISE.launch("axpby", { a, b: a, out }, { n: a.size, alpha: 1, beta: i }, a.size);
  }
  a.write(host); // inside an open batch: an upload copy
  for (let i = 0; i < 2; i++) ELEMENTWISE.launch("relu", { a, out }, { n: a.size }, a.size);
  rt().submit();
}

const modes: ProfileMode[] = ["isolate", "timestamp"];

for (const mode of modes) {
  gpuTest(`profiler (${mode}): exact counters and every entry point of a known step`, async () => {
    if (mode === "timestamp" && !rt().device.features.has("timestamp-query")) return;
    const a = Tensor.from(new Float32Array(1000).fill(1), [1000]);
    const out = new Tensor([1000]);
    const host = new Float32Array(1000).fill(2);
    knownStep(a, out, host); // compiles, allocates the upload buffer
    await rt().sync();
    const profiler = rt().enableProfiler(mode);
    try {
      for (let s = 0; s < 4; s++) {
        profiler.beginStep();
        knownStep(a, out, host);
        profiler.endStep();
      }
      await rt().sync(); // outside the steps: not counted
      const report = await profiler.report();
      const sum = profiler.summary();
      assertEquals(sum.mode, mode);
      assertEquals(sum.steps, 4);
      assertEquals(sum.counters, {
        dispatches: 20,
        submits: 4,
        copies: 4,
        bufferCreations: 0,
        waits: 0,
      });
      const byName = new Map(sum.entries.map((e) => [e.name, e]));
      assertEquals([...byName.keys()].sort(), ["elementwise.wgsl:axpby", "elementwise.wgsl:relu"]);
      assertEquals(byName.get("elementwise.wgsl:axpby")!.dispatches, 12);
      assertEquals(byName.get("elementwise.wgsl:relu")!.dispatches, 8);
      for (const e of sum.entries) assertOk(e.totalMs >= 0 && Number.isFinite(e.totalMs), e.name);
      assertOk(sum.entries.some((e) => e.totalMs > 0), "some time was measured");
      assertOk(report.includes("dispatches 5, submits 1, copies 1"), report);
      assertOk(
        report.includes("elementwise.wgsl:axpby") && report.includes("elementwise.wgsl:relu"),
      );
      // The results are those of the unprofiled step.
      assertEquals([...(await out.read()).slice(0, 3)], [2, 2, 2]);
    } finally {
      rt().disableProfiler();
      a.dispose();
      out.dispose();
    }
  });
}

gpuTest("profiler: a step's waits and buffer creations are counted", async () => {
  const profiler = rt().enableProfiler("isolate");
  try {
    profiler.beginStep();
    const t = new Tensor([123457]); // a size class no other test uses: a new buffer
    const t2 = new Tensor([1]);
    ELEMENTWISE.launch("relu", { a: t, out: t2 }, { n: 1 }, 1);
    await t.read();
    await rt().sync();
    t.dispose();
    t2.dispose();
    profiler.endStep();
    const c = profiler.summary().counters;
    assertEquals(c.waits, 2);
    assertEquals(c.dispatches, 1);
    assertOk(c.bufferCreations >= 1, `buffer creations ${c.bufferCreations}`);
  } finally {
    rt().disableProfiler();
  }
});

gpuTest("profiler off: no profiler, and a step records what it records unprofiled", async () => {
  assertEquals(rt().profiler, null);
  const a = Tensor.from(new Float32Array(64).fill(1), [64]);
  const out = new Tensor([64]);
  const host = new Float32Array(64).fill(3);
  knownStep(a, out, host);
  await rt().sync();
  const before = rt().counters();
  const created = rt().pool.stats.created;
  knownStep(a, out, host);
  const after = rt().counters();
  assertEquals(after.dispatches - before.dispatches, 5);
  assertEquals(after.submits - before.submits, 1);
  assertEquals(after.copies - before.copies, 1);
  assertEquals(after.bufferCreations - before.bufferCreations, 0);
  assertEquals(rt().pool.stats.created, created);
  assertEquals(rt().profiler, null);
  await rt().sync();
  a.dispose();
  out.dispose();
});

gpuTest("profiler: misuse is refused, and a run without steps is profiled as a whole", async () => {
  const profiler = rt().enableProfiler("isolate");
  try {
    assertThrows(() => profiler.endStep(), /endStep\(\) without beginStep/);
    const a = Tensor.zeros([8]);
    const b = new Tensor([8]);
    ELEMENTWISE.launch("relu", { a, out: b }, { n: 8 }, 8);
    await rt().sync();
    const s = profiler.summary();
    assertEquals(s.steps, 0);
    assertEquals(s.entries.map((e) => e.name), ["elementwise.wgsl:relu"]);
    assertOk(formatProfile(s).includes("the run (no steps marked)"));
    a.dispose();
    b.dispose();
  } finally {
    rt().disableProfiler();
  }
  if (!rt().device.features.has("timestamp-query")) {
    assertThrows(() => new Profiler(rt(), "timestamp"), /timestamp-query/);
  }
});
