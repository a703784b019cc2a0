/**
 * NumPy `.npy` files: float32 / float16 arrays in, float32 arrays out.
 *
 * Reads format versions 1.0, 2.0 and 3.0, C order, little-endian (`<f4`, `<f2`; `=` and `|` are
 * taken as little-endian too, the only byte order this code runs on). float16 is widened to
 * float32. Everything else — another dtype, big-endian data, Fortran order, a bad magic string, a
 * malformed header, truncated or oversized data — is a {@link DataError} naming the file.
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./npy.ts";
 * await writeNpy("/tmp/x.npy", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const { data, shape } = await readNpy("/tmp/x.npy"); // shape [2, 3]
 * ```
 *
 * @module
 */

import { DataError, writeFileAtomic } from "./errors.ts";
import { halfsToFloat32 } from "./float16.ts";
import { checkFitsInMemory, openBinaryFile, READ_CHUNK_BYTES } from "./binary_file.ts";

/** An n-dimensional float32 array in row-major (C) order. */
export interface NpyArray {
  /** The values, row-major. */
  data: Float32Array;
  /** The extents (`[]` for a scalar). */
  shape: number[];
}

/** What a validated `.npy` header says (the file's size already checked against it). */
export interface NpyHeader {
  /** The extents (`[]` for a scalar). */
  shape: number[];
  /** The stored element type (returned as float32 either way). */
  dtype: "float32" | "float16";
  /** Byte offset of the data in the file. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Largest header read: numpy writes a few hundred bytes; a bigger claim is a corrupt file. */
const MAX_HEADER_BYTES = 1 << 20;

const DTYPE_NAMES: Record<string, string> = {
  f2: "float16",
  f4: "float32",
  f8: "float64",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  b1: "bool",
  c8: "complex64",
  c16: "complex128",
};

/**
 * The total header size (magic, version, length field and header text) from the first bytes of a
 * file, checked against the file's size.
 */
function prefixLength(first: Uint8Array, fileSize: number, name: string): number {
  const fail = (what: string) => new DataError(`${name}: ${what}`);
  if (first.length < 10 || MAGIC.some((b, i) => first[i] !== b)) {
    throw fail("not a .npy file (bad magic string; expected \\x93NUMPY)");
  }
  const major = first[6];
  const minor = first[7];
  if (major < 1 || major > 3) {
    throw fail(`unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are read)`);
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (first.length < 8 + lenBytes) throw fail("truncated header");
  const view = new DataView(first.buffer, first.byteOffset, first.length);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (8 + lenBytes + headerLen > fileSize) {
    throw fail(`truncated header (header length ${headerLen}, file has ${fileSize} bytes)`);
  }
  if (headerLen > MAX_HEADER_BYTES) {
    throw fail(`bad header: header length ${headerLen} bytes (numpy writes a few hundred)`);
  }
  return 8 + lenBytes + headerLen;
}

/**
 * Parses and validates the header of a `.npy` file: `prefix` holds its first bytes (at least the
 * whole header), `fileSize` is the size of the whole file, whose data part must be exactly shape ×
 * item size. Nothing else of the file is needed, so a wrong file fails before its data is read.
 * @throws {DataError} naming `name` and the fault
 */
export function parseNpyHeader(prefix: Uint8Array, fileSize: number, name: string): NpyHeader {
  const fail = (what: string) => new DataError(`${name}: ${what}`);
  const dataOffset = prefixLength(prefix, fileSize, name);
  if (prefix.length < dataOffset) throw fail("truncated header");
  const start = prefix[6] === 1 ? 10 : 12;
  const headerBytes = prefix.subarray(start, dataOffset);
  const header = prefix[6] === 3
    ? new TextDecoder("utf-8", { fatal: false }).decode(headerBytes)
    : Array.from(headerBytes, (c) => String.fromCharCode(c)).join("");
  const { descr, fortran, shape } = parseHeaderDict(header, fail);

  const order = descr.length > 0 && "<>=|".includes(descr[0]) ? descr[0] : "";
  const code = descr.slice(order.length);
  const dtypeName = DTYPE_NAMES[code] ?? code;
  if (code !== "f4" && code !== "f2") {
    throw fail(
      `unsupported dtype ${dtypeName} ('${descr}'); float32 and float16 are read ` +
        `(save with x.astype(numpy.float32))`,
    );
  }
  if (order === ">") {
    throw fail(
      `unsupported byte order: big-endian ${dtypeName} ('${descr}'); save little-endian ` +
        `(x.astype('<f4'))`,
    );
  }
  if (fortran) {
    throw fail(
      "Fortran-ordered array (fortran_order: True); save in C order (numpy.ascontiguousarray)",
    );
  }
  const itemSize = code === "f4" ? 4 : 2;
  let expected = itemSize;
  for (const d of shape) expected *= d;
  if (!Number.isSafeInteger(expected)) {
    throw fail(`shape (${shape.join(", ")}) of ${dtypeName} is too large (overflows)`);
  }
  const available = fileSize - dataOffset;
  if (available < expected) {
    throw fail(
      `truncated data: shape (${shape.join(", ")}) of ${dtypeName} needs ${expected} bytes, ` +
        `the file has ${available} after the header`,
    );
  }
  if (available > expected) {
    throw fail(
      `${available - expected} unexpected bytes after the data of shape (${shape.join(", ")})`,
    );
  }
  return { shape, dtype: code === "f4" ? "float32" : "float16", dataOffset };
}

/** Reads and validates the header of a `.npy` file (and its size) without reading the data. */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  const file = await openBinaryFile(path, "readNpy");
  try {
    return await headerOf(file);
  } finally {
    file.close();
  }
}

async function headerOf(file: Awaited<ReturnType<typeof openBinaryFile>>): Promise<NpyHeader> {
  const first = await file.read(0, Math.min(12, file.size));
  const length = prefixLength(first, file.size, file.path);
  return parseNpyHeader(await file.read(0, length), file.size, file.path);
}

/**
 * Reads a `.npy` file as float32. See the module notes for what is accepted. The header and the
 * file size are checked before any data is read; float32 data is then read straight into the array
 * returned, float16 widened chunk by chunk, so peak memory stays near the size of the data.
 */
export async function readNpy(path: string): Promise<NpyArray> {
  const file = await openBinaryFile(path, "readNpy");
  try {
    const header = await headerOf(file);
    const count = header.shape.reduce((a, b) => a * b, 1);
    checkFitsInMemory(count * 4, path);
    const data = new Float32Array(count);
    if (header.dtype === "float32") {
      await file.readInto(header.dataOffset, new Uint8Array(data.buffer));
    } else {
      const step = READ_CHUNK_BYTES / 2;
      for (let i = 0; i < count; i += step) {
        const n = Math.min(step, count - i);
        halfsToFloat32(await file.read(header.dataOffset + 2 * i, 2 * n), 0, n, data, i);
      }
    }
    return { data, shape: header.shape };
  } finally {
    file.close();
  }
}

/**
 * Parses the bytes of a `.npy` file held in memory. `name` (a path or label) is used in error
 * messages.
 * @throws {DataError} on any malformed or unsupported content.
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const header = parseNpyHeader(bytes, bytes.length, name);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  if (header.dtype === "float32") {
    new Uint8Array(data.buffer).set(bytes.subarray(header.dataOffset));
  } else {
    halfsToFloat32(bytes, header.dataOffset, count, data);
  }
  return { data, shape: header.shape };
}

/**
 * Parses the header dict, a Python literal such as `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), }`, strictly: exactly the keys `descr`, `fortran_order` and `shape`, each once;
 * a tuple of non-negative integers as the shape (a 1-tuple needs its comma, as in Python).
 */
function parseHeaderDict(
  header: string,
  fail: (what: string) => DataError,
): { descr: string; fortran: boolean; shape: number[] } {
  const text = header.trim();
  const bad = (what: string) => fail(`bad header (${what}): ${JSON.stringify(text.slice(0, 120))}`);
  if (!text.startsWith("{") || !text.endsWith("}")) throw bad("not a Python dict literal");
  let i = 1;
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const quoted = (): string => {
    const q = text[i];
    const end = text.indexOf(q, i + 1);
    if (end < 0) throw bad("unterminated string");
    const value = text.slice(i + 1, end);
    if (value.includes("\\")) throw bad("escape in a string");
    i = end + 1;
    return value;
  };
  const values = new Map<string, unknown>();
  for (;;) {
    space();
    if (text[i] === "}") break;
    if (text[i] !== "'" && text[i] !== '"') throw bad(`expected a quoted key at character ${i}`);
    const key = quoted();
    space();
    if (text[i++] !== ":") throw bad(`expected ':' after '${key}'`);
    space();
    let value: unknown;
    if (text[i] === "'" || text[i] === '"') {
      value = quoted();
    } else if (text.startsWith("True", i) || text.startsWith("False", i)) {
      value = text[i] === "T";
      i += value ? 4 : 5;
    } else if (text[i] === "(") {
      value = tuple();
    } else if (text[i] === "[" && key === "descr") {
      throw fail("unsupported dtype: a structured (record) array; save a plain float32 array");
    } else {
      throw bad(`unexpected value for '${key}' at character ${i}`);
    }
    if (!["descr", "fortran_order", "shape"].includes(key)) throw bad(`unexpected key '${key}'`);
    if (values.has(key)) throw bad(`key '${key}' appears twice`);
    values.set(key, value);
    space();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw bad(`expected ',' or '}' at character ${i}`);
  }
  if (i !== text.length - 1) throw bad("text after the closing brace");

  function tuple(): number[] {
    i++; // "("
    const out: number[] = [];
    let comma = false;
    for (;;) {
      space();
      if (text[i] === ")") break;
      const m = /^[^,)\s]+/.exec(text.slice(i))?.[0] ?? text[i] ?? "";
      const d = /^\d+L?$/.test(m) ? Number.parseInt(m, 10) : NaN;
      if (!Number.isSafeInteger(d)) throw fail(`bad header: shape entry ${JSON.stringify(m)}`);
      out.push(d);
      i += m.length;
      space();
      comma = text[i] === ",";
      if (comma) i++;
      else if (text[i] !== ")") throw bad(`expected ',' or ')' in the shape at character ${i}`);
    }
    i++; // ")"
    if (out.length === 1 && !comma) throw bad("a 1-D shape needs a trailing comma, as (n,)");
    return out;
  }

  const descr = values.get("descr");
  if (typeof descr !== "string") throw fail("bad header: no 'descr' entry");
  const fortran = values.get("fortran_order");
  if (typeof fortran !== "boolean") throw fail("bad header: no 'fortran_order': True/False entry");
  const shape = values.get("shape");
  if (!Array.isArray(shape)) throw fail("bad header: no 'shape': (...) entry");
  return { descr, fortran, shape };
}

/** Builds the bytes of a version 1.0 `.npy` file holding `data` (float32, C order) of `shape`. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new RangeError(
      `encodeNpy: shape (${shape.join(", ")}) does not hold ${data.length} values`,
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1; // magic + version + length + header + "\n"
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  if (header.length > 0xffff) throw new RangeError("encodeNpy: header too long for version 1.0");
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Writes `data` of `shape` as a float32 `.npy` file (version 1.0, C order, little-endian),
 * atomically: a temporary file beside `path`, then a rename.
 */
export async function writeNpy(
  path: string,
  data: Float32Array,
  shape: readonly number[],
): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}
