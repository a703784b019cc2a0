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
 * Validation is that of the reference implementation (the Rust `safetensors` crate), plus a check
 * for repeated keys: see {@link parseSafetensorsHeader}. A file is checked against its size before
 * its data is read, and the data is read straight into the arrays returned.
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

import { DataError, writeFileAtomic } from "./errors.ts";
import { bfloatsToFloat32, halfsToFloat32 } from "./float16.ts";
import { parseJsonStrict } from "./json.ts";
import { checkFitsInMemory, openBinaryFile, READ_CHUNK_BYTES } from "./binary_file.ts";

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

/** What the header says about one tensor (validated: see {@link readSafetensorsHeader}). */
export interface TensorInfo {
  /** The dtype as stored (`F32`, `F16`, …). */
  dtype: string;
  /** Extents (`[]` for a scalar). */
  shape: number[];
  /** `[begin, end)` byte offsets into the data section. */
  dataOffsets: [number, number];
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** Tensors by name, in header order. */
  tensors: Record<string, TensorInfo>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
}

/** A tensor to write; its dtype follows the array type (`Float32Array` → `F32`, …). */
export interface TensorToWrite {
  /** Extents; their product must equal `data.length`. */
  shape: readonly number[];
  /** The values. */
  data: TensorData;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** Read only these tensors (the header is still validated whole); default all. */
  only?: readonly string[];
}

/** How a stored dtype becomes the array returned: item size, and a converter when not a copy. */
interface Decoding {
  size: number;
  alloc(count: number): TensorData;
  /** Converts whole items of `src` into `out` from element `at`; absent: the bytes are copied. */
  convert?(src: Uint8Array, out: TensorData, at: number, fail: (what: string) => DataError): void;
}

const DECODINGS: Record<string, Decoding> = {
  F64: { size: 8, alloc: (n) => new Float64Array(n) },
  F32: { size: 4, alloc: (n) => new Float32Array(n) },
  F16: {
    size: 2,
    alloc: (n) => new Float32Array(n),
    convert: (src, out, at) => halfsToFloat32(src, 0, src.length / 2, out as Float32Array, at),
  },
  BF16: {
    size: 2,
    alloc: (n) => new Float32Array(n),
    convert: (src, out, at) => bfloatsToFloat32(src, 0, src.length / 2, out as Float32Array, at),
  },
  I64: {
    size: 8,
    alloc: (n) => new Int32Array(n),
    convert: (src, out, at, fail) => {
      const view = new DataView(src.buffer, src.byteOffset, src.length);
      for (let i = 0; i < src.length / 8; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw fail(`I64 value ${v} at element ${at + i} does not fit in int32`);
        }
        out[at + i] = Number(v);
      }
    },
  },
  I32: { size: 4, alloc: (n) => new Int32Array(n) },
  I16: { size: 2, alloc: (n) => new Int16Array(n) },
  I8: { size: 1, alloc: (n) => new Int8Array(n) },
  U8: { size: 1, alloc: (n) => new Uint8Array(n) },
  BOOL: { size: 1, alloc: (n) => new Uint8Array(n) },
};

/** Item sizes of the format's other dtypes: a file holding them is laid out but not read. */
const UNREAD_SIZES: Record<string, number> = { U16: 2, U32: 4, U64: 8, F8_E5M2: 1, F8_E4M3: 1 };

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * The header length from a file's first 8 bytes, checked against the limit and the file size.
 * @throws {DataError} naming the file
 */
function headerLength(first: Uint8Array, fileSize: number, name: string): number {
  if (fileSize < 8) {
    throw new DataError(`${name}: not a safetensors file (${fileSize} bytes, no header)`);
  }
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new DataError(
      `${name}: not a safetensors file: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte ` +
        "limit of the format's reference implementation",
    );
  }
  if (8 + Number(n) > fileSize) {
    throw new DataError(
      `${name}: not a safetensors file or truncated: header length ${n}, the file has ` +
        `${fileSize} bytes`,
    );
  }
  return Number(n);
}

