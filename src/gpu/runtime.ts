/**
 * The GPU runtime: one device, a pipeline cache, a buffer pool, and a command recorder.
 *
 * Dispatches are recorded into one open command encoder (one compute pass) until {@link
 * Runtime.submit}; nothing is read back implicitly. Uploads are ordered with the recorded work, so
 * a buffer can be written between two dispatches of the same batch. Readbacks ({@link
 * Runtime.read}) submit, wait and map: each costs a fixed ~11 ms on llvmpipe, so training reads the
 * loss only every N steps.
 *
 * @example
 * ```ts
 * import { initGpu } from "./runtime.ts";
 * const rt = await initGpu();
 * const buf = rt.pool.acquire(16);
 * rt.upload(buf, new Float32Array([1, 2, 3, 4]));
 * console.log(new Float32Array(await rt.read(buf, 16)));
 * rt.pool.release(buf);
 * ```
 *
 * @module
 */

import { getGpu, type Gpu, GpuError, type GpuOptions } from "./device.ts";
import { type CompiledKernel, type KernelSpec, PipelineCache } from "./kernel.ts";
import { BufferPool, sizeClass } from "./pool.ts";
import {
  formatProfile,
  type ProfileCounters,
  type ProfileMode,
  profileModeFromEnv,
  Profiler,
} from "./profile.ts";

/**
 * A storage binding: a whole buffer or a byte range of one; a texture binding's view; or a sampler
 * binding's sampler.
 */
export type Binding =
  | GPUBuffer
  | GPUTextureView
  | GPUSampler
  | { buffer: GPUBuffer; offset?: number; size?: number };

/** Counters for tests and benchmarks. */
export interface RuntimeStats {
  /** Command buffers submitted. */
  submits: number;
  /** Dispatches recorded. */
  dispatches: number;
  /** Readbacks (each a GPU wait). */
  readbacks: number;
  /** Uniform parameter buffers created (recycled ones not counted again). */
  uniformBuffers: number;
  /** Buffer-to-buffer copies recorded (uploads into a recorded batch included). */
  copies: number;
  /** GPU waits: readbacks and {@link Runtime.sync} calls. */
  waits: number;
  /** Readback staging buffers created. */
  stagingBuffers: number;
}

/** Largest workgroup count in one dimension (WebGPU default limit). */
export const MAX_GROUPS = 65535;

/**
 * Splits a 1-D workgroup count over x and y so neither exceeds {@link MAX_GROUPS}. Kernels rebuild
 * the linear index as `wid.x + wid.y * nwg.x` (`@builtin(num_workgroups) nwg`).
 */
export function groups1d(count: number): [number, number] {
  if (count <= MAX_GROUPS) return [Math.max(1, count), 1];
  const y = Math.ceil(count / MAX_GROUPS);
  return [Math.ceil(count / y), y];
}

/**
 * Workgroup counts the GPU reads when the dispatch runs: three `u32` (x, y, z) at byte `offset` of
 * `indirect` (a buffer a kernel may have written earlier in the batch; pooled buffers carry the
 * INDIRECT usage). Counts of 0 make the dispatch an empty one, without a readback.
 */
export interface IndirectGroups {
  /** The buffer holding the counts. */
  readonly indirect: GPUBuffer;
  /** Byte offset of x (a multiple of 4). */
  readonly offset: number;
}

