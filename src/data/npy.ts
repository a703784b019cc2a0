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

import { DataError, readFileBytes, writeFileAtomic } from "./errors.ts";
import { halfsToFloat32 } from "./float16.ts";

/** An n-dimensional float32 array in row-major (C) order. */
export interface NpyArray {
  /** The values, row-major. */
  data: Float32Array;
  /** The extents (`[]` for a scalar). */
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

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

/** Reads a `.npy` file as float32. See the module notes for what is accepted. */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFileBytes(path, "readNpy"), path);
}

/**
 * Parses the bytes of a `.npy` file. `name` (a path or label) is used in error messages.
 * @throws {DataError} on any malformed or unsupported content.
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const fail = (what: string) => new DataError(`${name}: ${what}`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail("not a .npy file (bad magic string; expected \\x93NUMPY)");
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3) {
    throw fail(`unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are read)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw fail("truncated header");
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  const dataOffset = start + headerLen;
  if (dataOffset > bytes.length) {
    throw fail(`truncated header (header length ${headerLen}, file has ${bytes.length} bytes)`);
  }
  const headerBytes = bytes.subarray(start, dataOffset);
  const header = major === 3
    ? new TextDecoder("utf-8", { fatal: false }).decode(headerBytes)
    : Array.from(headerBytes, (c) => String.fromCharCode(c)).join("");
  const { descr, fortran, shape } = parseHeader(header, fail);

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
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = code === "f4" ? 4 : 2;
  const expected = count * itemSize;
  const available = bytes.length - dataOffset;
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
  const data = code === "f4"
    ? new Float32Array(bytes.slice(dataOffset, dataOffset + expected).buffer)
    : halfsToFloat32(bytes, dataOffset, count);
  return { data, shape };
}

function parseHeader(
  header: string,
  fail: (what: string) => DataError,
): { descr: string; fortran: boolean; shape: number[] } {
  const text = header.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) {
    throw fail(`bad header (not a Python dict literal): ${JSON.stringify(text.slice(0, 80))}`);
  }
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  if (descr === undefined) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) {
      throw fail("unsupported dtype: a structured (record) array; save a plain float32 array");
    }
    throw fail("bad header: no 'descr' entry");
  }
  const fortranText = /['"]fortran_order['"]\s*:\s*(\w+)/.exec(text)?.[1];
  if (fortranText !== "True" && fortranText !== "False") {
    throw fail("bad header: no 'fortran_order': True/False entry");
  }
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw fail("bad header: no 'shape': (...) entry");
  const parts = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = parts.map((s) => {
    const d = /^\d+L?$/.test(s) ? Number.parseInt(s, 10) : NaN;
    if (!Number.isSafeInteger(d)) throw fail(`bad header: shape entry ${JSON.stringify(s)}`);
    return d;
  });
  return { descr, fortran: fortranText === "True", shape };
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