/**
 * Validates a header (its JSON bytes) against the size of the whole file, as the reference
 * implementation (the Rust `safetensors` crate) does, and returns what it says. Checked: UTF-8 JSON
 * object with no repeated key; `__metadata__` an object of strings; each tensor's dtype, shape
 * (no overflow) and `data_offsets`, whose length must equal shape × dtype size; sorted by offset,
 * the tensors tile the data section exactly — from 0, no gap, no overlap, ending at the end of the
 * file. Every fault names the file, the tensor and the offsets.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileSize: number,
  name: string,
): SafetensorsHeader {
  const fail = (what: string) => new DataError(`${name}: ${what}`);
  const dataStart = 8 + json.length;
  const dataLen = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    throw fail("bad header (not UTF-8)");
  }
  if (!text.startsWith("{")) {
    throw fail(`bad header: not a JSON object (starts with ${JSON.stringify(text.slice(0, 20))})`);
  }
  const header = parseJsonStrict(text, `${name}: bad header`);
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw fail("bad header: not a JSON object");
  }
  const tensors: Record<string, TensorInfo> = {};
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
    tensors[key] = tensorInfo(key, value, fail);
  }
  checkLayout(tensors, dataLen, fail);
  return { tensors, metadata, dataStart };
}

function tensorInfo(key: string, value: unknown, fail: (what: string) => DataError): TensorInfo {
  const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const where = `tensor '${key}'`;
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw fail(`bad header: ${where} is not an object`);
  }
  const dtype = entry.dtype;
  if (typeof dtype !== "string") throw fail(`bad header: ${where} has no dtype`);
  const itemSize = DECODINGS[dtype]?.size ?? UNREAD_SIZES[dtype];
  if (itemSize === undefined) {
    throw fail(
      `${where}: unsupported dtype ${JSON.stringify(dtype)} (read: ${
        Object.keys(DECODINGS).join(", ")
      })`,
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
  let bytes = itemSize;
  for (const d of shape as number[]) bytes *= d;
  if (!Number.isSafeInteger(bytes)) {
    throw fail(`${where}: shape [${shape.join(", ")}] of ${dtype} overflows (too many elements)`);
  }
  if (end - begin !== bytes) {
    throw fail(
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ` +
        `[${shape.join(", ")}] of ${dtype} needs ${bytes}`,
    );
  }
  return { dtype, shape: [...shape as number[]], dataOffsets: [begin, end] };
}

/** Sorted by offset, the tensors must tile `[0, dataLen)` exactly. */
function checkLayout(
  tensors: Record<string, TensorInfo>,
  dataLen: number,
  fail: (what: string) => DataError,
): void {
  const sorted = Object.entries(tensors).sort(([, a], [, b]) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]
  );
  const span = ([name, t]: [string, TensorInfo]) =>
    `tensor '${name}' [${t.dataOffsets[0]}, ${t.dataOffsets[1]}]`;
  let end = 0;
  for (let i = 0; i < sorted.length; i++) {
    const [begin, stop] = sorted[i][1].dataOffsets;
    if (begin < end) {
      throw fail(
        `${span(sorted[i])} overlaps ${span(sorted[i - 1])} in the data section (tensors ` +
          "must not share bytes)",
      );
    }
    if (begin > end) {
      throw fail(
        `bytes [${end}, ${begin}) of the data section belong to no tensor (before ` +
          `${span(sorted[i])}${i > 0 ? `, after ${span(sorted[i - 1])}` : ""})`,
      );
    }
    end = stop;
  }
  const last = sorted.length > 0 ? `after ${span(sorted[sorted.length - 1])}` : "(no tensors)";
  if (end < dataLen) {
    throw fail(
      `${dataLen - end} unexpected bytes at the end of the data section ${last}: the data ` +
        `section has ${dataLen} bytes, the tensors end at ${end}`,
    );
  }
  if (end > dataLen) {
    const lastName = sorted[sorted.length - 1][0];
    throw fail(
      `truncated data: tensor '${lastName}' ends at byte ${end}, the data section has ${dataLen}`,
    );
  }
}

