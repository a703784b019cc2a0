/**
 * Fuzzing the binary readers: seeded byte flips and truncations of a valid npy, safetensors and
 * checkpoint file. Every mutant must either load exactly what an independent naive decoding of its
 * bytes says (a flip inside the data is a different but valid file) or throw a {@link DataError}
 * (a {@link RunFileError} is one) naming the file — never another exception type, a hang, or a
 * silently different result. The in-memory parsers must agree with the file readers.
 */

import { assertEquals, assertOk, rng } from "./util.ts";
import { encodeNpy, parseNpy, readNpy } from "../src/data/npy.ts";
import { encodeSafetensors, parseSafetensors, readSafetensors } from "../src/data/safetensors.ts";
import { DataError } from "../src/data/errors.ts";
import { randomInt } from "../src/util/random.ts";
import { dualEncoderParamShapes, modelConfig } from "../src/model/dual_encoder.ts";
import { CHECKPOINT_FORMAT, readCheckpoint } from "../src/train/run_dir.ts";

const CASES = 200; // per format: 150 flips and 50 truncations

/**
 * `count` seeded mutants of `bytes`: 1–3 bytes XOR-ed with a non-zero value (each in the header,
 * before `dataStart`, or in the data, with even odds), or a truncation.
 */
function* mutants(bytes: Uint8Array, dataStart: number, seed: number, count: number) {
  const u = rng(seed);
  for (let c = 0; c < count; c++) {
    if (c % 4 === 3) {
      yield { what: `truncated to ${c}`, bytes: bytes.slice(0, randomInt(u, bytes.length)) };
      continue;
    }
    const out = bytes.slice();
    const flips: number[] = [];
    for (let k = 0, n = 1 + randomInt(u, 3); k < n; k++) {
      const at = u() < 0.5
        ? randomInt(u, dataStart)
        : dataStart + randomInt(u, out.length - dataStart);
      out[at] ^= 1 + randomInt(u, 255);
      flips.push(at);
    }
    yield { what: `flipped at ${flips.join(", ")}`, bytes: out };
  }
}

/** Where the data section of a safetensors file starts. */
function dataStart(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
}

/** Bitwise equality of two float arrays (NaN payloads included). */
function sameBits(a: ArrayLike<number> & { buffer: ArrayBufferLike }, b: Float32Array): boolean {
  if (!(a instanceof Float32Array) || a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

/** Runs `load` on a mutant; returns its result, or null after checking the error is a DataError naming `name`. */
async function outcome<T>(load: () => Promise<T> | T, name: string, what: string) {
  try {
    return { value: await load(), error: null };
  } catch (e) {
    assertOk(e instanceof DataError, `${what}: ${e} is not a DataError`);
    assertOk(
      (e as Error).message.includes(name),
      `${what}: "${(e as Error).message}" names ${name}`,
    );
    return { value: null, error: (e as Error).message };
  }
}

/** The naive decoding of a safetensors file the strict reader accepted: header JSON and offsets. */
function naiveSafetensors(bytes: Uint8Array) {
  const n = dataStart(bytes) - 8;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }> = {};
  for (const [k, v] of Object.entries(header)) {
    if (k === "__metadata__") continue;
    const t = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    tensors[k] = {
      dtype: t.dtype,
      shape: t.shape,
      bytes: bytes.slice(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]),
    };
  }
  return { metadata: header.__metadata__ ?? {}, tensors };
}

