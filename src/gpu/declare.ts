/**
 * One declaration per kernel. A {@link KernelDecl} names a WGSL file of `kernels/`, its entry
 * points, its storage bindings (name, access, element type), its uniform parameters (name, type),
 * its constants and its pipeline overrides. From it:
 *
 * - the WGSL header is generated — the prelude (`./prelude.ts`), `const WG` (the workgroup size),
 *   the constants, the overrides, `struct Params` with `var<uniform> p: Params` and one
 *   `var<storage>` per binding in declaration order — and prepended to the file, which then holds
 *   only functions and entry points;
 * - the launcher is typed: an entry, binding, parameter or override name the declaration does not
 *   list is a TypeScript error, and a required binding left out is one too;
 * - TypeScript reads the constants from {@link Kernel.constants}, the same values the WGSL sees.
 *
 * Unset optional bindings are bound to 16-byte dummy buffers (a distinct one per unset read-write
 * slot: one buffer may not back two writable bindings of a dispatch); unset parameters are 0.
 * A {@link sampler} binding is not passed: every launch binds the runtime's one nearest-texel
 * sampler.
 *
 * @example
 * ```ts
 * import { declareKernel, read, readWrite } from "./declare.ts";
 * const SCALE = declareKernel({
 *   file: "scale",
 *   entries: ["scale"],
 *   workgroupSize: 64,
 *   bindings: { x: read("f32"), out: readWrite("f32") },
 *   params: { n: "u32", alpha: "f32" },
 * });
 * // kernels/scale.wgsl then starts at `@compute @workgroup_size(WG) fn scale(…)`; launch with
 * // SCALE.launch("scale", { x, out }, { n, alpha: 2 }, n) — one invocation per element.
 * ```
 *
 * @module
 */

import { GpuError } from "./device.ts";
import { type Access, defineWgslHeader, type KernelSpec, wgslFile } from "./kernel.ts";
import {
  type Constant,
  constantLines,
  preludeSource,
  type Scalar,
  type Values,
  valuesOf,
} from "./prelude.ts";
import { groups1d, Params, rt } from "./runtime.ts";

/**
 * Workgroup counts read on the GPU at launch (see `IndirectGroups` in `./runtime.ts`): three `u32`
 * at byte `offset` of `indirect`'s buffer.
 */
export interface Indirect {
  /** The buffer (or a tensor holding it) with the counts. */
  readonly indirect: GPUBuffer | { readonly buffer: GPUBuffer };
  /** Byte offset of x (a multiple of 4). */
  readonly offset: number;
}

/**
 * Element type of a storage binding (`array<…>`), `texture_2d<f32>` for a texture binding, or
 * `sampler` for a sampler binding.
 */
export type Element = Scalar | "vec4<f32>" | "atomic<u32>" | "texture_2d<f32>" | "sampler";

/** One storage binding. */
export interface BindingDecl {
  /** `read` or `read_write`. */
  readonly access: Access;
  /** Element type. */
  readonly type: Element;
  /** May be left unset at launch (bound to a dummy). */
  readonly optional?: boolean;
  /** Extra WGSL names of the same binding with other element types (an entry uses one of them). */
  readonly views?: Readonly<Record<string, Element>>;
}

/** Options of a binding besides access and type. */
export interface BindingOptions {
  /** See {@link BindingDecl.optional}. */
  readonly optional?: boolean;
  /** See {@link BindingDecl.views}. */
  readonly views?: Readonly<Record<string, Element>>;
}

/** A read-only storage binding of `type` elements. */
export function read<const O extends BindingOptions = Record<never, never>>(
  type: Element,
  options?: O,
): { readonly access: "read"; readonly type: Element } & O {
  return { access: "read", type, ...options } as { access: "read"; type: Element } & O;
}

/**
 * A `texture_2d<f32>` binding of an unfilterable float format (`rgba32float`); launches pass a
 * `GPUTextureView`. Read it with `textureLoad`, or at texel centres through a {@link sampler}.
 */
export function texture(): { readonly access: "texture"; readonly type: "texture_2d<f32>" } {
  return { access: "texture", type: "texture_2d<f32>" };
}

/**
 * A non-filtering `sampler` binding. Launches do not pass it: each binds the runtime's one
 * nearest-texel sampler (`Runtime.nearestSampler`: nearest filters, clamped to the edge), so a
 * `textureSampleLevel` at a texel's centre returns that texel exactly. On llvmpipe it reads faster
 * than `textureLoad`, which naga wraps in a bounds check (`kernels/matmul_tex.wgsl`).
 */
export function sampler(): { readonly access: "sampler"; readonly type: "sampler" } {
  return { access: "sampler", type: "sampler" };
}

/** A read-write storage binding of `type` elements. */
export function readWrite<const O extends BindingOptions = Record<never, never>>(
  type: Element,
  options?: O,
): { readonly access: "read_write"; readonly type: Element } & O {
  return { access: "read_write", type, ...options } as { access: "read_write"; type: Element } & O;
}