/** Builds a uniform parameter block of 4-byte fields (u32, i32, f32), padded to 16 bytes. */
export class Params {
  #words: number[] = [];
  #view = new DataView(new ArrayBuffer(4));
  /** Appends a u32 field. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`Params.u32: ${value} is not a u32`);
    }
    this.#words.push(value >>> 0);
    return this;
  }
  /** Appends an i32 field. */
  i32(value: number): this {
    this.#words.push(value | 0);
    return this;
  }
  /** Appends an f32 field. */
  f32(value: number): this {
    this.#view.setFloat32(0, value, true);
    this.#words.push(this.#view.getUint32(0, true));
    return this;
  }
  /** The block's bytes, padded to a multiple of 16. */
  bytes(): Uint32Array<ArrayBuffer> {
    const n = Math.max(4, Math.ceil(this.#words.length / 4) * 4);
    const out = new Uint32Array(n);
    out.set(this.#words.map((w) => w >>> 0));
    return out;
  }
}

const UNIFORM_CACHE_LIMIT = 4096;
const BIND_GROUP_CACHE_LIMIT = 16384;

/** The process-wide GPU runtime. */
export class Runtime {
  /** Device and error collection. */
  readonly gpu: Gpu;
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** Storage buffers. */
  readonly pool: BufferPool;
  /** Compiled kernels. */
  readonly pipelines: PipelineCache;
  #nearest: GPUSampler | null = null;
  /** See {@link RuntimeStats}. */
  readonly stats: RuntimeStats = {
    submits: 0,
    dispatches: 0,
    readbacks: 0,
    uniformBuffers: 0,
    copies: 0,
    waits: 0,
    stagingBuffers: 0,
  };
  /**
   * The kernel profiler (`./profile.ts`), or null when profiling is off (the default; then a
   * dispatch pays one null check). `CROSSRANK_PROFILE=1` turns it on at start-up.
   */
  profiler: Profiler | null = null;

  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #recorded: string[] = [];
  #uniforms = new Map<string, GPUBuffer>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #bufferIds = new WeakMap<GPUBuffer | GPUTextureView | GPUSampler, number>();
  #nextBufferId = 1;
  #staging = new Map<number, GPUBuffer[]>();
  #uniformRetired: GPUBuffer[] = [];
  #uniformFree = new Map<number, GPUBuffer[]>();

  /**
   * Distinct uniform blocks kept (least recently used evicted beyond it). Per-step values in a
   * block (a dropout step, a tie seed) then recycle buffers instead of creating one per step.
   */
  uniformCacheLimit = UNIFORM_CACHE_LIMIT;

  /** Wraps an acquired GPU; use {@link initGpu}. */
  constructor(gpu: Gpu) {
    this.gpu = gpu;
    this.device = gpu.device;
    this.pool = new BufferPool(gpu.device);
    this.pipelines = new PipelineCache(gpu.device);
    const mode = profileModeFromEnv();
    if (mode !== null) {
      const profiler = this.enableProfiler(mode === "auto" ? undefined : mode);
      globalThis.addEventListener("unload", () => {
        if (this.profiler === profiler) console.error(formatNow(profiler));
      });
    }
  }

  /**
   * The sampler every `sampler()` binding gets (src/gpu/declare.ts): nearest filters, clamped to
   * the edge, so a sample at a texel's centre, (i + 0.5) / size, returns that texel exactly.
   * Created on first use.
   */
  get nearestSampler(): GPUSampler {
    return this.#nearest ??= this.device.createSampler({
      label: "nearest texel",
      magFilter: "nearest",
      minFilter: "nearest",
      mipmapFilter: "nearest",
      addressModeU: "clamp-to-edge",
      addressModeV: "clamp-to-edge",
    });
  }

  /**
   * Turns the kernel profiler on (a fresh one) and returns it; `mode` defaults to timestamp
   * queries when the device has them, else isolated dispatches. Pending work is submitted first.
   */
  enableProfiler(mode?: ProfileMode): Profiler {
    this.submit();
    this.profiler = new Profiler(this, mode);
    return this.profiler;
  }

  /** Turns the profiler off (pending work is submitted first) and returns the one that ran. */
  disableProfiler(): Profiler | null {
    this.submit();
    const p = this.profiler;
    this.profiler = null;
    return p;
  }

  /** The counters the profiler reads at step boundaries. */
  counters(): ProfileCounters {
    const s = this.stats;
    return {
      dispatches: s.dispatches,
      submits: s.submits,
      copies: s.copies,
      bufferCreations: this.pool.stats.created + s.uniformBuffers + s.stagingBuffers,
      waits: s.waits,
    };
  }

  /** Whether recorded work is waiting to be submitted. */
  get pending(): boolean {
    return this.#encoder !== null;
  }

  /** Compiles a kernel now and throws a readable error if it is broken. */
  compile(spec: KernelSpec): Promise<CompiledKernel> {
    return this.pipelines.compile(spec);
  }

  /**
   * Records one dispatch of `spec` over `bindings` (storage buffers in binding order) with optional
   * uniform `params`, into the open batch.
   */
  dispatch(
    spec: KernelSpec,
    bindings: readonly Binding[],
    params: Params | Uint32Array<ArrayBuffer> | null,
    workgroups: readonly [number, number?, number?] | IndirectGroups,
  ): void {
    const kernel = this.pipelines.get(spec);
    if (bindings.length !== spec.storage.length) {
      throw new GpuError(
        `kernel ${kernel.name}: expected ${spec.storage.length} storage bindings, got ${bindings.length}`,
      );
    }
    if ((params !== null) !== Boolean(spec.uniform)) {
      throw new GpuError(`kernel ${kernel.name}: params ${spec.uniform ? "missing" : "not taken"}`);
    }
    let groups: (pass: GPUComputePassEncoder) => void;
    if ("indirect" in workgroups) {
      const { indirect, offset } = workgroups;
      if (
        !Number.isInteger(offset) || offset < 0 || offset % 4 !== 0 || offset + 12 > indirect.size
      ) {
        throw new GpuError(
          `kernel ${kernel.name}: indirect workgroup counts at byte ${offset} outside the ` +
            `${indirect.size}-byte buffer or not 4-byte aligned`,
        );
      }
      groups = (pass) => pass.dispatchWorkgroupsIndirect(indirect, offset);
    } else {
      const [x, y = 1, z = 1] = workgroups;
      for (const g of [x, y, z]) {
        if (!Number.isInteger(g) || g < 0 || g > MAX_GROUPS) {
          throw new GpuError(`kernel ${kernel.name}: workgroup count ${workgroups} out of range`);
        }
      }
      if (x === 0 || y === 0 || z === 0) return;
      groups = (pass) => pass.dispatchWorkgroups(x, y, z);
    }
    const uniform = params === null
      ? null
      : this.#uniform(params instanceof Params ? params.bytes() : params);
    const bindGroup = this.#bindGroup(kernel, bindings, uniform);
    if (this.profiler !== null && this.profiler.recording) {
      this.#profiledDispatch(this.profiler, kernel, bindGroup, groups);
    } else {
      const pass = this.#openPass();
      pass.setPipeline(kernel.pipeline);
      pass.setBindGroup(0, bindGroup);
      groups(pass);
    }
    this.stats.dispatches++;
    if (this.#recorded.length < 64) this.#recorded.push(kernel.name);
  }

  /**
   * The profiler's dispatch: timestamp mode gives it a pass of its own with timestamp writes;
   * isolating mode submits the work recorded before it, then it alone, timing that submit.
   */
  #profiledDispatch(
    profiler: Profiler,
    kernel: CompiledKernel,
    bindGroup: GPUBindGroup,
    groups: (pass: GPUComputePassEncoder) => void,
  ): void {
    this.#closePass();
    if (profiler.mode === "timestamp") {
      const timestampWrites = profiler.timestampWrites(kernel.name);
      const pass = this.#openEncoder().beginComputePass(timestampWrites ? { timestampWrites } : {});
      pass.setPipeline(kernel.pipeline);
      pass.setBindGroup(0, bindGroup);
      groups(pass);
      pass.end();
      return;
    }
    // The work before it, untimed (not a submit of the program's: stats.submits is unchanged);
    // an open encoder stays, so that the program's next submit is one as it would be unprofiled.
    if (this.#encoder !== null) this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = this.device.createCommandEncoder();
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    groups(pass);
    pass.end();
    const commands = encoder.finish();
    const started = performance.now();
    this.device.queue.submit([commands]);
    profiler.add(kernel.name, performance.now() - started);
  }

  /** Records a buffer-to-buffer copy into the open batch. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.stats.copies++;
    this.#closePass();
    this.#openEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /**
   * Records a copy of `rows` rows of `bytesPerRow` bytes (a multiple of 256) from `src` into the
   * `width × rows` texels at the origin of `texture`.
   */
  copyToTexture(
    src: GPUBuffer,
    bytesPerRow: number,
    texture: GPUTexture,
    width: number,
    rows: number,
  ): void {
    if (width === 0 || rows === 0) return;
    this.#closePass();
    this.#openEncoder().copyBufferToTexture({ buffer: src, bytesPerRow, rowsPerImage: rows }, {
      texture,
    }, [width, rows]);
  }

