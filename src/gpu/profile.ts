/**
 * The kernel profiler: time per kernel entry point, and a step's dispatches, submits, buffer
 * creations and GPU waits.
 *
 * Turn it on with `CROSSRANK_PROFILE=1` (any program: the report prints to stderr when the process
 * ends), with `deno task train --profile` (the report covers the training steps and prints after
 * training), or with {@link Runtime.enableProfiler} in code. Off, the runtime holds no profiler and
 * each dispatch pays one null check.
 *
 * Two ways of timing, chosen by the adapter (or forced with `CROSSRANK_PROFILE=timestamp` or
 * `CROSSRANK_PROFILE=isolate`):
 *
 * - **timestamp queries** (`timestamp-query`, requested by `./device.ts` when offered): each
 *   profiled dispatch gets its own compute pass whose start and end are written to a query set;
 *   the batch's timestamps are resolved at submit and read back when the GPU is done, without a
 *   wait of their own. The GPU's own clock, per dispatch; the extra passes cost a little.
 * - **isolating** (no timestamp queries): each dispatch is submitted alone, after the work
 *   recorded before it, and the host times that submit. Approximate: on drivers that execute work
 *   at submit (llvmpipe through GL) the submit's duration is the dispatch's execution, but one
 *   submit per dispatch changes what is measured (no overlap between dispatches, a submit's fixed
 *   cost added to each); on drivers that queue work, it measures the submission only.
 *
 * Steps: a program marks its steps with {@link Profiler.beginStep} and {@link Profiler.endStep}
 * (the trainer does); only dispatches inside steps are timed, and the counters are per step. A
 * program that marks no steps is profiled as a whole ("the run"). Copies are counted, not timed.
 *
 * @example
 * ```ts
 * import { initGpu } from "./runtime.ts";
 * const rt = await initGpu();
 * const profiler = rt.enableProfiler();
 * profiler.beginStep();
 * // … record a step …
 * rt.submit();
 * profiler.endStep();
 * console.error(await profiler.report());
 * ```
 *
 * @module
 */

import { GpuError } from "./device.ts";

/** How dispatches are timed: GPU timestamp queries, or one submit per dispatch timed on the host. */
export type ProfileMode = "timestamp" | "isolate";

/** Counters of the runtime the profiler reads at step boundaries. */
export interface ProfileCounters {
  /** Dispatches recorded. */
  dispatches: number;
  /** Command buffers submitted by the program (the profiler's own submits are not counted). */
  submits: number;
  /** Buffer-to-buffer copies recorded (uploads during a batch included). */
  copies: number;
  /** Buffers created: pooled storage, uniform parameter blocks, readback staging. */
  bufferCreations: number;
  /** GPU waits: readbacks and syncs. */
  waits: number;
}

/** One entry point's line of a {@link ProfileSummary}. */
export interface ProfileEntry {
  /** `file.wgsl:entry`. */
  name: string;
  /** Dispatches timed, over all steps. */
  dispatches: number;
  /** Their total time, ms. */
  totalMs: number;
}

/** What the profiler measured. */
export interface ProfileSummary {
  /** How dispatches were timed. */
  mode: ProfileMode;
  /** Steps marked (0: the whole run was profiled). */
  steps: number;
  /** Counter totals over the steps (over the run when none was marked). */
  counters: ProfileCounters;
  /** Per entry point, slowest total first. */
  entries: ProfileEntry[];
  /** Host wall time inside the steps (recording and submits), ms. */
  hostMs: number;
  /** Dispatches recorded but not timed (a batch over the query capacity). */
  untimed: number;
}

/** Timestamp pairs per query set (dispatches of one batch that get a time; WebGPU caps a set at 4096 queries). */
const QUERY_CAPACITY = 2048;

/** The profiler's view of the runtime (implemented by `Runtime`). */
export interface ProfiledRuntime {
  /** The device. */
  readonly device: GPUDevice;
  /** The runtime's current counters. */
  counters(): ProfileCounters;
}