/** Reads and validates the header of a safetensors file without reading its data. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const file = await openBinaryFile(path, "readSafetensors");
  try {
    const n = headerLength(await file.read(0, Math.min(8, file.size)), file.size, path);
    return parseSafetensorsHeader(await file.read(8, n), file.size, path);
  } finally {
    file.close();
  }
}

/**
 * Reads a safetensors file (see the module notes for the dtypes read). The header is validated
 * against the file size before any data is read; each tensor is then read straight into the array
 * returned (float16, bfloat16 and int64 converted chunk by chunk), so peak memory stays near the
 * size of the data.
 */
export async function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const file = await openBinaryFile(path, "readSafetensors");
  try {
    const n = headerLength(await file.read(0, Math.min(8, file.size)), file.size, path);
    const header = parseSafetensorsHeader(await file.read(8, n), file.size, path);
    const wanted = selected(header, options, path);
    let total = 0;
    for (const [, t] of wanted) total += DECODINGS[t.dtype].size * count(t);
    checkFitsInMemory(total, path);
    const tensors: Record<string, SafeTensor> = {};
    for (const [key, t] of wanted) {
      const d = DECODINGS[t.dtype];
      const items = count(t);
      const out = d.alloc(items);
      const at = header.dataStart + t.dataOffsets[0];
      const fail = (what: string) => new DataError(`${path}: tensor '${key}': ${what}`);
      if (!d.convert) {
        await file.readInto(at, new Uint8Array(out.buffer));
      } else {
        const step = Math.max(1, Math.floor(READ_CHUNK_BYTES / d.size));
        for (let i = 0; i < items; i += step) {
          const m = Math.min(step, items - i);
          d.convert(await file.read(at + i * d.size, m * d.size), out, i, fail);
        }
      }
      tensors[key] = { dtype: t.dtype, shape: [...t.shape], data: out };
    }
    return { tensors, metadata: header.metadata };
  } finally {
    file.close();
  }
}

/**
 * Parses the bytes of a safetensors file held in memory; `name` (a path or label) is used in error
 * messages. Validation as {@link parseSafetensorsHeader}.
 * @throws {DataError} on a malformed header, bad offsets, or an unsupported dtype.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  name: string,
  options: ReadSafetensorsOptions = {},
): SafetensorsFile {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, name);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, name);
  const tensors: Record<string, SafeTensor> = {};
  for (const [key, t] of selected(header, options, name)) {
    const d = DECODINGS[t.dtype];
    const out = d.alloc(count(t));
    const src = bytes.subarray(
      header.dataStart + t.dataOffsets[0],
      header.dataStart + t.dataOffsets[1],
    );
    if (d.convert) {
      d.convert(src, out, 0, (what) => new DataError(`${name}: tensor '${key}': ${what}`));
    } else {
      new Uint8Array(out.buffer).set(src);
    }
    tensors[key] = { dtype: t.dtype, shape: [...t.shape], data: out };
  }
  return { tensors, metadata: header.metadata };
}

function count(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** The tensors to read, in header order; a dtype that is laid out but not read is an error. */
function selected(
  header: SafetensorsHeader,
  options: ReadSafetensorsOptions,
  name: string,
): [string, TensorInfo][] {
  const only = options.only ? new Set(options.only) : null;
  const out = Object.entries(header.tensors).filter(([key]) => only === null || only.has(key));
  for (const [key, t] of out) {
    if (!DECODINGS[t.dtype]) {
      throw new DataError(
        `${name}: tensor '${key}': unsupported dtype ${t.dtype} (read: ${
          Object.keys(DECODINGS).join(", ")
        })`,
      );
    }
  }
  return out;
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
