/**
 * A size-class buffer pool: steady-state training allocates no GPU buffers.
 *
 * Sizes are rounded up to one of four classes per power of two (at most 25 % waste). A released
 * buffer is not handed out again until the command buffer that may still use it has been submitted
 * ({@link BufferPool.endBatch}); after that, queue order makes reuse safe.
 *
 * @module
 */

import { BindingLimitError, GpuError } from "./device.ts";

/** Usage flags of every pooled storage buffer (INDIRECT: a kernel may write dispatch counts). */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST | GPUBufferUsage.INDIRECT;

/** Rounds a byte count up to its size class (a multiple of 16, at most 25 % above `bytes`). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 256) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

/** Counters that tests and benchmarks read to prove steady state allocates nothing. */
export interface PoolStats {
  /** Buffers created since the pool was made. */
  created: number;
  /** Buffers handed out from the free lists. */
  reused: number;
  /** Bytes currently held by live (acquired) buffers. */
  liveBytes: number;
  /** Bytes held in the free lists. */
  freeBytes: number;
}

/** Pools storage buffers by size class. */
export class BufferPool {
  #device: GPUDevice;
  #deviceLimit: number;
  #testLimit: number | null = null;
  #free = new Map<number, GPUBuffer[]>();
  #deferred: GPUBuffer[] = [];
  #live = new Set<GPUBuffer>();
  /** See {@link PoolStats}. */
  readonly stats: PoolStats = { created: 0, reused: 0, liveBytes: 0, freeBytes: 0 };

  /** @param device the device that owns the buffers */
  constructor(device: GPUDevice) {
    this.#device = device;
    this.#deviceLimit = device.limits.maxStorageBufferBindingSize;
  }

  /** The largest buffer {@link acquire} hands out: the device's maxStorageBufferBindingSize. */
  get maxBinding(): number {
    return this.#testLimit ?? this.#deviceLimit;
  }

  /**
   * Tests only: behave as if the device's binding limit were `bytes` (null restores it), so that
   * chunking and refusals are exercised the same way on any adapter.
   */
  setBindingLimitForTests(bytes: number | null): void {
    this.#testLimit = bytes;
  }

  /**
   * Returns a buffer of at least `bytes` bytes. Throws a {@link GpuError} naming the size and the
   * limit when one binding could not hold it.
   */
  acquire(bytes: number, what = "buffer"): GPUBuffer {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new GpuError(`${what}: invalid size ${bytes} bytes`);
    }
    if (bytes > this.maxBinding) throw new BindingLimitError(what, bytes, this.maxBinding);
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.stats.reused++;
      this.stats.freeBytes -= size;
    } else {
      buffer = this.#device.createBuffer({ size, usage: STORAGE_USAGE, label: what });
      this.stats.created++;
    }
    this.#live.add(buffer);
    this.stats.liveBytes += size;
    return buffer;
  }

  /** Gives a buffer back; it becomes reusable after the current batch is submitted. */
  release(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) return; // double release or foreign buffer: ignore
    this.stats.liveBytes -= buffer.size;
    this.#deferred.push(buffer);
  }

  /** Called after each submit: released buffers become available again. */
  endBatch(): void {
    for (const buffer of this.#deferred) {
      let list = this.#free.get(buffer.size);
      if (!list) this.#free.set(buffer.size, list = []);
      list.push(buffer);
      this.stats.freeBytes += buffer.size;
    }
    this.#deferred.length = 0;
  }

  /** Destroys every free buffer (live ones stay). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.stats.freeBytes = 0;
  }

  /** Number of buffers currently acquired and not released (leak checks in tests). */
  get liveCount(): number {
    return this.#live.size;
  }
}
