/**
 * WGSL kernels: loading, compiling once per device, and checked pipeline creation.
 *
 * A kernel is named by its WGSL file under `kernels/` and an entry point. Binding convention: group
 * 0; storage buffers at bindings 0..n-1 in the order of {@link KernelSpec.storage}; when the kernel
 * takes parameters, a uniform buffer at binding n. The kernels of `kernels/` are declared in
 * `./kernels.ts`, which generates their bindings (see `./declare.ts`).
 *
 * @module
 */

import { GpuError } from "./device.ts";

/**
 * How a kernel uses each binding: a storage buffer read or read and written, (`texture`) a sampled
 * `texture_2d<f32>` of an unfilterable float format (`rgba32float`), or (`sampler`) a
 * non-filtering sampler (the runtime's nearest-texel one, see `Runtime.nearestSampler`).
 */
export type Access = "read" | "read_write" | "texture" | "sampler";

/** Describes one compute entry point. */
export interface KernelSpec {
  /** WGSL file name under `kernels/`, without `.wgsl` (e.g. `matmul`). */
  file: string;
  /** Entry point function name. */
  entry: string;
  /** Access mode of bindings 0..n-1 (storage buffers, or textures and samplers where so marked). */
  storage: readonly Access[];
  /** Whether binding `storage.length` is a uniform parameter buffer. */
  uniform?: boolean;
  /** Pipeline-overridable constants (`override` declarations in the WGSL). */
  constants?: Record<string, number>;
}

const bodies = new Map<string, string>();
const headers = new Map<string, () => string>();

/** `CROSSRANK_LOG_COMPILES=1` prints each pipeline compile and its time to stderr. */
const LOG_COMPILES = Boolean(Deno.env.get("CROSSRANK_LOG_COMPILES"));

/** Directory holding the `.wgsl` files. */
export const KERNEL_DIR = new URL("../../kernels/", import.meta.url);

/** The text of `kernels/<file>.wgsl` as it is on disk (read once per process). */
export function wgslFile(file: string): string {
  let code = bodies.get(file);
  if (code === undefined) {
    const url = new URL(`${file}.wgsl`, KERNEL_DIR);
    try {
      code = Deno.readTextFileSync(url);
    } catch (error) {
      throw new GpuError(
        `cannot read kernel source ${url.pathname}: ${(error as Error).message}`,
      );
    }
    bodies.set(file, code);
  }
  return code;
}

/**
 * Sets the generated header of `kernels/<file>.wgsl` (the prelude and the declared bindings, see
 * `./declare.ts`): the module compiled for the file is the header followed by the file.
 */
export function defineWgslHeader(file: string, header: () => string): void {
  headers.set(file, header);
}

/** Lines of the generated header of `file` (0 without one), for error messages. */
function headerLines(file: string): number {
  const header = headers.get(file);
  return header ? header().split("\n").length : 0;
}

/** The WGSL module of `file`: its generated header (if declared), then `kernels/<file>.wgsl`. */
export function wgslSource(file: string): string {
  const header = headers.get(file);
  return header ? `${header()}\n${wgslFile(file)}` : wgslFile(file);
}

/** Registers WGSL source under a name without a file (tests of broken kernels). */
export function defineWgslSource(file: string, code: string): void {
  bodies.set(file, code);
}

/** A line that opens an unrolled (`//#for`) or conditional (`//#if`) block. */
const TEMPLATE = /^\s*\/\/#(for|if) /m;

/**
 * Explicit unrolling, so that register blocking does not depend on one compiler's loop unrolling:
 * the lines between `//#for i < N` and its `//#end` are repeated for i = 0 … N-1 with `{i}`
 * replaced by the number (blocks nest). `N` is a number or the name of an `override` of the
 * module, whose value is the pipeline constant given (else its declared default). Likewise
 * `//#if X` … (`//#else` …) `//#end` keeps its first part when the override `X` is not 0, else
 * the second, so variants differ in source, not in branches left to the compiler. The module is
 * then compiled once per set of pipeline constants ({@link PipelineCache}).
 */