Deno.test("fuzz: flipped and truncated npy files load exactly or fail naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-fuzz-" });
  try {
    const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.75 - 3);
    const good = encodeNpy(data, [3, 4]);
    const path = `${dir}/m.npy`;
    let accepted = 0;
    for (const m of mutants(good, 128, 11, CASES)) {
      await Deno.writeFile(path, m.bytes);
      const file = await outcome(() => readNpy(path), path, m.what);
      const memory = await outcome(() => parseNpy(m.bytes, path), path, m.what);
      assertEquals(file.error, memory.error, `${m.what}: file and memory parsers agree`);
      if (file.value === null) continue;
      accepted++;
      // Accepted: the same shape (a header mutation cannot change it and stay valid), and the
      // data exactly as the bytes after the header say.
      assertEquals(file.value.shape, [3, 4], m.what);
      const major = m.bytes[6];
      const view = new DataView(m.bytes.buffer);
      const offset = major === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
      const expected = new Float32Array(m.bytes.slice(offset).buffer);
      assertOk(sameBits(file.value.data, expected), `${m.what}: data as the bytes say`);
      assertOk(sameBits(memory.value!.data, expected), `${m.what}: in memory too`);
    }
    assertOk(accepted > 10 && accepted < CASES, `some mutants load (${accepted}), most do not`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: flipped and truncated safetensors files load exactly or fail naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-fuzz-" });
  try {
    const good = encodeSafetensors({
      images: { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 7, -1]) },
      ids: { shape: [4], data: new Int32Array([3, 1, 4, 1]) },
      bytes: { shape: [2, 2], data: new Uint8Array([9, 8, 7, 6]) },
    }, { note: "fuzz", step: "12" });
    const path = `${dir}/m.safetensors`;
    let accepted = 0;
    for (const m of mutants(good, dataStart(good), 12, CASES)) {
      await Deno.writeFile(path, m.bytes);
      const file = await outcome(() => readSafetensors(path), path, m.what);
      const memory = await outcome(() => parseSafetensors(m.bytes, path), path, m.what);
      assertEquals(file.error, memory.error, `${m.what}: file and memory parsers agree`);
      if (file.value === null) continue;
      accepted++;
      const naive = naiveSafetensors(m.bytes);
      assertEquals(file.value.metadata, naive.metadata, m.what);
      assertEquals(Object.keys(file.value.tensors).sort(), Object.keys(naive.tensors).sort());
      for (const [name, t] of Object.entries(naive.tensors)) {
        const got = file.value.tensors[name];
        assertEquals([got.dtype, got.shape], [t.dtype, t.shape], `${m.what}: ${name}`);
        const raw = new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
        assertEquals(Array.from(raw), Array.from(t.bytes), `${m.what}: ${name} data`);
        const again = memory.value!.tensors[name].data;
        assertEquals(Array.from(again), Array.from(got.data), `${m.what}: ${name} in memory`);
      }
    }
    assertOk(accepted > 10 && accepted < CASES, `some mutants load (${accepted}), most do not`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: flipped and truncated checkpoints load exactly or fail naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crossrank-fuzz-" });
  try {
    const config = modelConfig(3, 5, { head: "mlp", embedDim: 2, hidden: 4 });
    const u = rng(5);
    const tensors = Object.fromEntries(
      Object.entries(dualEncoderParamShapes(config)).map(([name, shape]) => [name, {
        shape,
        data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => u() - 0.5),
      }]),
    );
    const good = encodeSafetensors(tensors, {
      format: CHECKPOINT_FORMAT,
      model: JSON.stringify(config),
      epoch: "3",
      step: "30",
      dataset: "fuzz",
      loss: "softmax",
      metrics: "null",
    });
    const path = `${dir}/checkpoint.safetensors`;
    let accepted = 0;
    for (const m of mutants(good, dataStart(good), 13, CASES)) {
      await Deno.writeFile(path, m.bytes);
      const r = await outcome(() => readCheckpoint(path), path, m.what);
      if (r.value === null) continue;
      accepted++;
      // Accepted: the config and the weights are what the file's bytes say, all finite.
      const naive = naiveSafetensors(m.bytes);
      assertEquals(r.value.config, JSON.parse(naive.metadata.model), m.what);
      assertEquals(r.value.metadata, naive.metadata, m.what);
      for (const [name, t] of Object.entries(r.value.tensors)) {
        const expected = new Float32Array(naive.tensors[name].bytes.buffer);
        assertOk(sameBits(t.data, expected), `${m.what}: ${name}`);
        assertOk(t.data.every(Number.isFinite), `${m.what}: ${name} finite`);
      }
    }
    assertOk(accepted > 10 && accepted < CASES, `some mutants load (${accepted}), most do not`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