/** Collects per-entry times and per-step counters; see the module docs. */
export class Profiler {
  /** How dispatches are timed. */
  readonly mode: ProfileMode;
  #runtime: ProfiledRuntime;
  #entries = new Map<string, ProfileEntry>();
  #steps = 0;
  #inStep = false;
  #stepStart: ProfileCounters | null = null;
  #stepHostStart = 0;
  #hostMs = 0;
  #totals: ProfileCounters = { dispatches: 0, submits: 0, copies: 0, bufferCreations: 0, waits: 0 };
  #runStart: ProfileCounters;
  #runHostStart = performance.now();
  #untimed = 0;
  // timestamp mode
  #querySet: GPUQuerySet | null = null;
  #resolve: GPUBuffer | null = null;
  #staging: GPUBuffer[] = [];
  #batchNames: string[] = [];
  #batchEpoch = 0;
  /** Bumped when the first step begins: what was timed before it is dropped. */
  #epoch = 0;
  #pending = new Set<Promise<void>>();
  #errors: string[] = [];

  /**
   * @param runtime the runtime whose dispatches are profiled
   * @param mode how to time them (default: timestamps when the device has `timestamp-query`)
   */
  constructor(runtime: ProfiledRuntime, mode?: ProfileMode) {
    this.#runtime = runtime;
    const hasTimestamps = runtime.device.features.has("timestamp-query");
    this.mode = mode ?? (hasTimestamps ? "timestamp" : "isolate");
    if (this.mode === "timestamp" && !hasTimestamps) {
      throw new GpuError(
        "profiler: timestamp mode needs the adapter's 'timestamp-query' feature, which this " +
          "adapter does not offer (use CROSSRANK_PROFILE=isolate)",
      );
    }
    this.#runStart = runtime.counters();
  }

  /** Whether the dispatch being recorded is timed: inside a step, or always if none was marked. */
  get recording(): boolean {
    return this.#inStep || this.#steps === 0;
  }

