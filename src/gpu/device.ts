/**
 * WebGPU adapter and device acquisition, with loud errors.
 *
 * crossrank keeps one device per process. {@link getGpu} returns it, creating it on first use with
 * the adapter's full storage-buffer limits. WebGPU validation errors do not throw on their own: they
 * fire `uncapturederror` and the kernel then computes garbage. Every error the device reports is
 * collected here and rethrown by {@link Gpu.throwIfFailed}, which the recorder calls before each
 * submit and after each readback.
 *
 * @module
 */

/** The backend crossrank asks wgpu for unless `DENO_WEBGPU_BACKEND` is already set. */
export const DEFAULT_BACKEND = "gl";

/** Thrown when a GPU operation fails validation, runs out of memory, or the device is lost. */
export class GpuError extends Error {
  /** @param message what failed, naming the kernel (WGSL file and entry point) where known */
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** Formats a byte count for messages (`128 MiB`). */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/**
 * A buffer larger than one storage binding may be (the device's maxStorageBufferBindingSize). The
 * command-line tools add which flag or input to change ({@link BindingLimitError.what} names the
 * buffer, e.g. `flickr8k-train texts`).
 */
export class BindingLimitError extends GpuError {
  /** What the buffer was for. */
  readonly what: string;
  /** Bytes asked for. */
  readonly bytes: number;
  /** The device's limit, bytes. */
  readonly limit: number;
  /**
   * @param what what the buffer was for
   * @param bytes bytes asked for
   * @param limit the binding limit
   */
  constructor(what: string, bytes: number, limit: number) {
    super(
      `${what} needs ${formatBytes(bytes)} (${bytes} bytes), over this device's ` +
        `maxStorageBufferBindingSize of ${formatBytes(limit)}`,
    );
    this.name = "BindingLimitError";
    this.what = what;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** The device, its limits and the errors it has reported. */
export class Gpu {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** A one-line description of the adapter (for logs and result files). */
  readonly adapterName: string;
  /** The backend in use (`gl`, `vulkan`, …) as read from `DENO_WEBGPU_BACKEND`. */
  readonly backend: string;
  /** Errors reported by the device and not yet thrown. */
  #pending: string[] = [];
  #lost: string | null = null;

  /** Wraps an acquired device; use {@link getGpu} instead. */
  constructor(device: GPUDevice, adapterName: string, backend: string) {
    this.device = device;
    this.adapterName = adapterName;
    this.backend = backend;
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#pending.push(error.message.trim());
    });
    device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message || "no message"}. ` +
        "The adapter may have been reset; restart the process (training can continue with --resume).";
    });
  }

  /** Largest size in bytes of one storage-buffer binding. */
  get maxBinding(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  /** Records an error message to be thrown at the next {@link throwIfFailed}. */
  report(message: string): void {
    this.#pending.push(message);
  }

  /** Throws a {@link GpuError} if the device reported any error or was lost since the last call. */
  throwIfFailed(context = ""): void {
    if (this.#lost) throw new GpuError(this.#lost);
    if (this.#pending.length === 0) return;
    const messages = this.#pending.splice(0);
    const where = context ? ` (${context})` : "";
    throw new GpuError(
      `WebGPU reported ${messages.length} error(s)${where}:\n${messages.join("\n")}`,
    );
  }
}

let gpuPromise: Promise<Gpu> | null = null;

/** Options for {@link getGpu}. */
export interface GpuOptions {
  /** Preferred backend when `DENO_WEBGPU_BACKEND` is unset. Default {@link DEFAULT_BACKEND}. */
  backend?: string;
}

/**
 * Returns the process-wide GPU, acquiring the adapter and device on first call.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * const gpu = await getGpu();
 * console.log(gpu.adapterName);
 * ```
 */
export function getGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (!gpuPromise) {
    gpuPromise = acquire(options).catch((error) => {
      gpuPromise = null;
      throw error;
    });
  }
  return gpuPromise;
}

async function acquire(options: GpuOptions): Promise<Gpu> {
  if (!Deno.env.get("DENO_WEBGPU_BACKEND")) {
    Deno.env.set("DENO_WEBGPU_BACKEND", options.backend ?? DEFAULT_BACKEND);
  }
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND")!;
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new GpuError(
      "WebGPU is not available in this runtime: run crossrank with Deno 2 (`npx -y deno@2.9.6 task …`).",
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GpuError(
      `No WebGPU adapter found for backend '${backend}'.\n` +
        "crossrank needs a WebGPU adapter. On a Linux machine without a GPU, Mesa's llvmpipe works " +
        "through the GL backend: install Mesa (Debian: `apt-get install libegl1 libgl1-mesa-dri`) and " +
        "run with DENO_WEBGPU_BACKEND=gl (the default here). For Vulkan install `mesa-vulkan-drivers` " +
        "or your GPU's driver and set DENO_WEBGPU_BACKEND=vulkan.",
    );
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info;
  const name = info.description || `${info.vendor} ${info.device}`.trim() || "unknown adapter";
  return new Gpu(device, name, backend);
}
