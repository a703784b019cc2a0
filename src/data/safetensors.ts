/**
 * safetensors files: named tensors plus string metadata, in the standard layout.
 *
 * Layout: an 8-byte little-endian header length `N`; `N` bytes of JSON (padded with spaces so the
 * data starts 8-byte aligned) mapping each tensor name to `{dtype, shape, data_offsets: [begin,
 * end]}` (byte offsets into the data section), plus an optional `__metadata__` object of strings;
 * then the data section, little-endian, row-major.
 *
 * Read: `F32`, `F16`, `BF16` (both widened to `Float32Array`), `F64`, `I64` (narrowed to `Int32Array`
 * — an error if a value does not fit), `I32`, `I16`, `I8`, `U8`, `BOOL` (as `Uint8Array`). Written:
 * `F32`, `F64`, `I32`, `I16`, `I8`, `U8`, picked from the typed array.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * await writeSafetensors("/tmp/w.safetensors", {
 *   weight: { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) },
 * }, { step: "100" });
 * const { tensors, metadata } = await readSafetensors("/tmp/w.safetensors");
 * console.log(tensors.weight.shape, metadata.step); // [2, 2] "100"
 * ```
 *
 * @module
 */

import { DataError, readFileBytes, writeFileAtomic } from "./errors.ts";
import { bfloatsToFloat32, halfsToFloat32 } from "./float16.ts";

/** The typed arrays tensors are returned in. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** One tensor: its on-disk dtype, its shape and its values (row-major). */
export interface SafeTensor {
  /** The dtype as stored in the file (`F32`, `F16`, `I64`, …); see the module notes. */
  dtype: string;
  /** Extents (`[]` for a scalar). */
  shape: number[];
  /** The values, widened or narrowed as the module notes describe. */
  data: TensorData;
}

/** The contents of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in file order. */
  tensors: Record<string, SafeTensor>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
}

/** A tensor to write; its dtype follows the array type (`Float32Array` → `F32`, …). */
export interface TensorToWrite {
  /** Extents; their product must equal `data.length`. */
  shape: readonly number[];
  /** The values. */
  data: TensorData;
}

const ITEM_SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

/** Reads a safetensors file. See the module notes for the dtypes read. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFileBytes(path, "readSafetensors"), path);
}

/**
 * Parses the bytes of a safetensors file; `name` (a path or label) is used in error messages.
 * @throws {DataError} on a malformed header, bad offsets, or an unsupported dtype.
 */
export function parseSafetensors(bytes: Uint8Array, name: string): SafetensorsFile {
  const fail = (what: string) => new DataError(`${name}: ${what}`);
  if (bytes.length < 8) throw fail(`not a safetensors file (${bytes.length} bytes, no header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > bytes.length) {
    throw fail(
      `not a safetensors file or truncated (header length ${headerLen}, file has ${bytes.length} bytes)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)),
    );
  } catch (error) {
    throw fail(`bad header (not UTF-8 JSON): ${(error as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw fail("bad header: not a JSON object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, SafeTensor> = {};
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw fail("bad header: __metadata__ is not an object of strings");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") throw fail(`bad header: __metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `tensor '${key}'`;
    if (entry === null || typeof entry !== "object") {
      throw fail(`bad header: ${where} is not an object`);
    }
    const dtype = entry.dtype;
    if (typeof dtype !== "string") throw fail(`bad header: ${where} has no dtype`);
    const itemSize = ITEM_SIZE[dtype];
    if (itemSize === undefined) {
      throw fail(
        `${where}: unsupported dtype ${dtype} (read: ${Object.keys(ITEM_SIZE).join(", ")})`,
      );
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw fail(`bad header: ${where} has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[1] < offsets[0]
    ) {
      throw fail(`bad header: ${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * itemSize) {
      throw fail(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ` +
          `[${shape.join(", ")}] of ${dtype} needs ${count * itemSize}`,
      );
    }
    if (end > dataLen) {
      throw fail(`truncated data: ${where} ends at byte ${end}, the data section has ${dataLen}`);
    }
    tensors[key] = {
      dtype,
      shape: [...shape as number[]],
      data: decodeTensor(
        bytes,
        dataStart + begin,
        count,
        dtype,
        (what) => fail(`${where}: ${what}`),
      ),
    };
  }
  return { tensors, metadata };
}

function decodeTensor(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: string,
  fail: (what: string) => DataError,
): TensorData {
  const copy = (size: number) => bytes.slice(offset, offset + count * size).buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(copy(4));
    case "F16":
      return halfsToFloat32(bytes, offset, count);
    case "BF16":
      return bfloatsToFloat32(bytes, offset, count);
    case "F64":
      return new Float64Array(copy(8));
    case "I32":
      return new Int32Array(copy(4));
    case "I16":
      return new Int16Array(copy(2));
    case "I8":
      return new Int8Array(copy(1));
    case "U8":
    case "BOOL":
      return new Uint8Array(copy(1));
    case "I64": {
      const wide = new BigInt64Array(copy(8));
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = wide[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw fail(`I64 value ${v} at element ${i} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
  throw fail(`unsupported dtype ${dtype}`);
}

function dtypeOf(data: TensorData): string {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Int16Array) return "I16";
  if (data instanceof Int8Array) return "I8";
  if (data instanceof Uint8Array) return "U8";
  throw new TypeError("writeSafetensors: unsupported array type");
}

/** Builds the bytes of a safetensors file (tensors laid out in the order given). */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(`writeSafetensors: metadata '${k}' is not a string`);
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [key, t] of Object.entries(tensors)) {
    if (key === "__metadata__") {
      throw new RangeError("writeSafetensors: '__metadata__' is reserved");
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0) || count !== t.data.length) {
      throw new RangeError(
        `writeSafetensors: tensor '${key}' shape [${t.shape.join(", ")}] does not hold ` +
          `${t.data.length} values`,
      );
    }
    const part = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[key] = {
      dtype: dtypeOf(t.data),
      shape: [...t.shape],
      data_offsets: [offset, offset + part.length],
    };
    parts.push(part);
    offset += part.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Writes tensors and string metadata as a safetensors file, atomically (temporary file, then
 * rename).
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
