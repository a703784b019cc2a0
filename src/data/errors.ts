/**
 * The error every reader in `data/` throws for bad input: its message names the file (and the line,
 * row or tensor where known) and the fault, so a command-line user can fix the file without a
 * stack trace.
 *
 * @module
 */

/** Bad or unreadable input data (a malformed file, a missing file, inconsistent shapes). */
export class DataError extends Error {
  /** @param message what is wrong, naming the file and the fault */
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}

/** Reads a whole file, turning a missing or unreadable file into a {@link DataError}. */
export async function readFileBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new DataError(`${what}: cannot read ${path}: ${describeFsError(error)}`);
  }
}

/** Reads a whole text file (UTF-8), turning a missing or unreadable file into a {@link DataError}. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new DataError(`${what}: cannot read ${path}: ${describeFsError(error)}`);
  }
}

/** A short reason for a file-system error (`not found`, `is a directory`, …). */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return error instanceof Error ? error.message : String(error);
}

/** Whether `path` exists and is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` exists and is a directory. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Writes `bytes` to `path` atomically: to a temporary file beside it, then renamed over `path`, so a
 * reader never sees a half-written file.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new DataError(`cannot write ${path}: ${describeFsError(error)}`);
  }
}