/** The declaration of one WGSL file of `kernels/`. */
export interface KernelDecl {
  /** File name under `kernels/`, without `.wgsl`. */
  readonly file: string;
  /** Its entry points. */
  readonly entries: readonly string[];
  /** `@workgroup_size(WG)` of its 1-D entries: generated as `const WG`, used by {@link Kernel.launch}. */
  readonly workgroupSize?: number;
  /** Storage bindings, in binding order (binding i is the i-th key). */
  readonly bindings: Readonly<Record<string, BindingDecl>>;
  /** Uniform parameters, in field order (`p.<name>` in the WGSL); none: no uniform binding. */
  readonly params?: Readonly<Record<string, Scalar>>;
  /** Constants of the file (`const NAME` in the WGSL, {@link Kernel.constants} in TypeScript). */
  readonly constants?: Readonly<Record<string, Constant>>;
  /** Pipeline-overridable `u32` constants with their defaults (`override NAME` in the WGSL). */
  readonly overrides?: Readonly<Record<string, number>>;
  /**
   * Files of `kernels/` whose functions this one uses (the family's shared code, declared with the
   * same bindings); their text precedes this file's in the module.
   */
  readonly includes?: readonly string[];
}

/**
 * A buffer given to a binding: a `GPUBuffer`, or anything holding one (a `Tensor`); a
 * `GPUTextureView` for a texture binding.
 */
export type GpuData = GPUBuffer | GPUTextureView | { readonly buffer: GPUBuffer };

type OptionalKeys<B> = { [K in keyof B]: B[K] extends { optional: true } ? K : never }[keyof B];
type SamplerKeys<B> = { [K in keyof B]: B[K] extends { access: "sampler" } ? K : never }[keyof B];

/**
 * The bindings argument of a launch: every declared binding but the samplers (the runtime binds
 * those), the optional ones may be unset.
 */
export type BindingArgs<B> =
  & { readonly [K in Exclude<keyof B, OptionalKeys<B> | SamplerKeys<B>>]: GpuData }
  & { readonly [K in Exclude<OptionalKeys<B>, SamplerKeys<B>>]?: GpuData };

/** The parameters argument of a launch (unset ones are 0). */
export type ParamArgs<P> = { readonly [K in keyof P]?: number };

/** The overrides argument of a launch (unset ones keep their declared default). */
export type OverrideArgs<O> = { readonly [K in keyof O]?: number };

/** An entry point of `D`. */
export type EntryOf<D extends KernelDecl> = D["entries"][number];

const dummies = new WeakMap<GPUDevice, GPUBuffer[]>();

/** Dummy `i` of the device: 0 backs every unset read slot, 1, 2, … the unset read-write slots. */
function dummy(i: number): GPUBuffer {
  const device = rt().device;
  let list = dummies.get(device);
  if (!list) dummies.set(device, list = []);
  while (list.length <= i) {
    list.push(device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE,
      label: `unused binding ${list.length}`,
    }));
  }
  return list[i];
}

/** A declared kernel: its generated header and its typed launcher. */
export class Kernel<D extends KernelDecl> {
  /** The declaration. */
  readonly decl: D;
  /** The declared constants, as numbers. */
  readonly constants: Values<NonNullable<D["constants"]>>;
  readonly #names: string[];
  readonly #storage: Access[];
  readonly #params: [string, Scalar][];

  /** Declares `decl` (see {@link declareKernel}). */
  constructor(decl: D) {
    this.decl = decl;
    this.constants = valuesOf(decl.constants ?? {}) as Values<NonNullable<D["constants"]>>;
    this.#names = Object.keys(decl.bindings);
    this.#storage = this.#names.map((n) => decl.bindings[n].access);
    this.#params = Object.entries(decl.params ?? {});
    defineWgslHeader(decl.file, () => this.header());
  }