  /**
   * Writes `data` into `buffer` at `offset`, ordered after everything recorded so far and before
   * everything recorded later.
   */
  upload(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (bytes % 4 !== 0 || offset % 4 !== 0) {
      throw new GpuError(`upload: ${bytes} bytes at offset ${offset} is not 4-byte aligned`);
    }
    // Typed arrays over a SharedArrayBuffer are copied; WebGPU takes ArrayBuffer-backed views.
    const source = data.buffer instanceof ArrayBuffer
      ? data.buffer
      : new Uint8Array(data.buffer, data.byteOffset, bytes).slice().buffer;
    const sourceOffset = data.buffer instanceof ArrayBuffer ? data.byteOffset : 0;
    if (this.#encoder === null) {
      this.device.queue.writeBuffer(buffer, offset, source, sourceOffset, bytes);
      return;
    }
    const temp = this.pool.acquire(bytes, "upload");
    this.device.queue.writeBuffer(temp, 0, source, sourceOffset, bytes);
    this.copy(temp, 0, buffer, offset, bytes);
    this.pool.release(temp);
  }

  /** Submits the recorded batch (if any). Throws if the device reported an error. */
  submit(): void {
    this.gpu.throwIfFailed(this.#context());
    if (this.#encoder === null) return;
    this.#closePass();
    const readTimes = this.profiler?.resolveInto(this.#encoder) ?? null;
    const commands = this.#encoder.finish();
    this.#encoder = null;
    this.device.queue.submit([commands]);
    readTimes?.();
    this.stats.submits++;
    this.pool.endBatch();
    for (const b of this.#uniformRetired) {
      let list = this.#uniformFree.get(b.size);
      if (!list) this.#uniformFree.set(b.size, list = []);
      list.push(b);
    }
    this.#uniformRetired.length = 0;
    const context = this.#context();
    this.#recorded.length = 0;
    this.gpu.throwIfFailed(context);
  }

  /** Submits and waits until the GPU has finished all work; throws any reported error. */
  async sync(): Promise<void> {
    const context = this.#context();
    this.submit();
    this.stats.waits++;
    await this.device.queue.onSubmittedWorkDone();
    await this.pipelines.checkPending();
    this.gpu.throwIfFailed(context);
  }

  /** Submits, copies `bytes` bytes of `buffer` from `offset` to the host, and returns them. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    return (await this.readMany([{ buffer, bytes, offset }]))[0];
  }

  /**
   * Submits and copies several buffer ranges (each `bytes` bytes from `offset`, multiples of 4) to
   * the host with one GPU wait, returning them in order: a training epoch's losses, status and
   * weights cost one wait, not one each.
   */
  async readMany(
    parts: readonly { buffer: GPUBuffer; bytes: number; offset?: number }[],
  ): Promise<ArrayBuffer[]> {
    const context = this.#context();
    await this.pipelines.checkPending();
    const total = parts.reduce((sum, part) => sum + part.bytes, 0);
    if (total === 0) return parts.map(() => new ArrayBuffer(0));
    for (const part of parts) {
      if (part.bytes % 4 !== 0 || (part.offset ?? 0) % 4 !== 0) {
        throw new GpuError(
          `read: ${part.bytes} bytes at offset ${part.offset ?? 0} is not 4-byte aligned`,
        );
      }
    }
    const size = sizeClass(total);
    let staging = this.#staging.get(size)?.pop();
    if (!staging) {
      staging = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "readback",
      });
      this.stats.stagingBuffers++;
    }
    let at = 0;
    for (const part of parts) {
      this.copy(part.buffer, part.offset ?? 0, staging, at, part.bytes);
      at += part.bytes;
    }
    this.submit();
    this.stats.readbacks++;
    this.stats.waits++;
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const mapped = staging.getMappedRange(0, size);
    at = 0;
    const out = parts.map((part) => mapped.slice(at, at += part.bytes));
    staging.unmap();
    let list = this.#staging.get(size);
    if (!list) this.#staging.set(size, list = []);
    list.push(staging);
    this.gpu.throwIfFailed(context);
    return out;
  }

  #context(): string {
    return this.#recorded.length > 0 ? `batch with ${this.#recorded.join(", ")}` : "";
  }

