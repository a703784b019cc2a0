/**
 * Reading binary data files by ranges, so a reader can check a header against the file's size
 * before it reads (or allocates for) the data, and then read the data straight into the array it
 * returns — no whole-file buffer and no second copy.
 *
 * @example
 * ```ts
 * import { openBinaryFile } from "./binary_file.ts";
 * const file = await openBinaryFile("/tmp/x.npy", "readNpy");
 * try {
 *   const magic = await file.read(0, 6);
 *   console.log(file.size, magic);
 * } finally {
 *   file.close();
 * }
 * ```
 *
 * @module
 */

import { DataError, describeFsError } from "./errors.ts";
import { formatBytes } from "../gpu/device.ts";

/** Bytes read per call when data is converted on the way in (float16 → float32, …). */
export const READ_CHUNK_BYTES = 8 * 2 ** 20;

/** An open file read by byte ranges; every fault is a {@link DataError} naming it. */
export interface BinaryFile {
  /** The path, for messages. */
  readonly path: string;
  /** Size in bytes when opened. */
  readonly size: number;
  /** Reads `length` bytes at `position` into a new array (a short file is a {@link DataError}). */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Fills `target` with the bytes at `position` (a short file is a {@link DataError}). */
  readInto(position: number, target: Uint8Array): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/** Opens `path` for range reads; `what` (the reader's name) prefixes a missing-file error. */
export async function openBinaryFile(path: string, what: string): Promise<BinaryFile> {
  let file: Deno.FsFile;
  let size: number;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new DataError(`${what}: cannot read ${path}: ${describeFsError(error)}`);
  }
  try {
    const info = await file.stat();
    if (!info.isFile) throw new DataError(`${what}: cannot read ${path}: not a regular file`);
    size = info.size;
  } catch (error) {
    file.close();
    if (error instanceof DataError) throw error;
    throw new DataError(`${what}: cannot read ${path}: ${describeFsError(error)}`);
  }
  const readInto = async (position: number, target: Uint8Array) => {
    try {
      await file.seek(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < target.length) {
        const n = await file.read(target.subarray(done));
        if (n === null || n === 0) break;
        done += n;
      }
      if (done < target.length) {
        throw new DataError(
          `${path}: the file ended at byte ${position + done} while reading ${target.length} ` +
            `bytes at ${position} (was it truncated while being read?)`,
        );
      }
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError(`${path}: read failed: ${describeFsError(error)}`);
    }
  };
  return {
    path,
    size,
    readInto,
    async read(position: number, length: number) {
      const out = new Uint8Array(length);
      await readInto(position, out);
      return out;
    },
    close() {
      try {
        file.close();
      } catch {
        // already closed
      }
    },
  };
}

/**
 * Throws a {@link DataError} (prefixed `what`, which names the file) when `bytes` of arrays would
 * not fit in this machine's available memory, so a reader refuses a huge input before allocating
 * for it instead of failing with an anonymous `Array buffer allocation failed`.
 */
export function checkFitsInMemory(bytes: number, what: string): void {
  let available = Infinity;
  try {
    available = Deno.systemMemoryInfo().available;
  } catch {
    // Not reported on this platform: only the array-size limit below applies.
  }
  if (!Number.isSafeInteger(bytes) || bytes > available) {
    throw new DataError(
      `${what}: the data needs ${formatBytes(bytes)} of memory, more than the ` +
        `${formatBytes(available)} this machine has available`,
    );
  }
}