  /** The generated WGSL that precedes `kernels/<file>.wgsl` in its module. */
  header(): string {
    const d = this.decl;
    const lines = [
      preludeSource(),
      `// ---- kernels/${d.file}.wgsl: generated from its declaration in src/gpu/kernels.ts ----`,
    ];
    if (d.workgroupSize) lines.push(`const WG: u32 = ${d.workgroupSize}u;`);
    lines.push(...constantLines(d.constants ?? {}));
    for (const [name, value] of Object.entries(d.overrides ?? {})) {
      lines.push(`override ${name}: u32 = ${value}u;`);
    }
    if (this.#params.length > 0) {
      lines.push("struct Params {", ...this.#params.map(([n, t]) => `  ${n}: ${t},`), "}");
    }
    this.#names.forEach((name, i) => {
      const b = d.bindings[name];
      const views = Object.entries({ [name]: b.type, ...b.views });
      for (const [view, type] of views) {
        lines.push(
          b.access === "texture" || b.access === "sampler"
            ? `@group(0) @binding(${i}) var ${view}: ${type};`
            : `@group(0) @binding(${i}) var<storage, ${b.access}> ${view}: array<${type}>;`,
        );
      }
    });
    if (this.#params.length > 0) {
      lines.push(`@group(0) @binding(${this.#names.length}) var<uniform> p: Params;`);
    }
    for (const file of d.includes ?? []) {
      lines.push(`// ---- kernels/${file}.wgsl ----`, wgslFile(file));
    }
    return lines.join("\n");
  }

  /** The pipeline spec of `entry` with `overrides`. */
  spec(entry: EntryOf<D>, overrides?: OverrideArgs<D["overrides"]>): KernelSpec {
    if (!this.decl.entries.includes(entry)) {
      throw new GpuError(`kernels/${this.decl.file}.wgsl has no declared entry point '${entry}'`);
    }
    const given = Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined);
    for (const [name] of given) {
      if (!(name in (this.decl.overrides ?? {}))) {
        throw new GpuError(`kernel ${this.decl.file}.wgsl:${entry}: unknown override '${name}'`);
      }
    }
    return {
      file: this.decl.file,
      entry,
      storage: this.#storage,
      uniform: this.#params.length > 0,
      constants: given.length > 0 ? Object.fromEntries(given) as Record<string, number> : undefined,
    };
  }

  /**
   * Records a dispatch of `entry` over `workgroups` into the open batch; {@link Indirect} counts
   * are read by the GPU when it runs (0: an empty dispatch).
   */
  dispatch(
    entry: EntryOf<D>,
    bindings: BindingArgs<D["bindings"]>,
    params: ParamArgs<D["params"]>,
    workgroups: readonly [number, number?, number?] | Indirect,
    overrides?: OverrideArgs<D["overrides"]>,
  ): void {
    const spec = this.spec(entry, overrides);
    const where = `kernel ${this.decl.file}.wgsl:${entry}`;
    const given = bindings as Readonly<Record<string, GpuData | undefined>>;
    for (const name of Object.keys(given)) {
      if (!this.#names.includes(name)) throw new GpuError(`${where}: unknown binding '${name}'`);
    }
    let unset = 0;
    const buffers = this.#names.map((name, i) => {
      const data = given[name];
      if (this.#storage[i] === "sampler") {
        if (data !== undefined) {
          throw new GpuError(`${where}: binding '${name}' is the runtime's sampler, not passed`);
        }
        return rt().nearestSampler;
      }
      if (data !== undefined) {
        const texture = this.#storage[i] === "texture";
        if (texture !== data instanceof GPUTextureView) {
          throw new GpuError(
            `${where}: binding '${name}' takes a ${texture ? "texture view" : "buffer"}`,
          );
        }
        return data instanceof GPUBuffer || data instanceof GPUTextureView ? data : data.buffer;
      }
      if (!this.decl.bindings[name].optional) {
        throw new GpuError(`${where}: binding '${name}' is required`);
      }
      return dummy(this.#storage[i] === "read" ? 0 : ++unset);
    });
    let uniform: Params | null = null;
    if (this.#params.length > 0) {
      const values = params as Readonly<Record<string, number | undefined>>;
      for (const name of Object.keys(values)) {
        if (!this.#params.some(([n]) => n === name)) {
          throw new GpuError(`${where}: unknown parameter '${name}'`);
        }
      }
      uniform = new Params();
      for (const [name, type] of this.#params) uniform[type](values[name] ?? 0);
    }
    const groups = "indirect" in workgroups
      ? {
        indirect: workgroups.indirect instanceof GPUBuffer
          ? workgroups.indirect
          : workgroups.indirect.buffer,
        offset: workgroups.offset,
      }
      : workgroups;
    rt().dispatch(spec, buffers, uniform, groups);
  }

  /**
   * Records `entry` with one invocation per unit of work (`invocations` of them, in workgroups of
   * the declared size spread over x and y, see `groups1d`).
   */
  launch(
    entry: EntryOf<D>,
    bindings: BindingArgs<D["bindings"]>,
    params: ParamArgs<D["params"]>,
    invocations: number,
    overrides?: OverrideArgs<D["overrides"]>,
  ): void {
    const size = this.decl.workgroupSize;
    if (!size) throw new GpuError(`kernels/${this.decl.file}.wgsl declares no workgroup size`);
    this.dispatch(entry, bindings, params, groups1d(Math.ceil(invocations / size)), overrides);
  }
}

/**
 * Declares a kernel (see the module docs): returns its typed launcher and registers its generated
 * header, so that compiling `kernels/<file>.wgsl` compiles the header followed by the file.
 */
export function declareKernel<const D extends KernelDecl>(decl: D): Kernel<D> {
  return new Kernel(decl);
}