  #openEncoder(): GPUCommandEncoder {
    if (this.#encoder === null) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  #openPass(): GPUComputePassEncoder {
    if (this.#pass === null) this.#pass = this.#openEncoder().beginComputePass();
    return this.#pass;
  }

  #closePass(): void {
    if (this.#pass !== null) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  #bufferId(buffer: GPUBuffer | GPUTextureView | GPUSampler): number {
    let id = this.#bufferIds.get(buffer);
    if (id === undefined) this.#bufferIds.set(buffer, id = this.#nextBufferId++);
    return id;
  }

  #uniform(words: Uint32Array<ArrayBuffer>): GPUBuffer {
    const key = words.join(",");
    let buffer = this.#uniforms.get(key);
    if (buffer) {
      // keep the map in least-recently-used order
      this.#uniforms.delete(key);
      this.#uniforms.set(key, buffer);
      return buffer;
    }
    while (this.#uniforms.size > 0 && this.#uniforms.size >= this.uniformCacheLimit) {
      // Evict the least recently used blocks (several when the limit was lowered). Recorded work
      // may still read their buffers, so they are rewritten only after the next submit (queue
      // order then makes the rewrite safe).
      const [oldKey, oldBuffer] = this.#uniforms.entries().next().value!;
      this.#uniforms.delete(oldKey);
      this.#uniformRetired.push(oldBuffer);
    }
    const free = this.#uniformFree.get(words.byteLength);
    buffer = free?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({
        size: words.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: "params",
      });
      this.stats.uniformBuffers++;
    }
    this.device.queue.writeBuffer(buffer, 0, words);
    this.#uniforms.set(key, buffer);
    return buffer;
  }

  #bindGroup(
    kernel: CompiledKernel,
    bindings: readonly Binding[],
    uniform: GPUBuffer | null,
  ): GPUBindGroup {
    let key = `${kernel.id}`;
    const entries: GPUBindGroupEntry[] = [];
    bindings.forEach((b, binding) => {
      if (b instanceof GPUTextureView || b instanceof GPUSampler) {
        key += `|t${this.#bufferId(b)}`;
        entries.push({ binding, resource: b });
        return;
      }
      const buffer = "buffer" in b && !(b instanceof GPUBuffer) ? b.buffer : b as GPUBuffer;
      const offset = b instanceof GPUBuffer ? 0 : b.offset ?? 0;
      const size = b instanceof GPUBuffer ? undefined : b.size;
      key += `|${this.#bufferId(buffer)}@${offset}+${size ?? "*"}`;
      entries.push({ binding, resource: { buffer, offset, size } });
    });
    if (uniform) {
      key += `|u${this.#bufferId(uniform)}`;
      entries.push({ binding: bindings.length, resource: { buffer: uniform } });
    }
    let group = this.#bindGroups.get(key);
    if (!group) {
      if (this.#bindGroups.size >= BIND_GROUP_CACHE_LIMIT) this.#bindGroups.clear();
      group = this.device.createBindGroup({ layout: kernel.layout, entries, label: kernel.name });
      this.#bindGroups.set(key, group);
    }
    return group;
  }
}

/** The profile so far, without waiting for timestamps still in flight (for the exit report). */
function formatNow(profiler: Profiler): string {
  return formatProfile(profiler.summary());
}

let runtime: Runtime | null = null;
let pendingInit: Promise<Runtime> | null = null;

/** Acquires the GPU (once) and returns the runtime. */
export function initGpu(options: GpuOptions = {}): Promise<Runtime> {
  if (runtime) return Promise.resolve(runtime);
  pendingInit ??= getGpu(options).then((gpu) => runtime = new Runtime(gpu)).finally(() => {
    pendingInit = null;
  });
  return pendingInit;
}

/** The runtime if {@link initGpu} has completed, else null (nothing is started). */
export function startedRuntime(): Runtime | null {
  return runtime;
}

/** The runtime, for synchronous op code; throws if {@link initGpu} has not completed. */
export function rt(): Runtime {
  if (!runtime) throw new GpuError("GPU not initialised: call `await initGpu()` first");
  return runtime;
}
