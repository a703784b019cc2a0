/**
 * A GPU tensor: an f32 array in a pooled storage buffer, with a shape and, when it was produced by
 * a differentiable op, a link to the op that made it (its {@link Creator}).
 *
 * Memory: a tensor holds a pooled buffer until {@link Tensor.dispose}. {@link scope} disposes every
 * tensor created inside it except those it returns, so a training step allocates nothing in steady
 * state (the pool hands the same buffers back).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { Tensor } from "./tensor.ts";
 * await initGpu();
 * const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
 * console.log(await t.toRows()); // [[1, 2, 3], [4, 5, 6]]
 * t.dispose();
 * ```
 *
 * @module
 */

import { rt } from "../gpu/runtime.ts";

/** A tensor shape: non-negative integer extents. */
export type Shape = readonly number[];

/** The op that produced a tensor: its inputs and how to push a gradient back through it. */
export interface Creator {
  /** Op name, for error messages and debugging. */
  op: string;
  /** The op's tensor inputs. */
  inputs: readonly Tensor[];
  /**
   * Given d loss / d output, returns d loss / d input for each input (null where an input needs
   * no gradient). Runs with gradient recording off.
   */
  backward(grad: Tensor): (Tensor | null)[];
}

/** Number of elements of a shape. */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape as `[2, 3]`. */
export function shapeString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${what}: invalid shape ${shapeString(shape)}`);
    }
  }
}

const scopes: Set<Tensor>[] = [];

/** An f32 tensor on the GPU. */
export class Tensor {
  /** Extents, row-major. */
  readonly shape: Shape;
  /** Element count. */
  readonly size: number;
  /** Whether gradients flow to this tensor. */
  requiresGrad: boolean;
  /** For leaves (parameters): the accumulated gradient after {@link backward}. */
  grad: Tensor | null = null;
  /** The op that produced it, while gradients are recorded. */
  creator: Creator | null = null;
  /** A name for messages. */
  label: string;
  #buffer: GPUBuffer | null;

  /** Allocates an uninitialised tensor; prefer the static constructors. */
  constructor(shape: Shape, options: { requiresGrad?: boolean; label?: string } = {}) {
    checkShape(shape, options.label ?? "tensor");
    this.shape = [...shape];
    this.size = shapeSize(shape);
    this.requiresGrad = options.requiresGrad ?? false;
    this.label = options.label ?? "tensor";
    this.#buffer = rt().pool.acquire(this.size * 4, `${this.label} ${shapeString(shape)}`);
    scopes.at(-1)?.add(this);
  }

  /** Creates a tensor from host data (length must equal the shape's size). */
  static from(
    data: ArrayLike<number>,
    shape: Shape = [data.length],
    options: { requiresGrad?: boolean; label?: string } = {},
  ): Tensor {
    const n = shapeSize(shape);
    if (data.length !== n) {
      throw new RangeError(
        `${options.label ?? "tensor"}: ${data.length} values do not fill shape ${
          shapeString(shape)
        }`,
      );
    }
    const t = new Tensor(shape, options);
    t.write(data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  /** Creates a 2-D tensor from equal-length rows. */
  static fromRows(rows: readonly (readonly number[])[], options: { label?: string } = {}): Tensor {
    const r = rows.length;
    const c = r === 0 ? 0 : rows[0].length;
    const data = new Float32Array(r * c);
    rows.forEach((row, i) => {
      if (row.length !== c) {
        throw new RangeError(
          `${options.label ?? "rows"}: row ${i} has ${row.length} values, row 0 has ${c}`,
        );
      }
      data.set(row, i * c);
    });
    return Tensor.from(data, [r, c], options);
  }

  /** A tensor filled with `value`. */
  static full(shape: Shape, value: number, options: { label?: string } = {}): Tensor {
    return Tensor.from(new Float32Array(shapeSize(shape)).fill(value), shape, options);
  }

  /** A tensor of zeros. */
  static zeros(shape: Shape, options: { label?: string } = {}): Tensor {
    return Tensor.full(shape, 0, options);
  }

  /** A trainable leaf tensor (requiresGrad, not owned by any scope). */
  static param(data: ArrayLike<number>, shape: Shape, label = "param"): Tensor {
    return untracked(() => Tensor.from(data, shape, { requiresGrad: true, label }));
  }

  /** The storage buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (this.#buffer === null) {
      throw new Error(`${this.label} ${shapeString(this.shape)} used after dispose()`);
    }
    return this.#buffer;
  }

  /** Whether {@link dispose} has been called. */
  get disposed(): boolean {
    return this.#buffer === null;
  }

  /** Byte length of the data. */
  get bytes(): number {
    return this.size * 4;
  }

  /** Rows of a 2-D tensor. */
  get rows(): number {
    return this.shape[0];
  }

  /** Columns of a 2-D tensor (1 for a 1-D tensor). */
  get cols(): number {
    return this.shape.length >= 2 ? this.shape[this.shape.length - 1] : 1;
  }

  /** Overwrites the data (ordered with recorded GPU work). */
  write(data: Float32Array): void {
    if (data.length !== this.size) {
      throw new RangeError(
        `${this.label}: writing ${data.length} values into shape ${shapeString(this.shape)}`,
      );
    }
    rt().upload(this.buffer, data);
  }

  /** Reads the data back (submits pending work and waits: ~11 ms on llvmpipe). */
  async read(): Promise<Float32Array> {
    return new Float32Array(await rt().read(this.buffer, this.bytes));
  }

  /** Reads a 2-D tensor back as rows. */
  async toRows(): Promise<number[][]> {
    const data = await this.read();
    const c = this.cols;
    return Array.from(
      { length: this.size / Math.max(c, 1) },
      (_, i) => Array.from(data.subarray(i * c, (i + 1) * c)),
    );
  }

  /** Reads a one-element tensor back as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`${this.label}: item() of ${this.size} elements`);
    return (await this.read())[0];
  }

  /** Returns the buffer to the pool. Safe to call twice. */
  dispose(): void {
    if (this.#buffer === null) return;
    rt().pool.release(this.#buffer);
    this.#buffer = null;
    for (const s of scopes) s.delete(this);
  }
}

/**
 * Reads several tensors back with one GPU wait (see {@link Tensor.read}, one wait each).
 *
 * @example
 * ```ts
 * const [a, b] = await readTensors([x, y]); // Float32Arrays, in order
 * ```
 */
export async function readTensors(tensors: readonly Tensor[]): Promise<Float32Array[]> {
  const parts = await rt().readMany(tensors.map((t) => ({ buffer: t.buffer, bytes: t.bytes })));
  return parts.map((p) => new Float32Array(p));
}

/** Runs `fn` with new tensors not owned by any enclosing scope. */
export function untracked<T>(fn: () => T): T {
  const saved = scopes.splice(0);
  try {
    return fn();
  } finally {
    scopes.push(...saved);
  }
}

/** Removes tensors from the scopes that own them, so they outlive the scope. Returns the input. */
export function keep<T extends Tensor | null | undefined>(tensor: T): T {
  if (tensor) { for (const s of scopes) s.delete(tensor); }
  return tensor;
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) { for (const v of value) collectTensors(v, out); }
  else if (
    value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const v of Object.values(value)) collectTensors(v, out);
  }
}

/**
 * Runs `fn`; every tensor created inside and not returned (directly, in an array, or in a plain
 * object) is disposed at the end. Returned tensors move to the enclosing scope.
 *
 * @example
 * ```ts
 * import { scope, Tensor } from "./tensor.ts";
 * const sum = scope(() => {
 *   const a = Tensor.from([1, 2]);
 *   return a; // survives; anything else made here is disposed
 * });
 * ```
 */
export function scope<T>(fn: () => T): T {
  const owned = new Set<Tensor>();
  scopes.push(owned);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    for (const t of owned) t.dispose();
    throw error;
  } finally {
    scopes.splice(scopes.indexOf(owned), 1);
  }
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  for (const t of owned) if (!survivors.has(t)) t.dispose();
  const parent = scopes.at(-1);
  if (parent) { for (const t of survivors) if (owned.has(t)) parent.add(t); }
  return result;
}