  /** Starts a step: counters and times from here to {@link endStep} count as one step. */
  beginStep(): void {
    if (this.#inStep) throw new GpuError("profiler: beginStep() inside a step");
    if (this.#steps === 0) {
      // What ran before the first step is not a step.
      this.#entries.clear();
      this.#untimed = 0;
      this.#epoch++;
    }
    this.#inStep = true;
    this.#stepStart = this.#runtime.counters();
    this.#stepHostStart = performance.now();
  }

  /** Ends a step (call it after the step's submit). */
  endStep(): void {
    if (!this.#inStep || !this.#stepStart) {
      throw new GpuError("profiler: endStep() without beginStep()");
    }
    this.#hostMs += performance.now() - this.#stepHostStart;
    addDelta(this.#totals, this.#runtime.counters(), this.#stepStart);
    this.#inStep = false;
    this.#stepStart = null;
    this.#steps++;
  }

  /** Adds `ms` to entry `name` (isolating mode, and tests). */
  add(name: string, ms: number): void {
    let e = this.#entries.get(name);
    if (!e) this.#entries.set(name, e = { name, dispatches: 0, totalMs: 0 });
    e.dispatches++;
    e.totalMs += ms;
  }

  /**
   * Timestamp mode: the `timestampWrites` of the pass of the next dispatch of `name` in the open
   * batch, or undefined when the batch is over the query capacity (the dispatch is then untimed).
   */
  timestampWrites(name: string): GPUComputePassTimestampWrites | undefined {
    if (this.#batchNames.length >= QUERY_CAPACITY) {
      this.#untimed++;
      return undefined;
    }
    this.#querySet ??= this.#runtime.device.createQuerySet({
      type: "timestamp",
      count: 2 * QUERY_CAPACITY,
      label: "profiler timestamps",
    });
    if (this.#batchNames.length === 0) this.#batchEpoch = this.#epoch;
    const i = 2 * this.#batchNames.length;
    this.#batchNames.push(name);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Timestamp mode: records the resolve of the batch's timestamps into `encoder` (before finish). */
  resolveInto(encoder: GPUCommandEncoder): (() => void) | null {
    const names = this.#batchNames;
    if (names.length === 0 || !this.#querySet) return null;
    this.#batchNames = [];
    const epoch = this.#batchEpoch;
    const device = this.#runtime.device;
    const bytes = names.length * 16;
    this.#resolve ??= device.createBuffer({
      size: QUERY_CAPACITY * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "profiler resolve",
    });
    const staging = this.#staging.pop() ?? device.createBuffer({
      size: QUERY_CAPACITY * 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "profiler readback",
    });
    encoder.resolveQuerySet(this.#querySet, 0, 2 * names.length, this.#resolve, 0);
    encoder.copyBufferToBuffer(this.#resolve, 0, staging, 0, bytes);
    // Called after the submit: read the times when the GPU is done, without waiting for them.
    return () => {
      const done = staging.mapAsync(GPUMapMode.READ, 0, bytes).then(() => {
        const t = new BigInt64Array(staging.getMappedRange(0, bytes));
        if (epoch === this.#epoch) {
          names.forEach((name, k) => {
            const ns = Number(t[2 * k + 1] - t[2 * k]);
            this.add(name, Math.max(0, ns) / 1e6);
          });
        }
        staging.unmap();
        this.#staging.push(staging);
      }).catch((error) => {
        this.#errors.push(String(error?.message ?? error));
      }).finally(() => this.#pending.delete(done));
      this.#pending.add(done);
    };
  }

  /** Waits until every batch's timestamps are read (timestamp mode; a no-op otherwise). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** What was measured so far (call {@link flush} first for every timestamp). */
  summary(): ProfileSummary {
    const steps = this.#steps;
    const counters = steps > 0
      ? { ...this.#totals }
      : delta(this.#runtime.counters(), this.#runStart);
    const entries = [...this.#entries.values()].map((e) => ({ ...e }))
      .sort((a, b) => b.totalMs - a.totalMs || a.name.localeCompare(b.name));
    return {
      mode: this.mode,
      steps,
      counters,
      entries,
      hostMs: steps > 0 ? this.#hostMs : performance.now() - this.#runHostStart,
      untimed: this.#untimed,
    };
  }

  /** Flushes, then formats the profile as a table (see {@link formatProfile}). */
  async report(): Promise<string> {
    await this.flush();
    return formatProfile(this.summary(), this.#errors);
  }
}

function delta(now: ProfileCounters, start: ProfileCounters): ProfileCounters {
  const out = { dispatches: 0, submits: 0, copies: 0, bufferCreations: 0, waits: 0 };
  addDelta(out, now, start);
  return out;
}

function addDelta(into: ProfileCounters, now: ProfileCounters, start: ProfileCounters): void {
  for (const k of Object.keys(into) as (keyof ProfileCounters)[]) into[k] += now[k] - start[k];
}

const MODE_TEXT: Record<ProfileMode, string> = {
  timestamp: "GPU timestamp queries",
  isolate: "isolated dispatches, host-timed submits (approximate)",
};

/** Formats a profile: the per-step counters, then one line per entry point. */
export function formatProfile(s: ProfileSummary, errors: readonly string[] = []): string {
  const per = Math.max(s.steps, 1);
  const c = s.counters;
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  const gpuMs = s.entries.reduce((a, e) => a + e.totalMs, 0);
  const what = s.steps > 0 ? `per step (${s.steps} steps)` : "the run (no steps marked)";
  const lines = [
    `crossrank profile, ${what}, timed by ${MODE_TEXT[s.mode]}:`,
    `  dispatches ${fmt(c.dispatches / per)}, submits ${fmt(c.submits / per)}, copies ` +
    `${fmt(c.copies / per)}, buffer creations ${fmt(c.bufferCreations / per)}, GPU waits ` +
    `${fmt(c.waits / per)}`,
    `  kernel time ${(gpuMs / per).toFixed(2)} ms, host time ${(s.hostMs / per).toFixed(2)} ms ` +
    `(recording and submits)`,
  ];
  if (s.untimed > 0) {
    lines.push(`  ${s.untimed} dispatches untimed (batch over the query capacity)`);
  }
  const rows = s.entries.map((e) => [
    e.name,
    fmt(e.dispatches / per),
    (e.totalMs / per).toFixed(3),
    (e.totalMs / Math.max(e.dispatches, 1)).toFixed(3),
    `${(100 * e.totalMs / Math.max(gpuMs, 1e-12)).toFixed(1)} %`,
  ]);
  const head = ["entry point", "dispatches", "ms", "mean ms", "share"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "  " + r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  lines.push(line(head), ...rows.map(line));
  for (const e of errors) lines.push(`  timestamp readback failed: ${e}`);
  return lines.join("\n");
}

/** The mode asked for by `CROSSRANK_PROFILE` (null: profiling off). */
export function profileModeFromEnv(): ProfileMode | "auto" | null {
  const v = (Deno.env.get("CROSSRANK_PROFILE") ?? "").trim().toLowerCase();
  if (v === "" || v === "0" || v === "false" || v === "off") return null;
  if (v === "timestamp" || v === "isolate") return v;
  return "auto";
}