export function expandUnrolls(source: string, constants: Record<string, number>): string {
  const defaults = new Map(
    [...source.matchAll(/override (\w+): u32 = (\d+)u;/g)].map((m) => [m[1], Number(m[2])]),
  );
  const value = (name: string, what: string): number => {
    const v = /^\d+$/.test(name) ? Number(name) : constants[name] ?? defaults.get(name);
    if (v === undefined) throw new GpuError(`${what} '${name}' is not an override`);
    return v;
  };
  const lines = source.split("\n");
  const opens = (line: string) => TEMPLATE.test(line);
  const ends = (line: string) => /^\s*\/\/#end\s*$/.test(line);
  const expand = (from: number, to: number, vars: Record<string, number>): string[] => {
    const out: string[] = [];
    for (let l = from; l < to; l++) {
      const loop = lines[l].match(/^\s*\/\/#for (\w+) < (\w+)\s*$/);
      const cond = lines[l].match(/^\s*\/\/#if (\w+)\s*$/);
      if (!loop && !cond) {
        if (ends(lines[l])) throw new GpuError(`unmatched //#end, line ${l + 1}`);
        if (/^\s*\/\/#else\s*$/.test(lines[l])) {
          throw new GpuError(`unmatched //#else, line ${l + 1}`);
        }
        out.push(lines[l].replace(/\{(\w+)\}/g, (m, v) => v in vars ? String(vars[v]) : m));
        continue;
      }
      // The block's end, and (for //#if) its //#else at the same depth.
      let depth = 1;
      let end = l + 1;
      let otherwise = -1;
      for (; end < to; end++) {
        if (opens(lines[end])) depth++;
        if (ends(lines[end]) && --depth === 0) break;
        if (cond && depth === 1 && /^\s*\/\/#else\s*$/.test(lines[end])) otherwise = end;
      }
      if (end >= to) throw new GpuError(`//#${loop ? "for" : "if"} without //#end, line ${l + 1}`);
      if (loop) {
        for (let i = 0; i < value(loop[2], "unroll bound"); i++) {
          out.push(...expand(l + 1, end, { ...vars, [loop[1]]: i }));
        }
      } else {
        const split = otherwise >= 0 ? otherwise : end;
        if (value(cond![1], "condition") !== 0) out.push(...expand(l + 1, split, vars));
        else if (otherwise >= 0) out.push(...expand(otherwise + 1, end, vars));
      }
      l = end;
    }
    return out;
  };
  return expand(0, lines.length, {}).join("\n");
}

/** A compiled kernel: pipeline plus the layout its bind groups use. */
export interface CompiledKernel {
  /** The spec it was built from. */
  spec: KernelSpec;
  /** `file.wgsl:entry`, used in every error message. */
  name: string;
  /** The compute pipeline. */
  pipeline: GPUComputePipeline;
  /** Its bind group layout (group 0). */
  layout: GPUBindGroupLayout;
  /** A small integer id for bind-group cache keys. */
  id: number;
}

function specKey(spec: KernelSpec): string {
  const c = spec.constants ? JSON.stringify(spec.constants) : "";
  return `${spec.file}:${spec.entry}:${spec.storage.join(",")}:${spec.uniform ? 1 : 0}:${c}`;
}

/** Compiles kernels once per device and remembers them. */
export class PipelineCache {
  #device: GPUDevice;
  #cache = new Map<string, CompiledKernel>();
  #modules = new Map<string, GPUShaderModule>();
  #checks: Promise<string | null>[] = [];
  #nextId = 1;

  /** @param device the device pipelines are created on */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Number of distinct pipelines compiled so far. */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * Returns the compiled kernel, creating it synchronously on first use. A compile or validation
   * error is checked asynchronously and thrown by {@link PipelineCache.checkPending}.
   */
  get(spec: KernelSpec): CompiledKernel {
    const key = specKey(spec);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const { kernel, check } = this.#create(spec);
    this.#cache.set(key, kernel);
    this.#checks.push(check);
    return kernel;
  }

  /** Compiles a kernel and throws a readable {@link GpuError} if its WGSL is invalid. */
  async compile(spec: KernelSpec): Promise<CompiledKernel> {
    const key = specKey(spec);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const { kernel, check } = this.#create(spec);
    const problem = await check;
    if (problem) throw new GpuError(problem);
    this.#cache.set(key, kernel);
    return kernel;
  }

  /** Awaits the checks of kernels created since the last call and throws the first failure. */
  async checkPending(): Promise<void> {
    if (this.#checks.length === 0) return;
    const checks = this.#checks.splice(0);
    const problems = (await Promise.all(checks)).filter((p) => p !== null);
    if (problems.length > 0) throw new GpuError(problems.join("\n"));
  }

  #module(file: string, constants?: Record<string, number>): GPUShaderModule {
    const source = wgslSource(file);
    const template = TEMPLATE.test(source);
    // A file with explicit unrolling compiles one module per set of constants (its loop bounds).
    const key = template ? `${file}:${JSON.stringify(constants ?? {})}` : file;
    let module = this.#modules.get(key);
    if (!module) {
      const code = template ? expandUnrolls(source, constants ?? {}) : source;
      module = this.#device.createShaderModule({ code, label: `${file}.wgsl` });
      this.#modules.set(key, module);
    }
    return module;
  }

  #create(spec: KernelSpec): { kernel: CompiledKernel; check: Promise<string | null> } {
    const name = `${spec.file}.wgsl:${spec.entry}`;
    const device = this.#device;
    device.pushErrorScope("validation");
    const module = this.#module(spec.file, spec.constants);
    const entries: GPUBindGroupLayoutEntry[] = spec.storage.map((access, binding) => {
      const visibility = GPUShaderStage.COMPUTE;
      if (access === "texture") {
        return { binding, visibility, texture: { sampleType: "unfilterable-float" } };
      }
      if (access === "sampler") return { binding, visibility, sampler: { type: "non-filtering" } };
      const type = access === "read" ? "read-only-storage" : "storage";
      return { binding, visibility, buffer: { type } };
    });
    if (spec.uniform) {
      entries.push({
        binding: spec.storage.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform" },
      });
    }
    const layout = device.createBindGroupLayout({ entries, label: name });
    const started = performance.now();
    const pipeline = device.createComputePipeline({
      label: name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout], label: name }),
      compute: { module, entryPoint: spec.entry, constants: spec.constants },
    });
    if (LOG_COMPILES) {
      const c = spec.constants ? ` ${JSON.stringify(spec.constants)}` : "";
      console.error(`compiled ${name}${c} in ${(performance.now() - started).toFixed(0)} ms`);
    }
    const scope = device.popErrorScope();
    const check = (async () => {
      const error = await scope;
      if (!error) return null;
      const info = await module.getCompilationInfo();
      const offset = headerLines(spec.file);
      const where = (line: number) =>
        line > offset ? `line ${line - offset}` : `module line ${line} (generated header)`;
      const lines = info.messages.map((m) =>
        `  ${m.type} at ${where(m.lineNum)}:${m.linePos}: ${m.message.trim().split("\n")[0]}`
      );
      const detail = lines.length > 0 ? lines.join("\n") : `  ${error.message.trim()}`;
      return `kernel ${name} failed to compile or validate:\n${detail}`;
    })();
    return { kernel: { spec, name, pipeline, layout, id: this.#nextId++ }, check };
  }
}
