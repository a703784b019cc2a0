import { assertEquals, assertRejects, assertThrows, sharedData } from "./util.ts";
import { encodeNpy, parseNpy, readNpy, readNpyHeader, writeNpy } from "../src/data/npy.ts";
import { floatToHalf, halfToFloat } from "../src/data/float16.ts";

/** Builds a .npy file by hand: magic, version, header length, padded header, data. */
function npyBytes(header: string, data: Uint8Array, major = 1): Uint8Array {
  const lenBytes = major === 1 ? 2 : 4;
  const pad = (64 - ((8 + lenBytes + header.length + 1) % 64)) % 64;
  const h = new TextEncoder().encode(header + " ".repeat(pad) + "\n");
  const out = new Uint8Array(8 + lenBytes + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, 8 + lenBytes);
  out.set(data, 8 + lenBytes + h.length);
  return out;
}

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const header = (descr: string, shape: string, fortran = "False") =>
  `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

Deno.test("npy: write then read round-trips shapes, including 1-D, scalar and empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [number[], number][] = [[[2, 3], 6], [[5], 5], [[], 1], [[0, 4], 0], [
      [2, 1, 3],
      6,
    ]];
    for (const [shape, n] of cases) {
      const data = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 1);
      const path = `${dir}/a.npy`;
      await writeNpy(path, data, shape);
      const back = await readNpy(path);
      assertEquals(back.shape, shape);
      assertEquals(Array.from(back.data), Array.from(data));
    }
    // The atomic writer leaves no temporary files behind.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assertEquals(names, ["a.npy"]);
    // Header padded so the data starts 64-byte aligned, as numpy writes it.
    const bytes = encodeNpy(new Float32Array(6), [2, 3]);
    assertEquals((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy: versions 2.0 and 3.0, '=' byte order, float16 widening", () => {
  const values = [1.5, -2, 0.25, 1000];
  for (const major of [2, 3]) {
    const a = parseNpy(npyBytes(header("<f4", "(2, 2)"), f32Bytes(values), major), "v.npy");
    assertEquals(a.shape, [2, 2]);
    assertEquals(Array.from(a.data), values);
  }
  const native = parseNpy(npyBytes(header("=f4", "(4,)"), f32Bytes(values)), "n.npy");
  assertEquals(Array.from(native.data), values);
  // float16: exact for these values, plus a subnormal, infinity and a rounding case.
  const halfValues = [1.5, -2, 0.25, 1000, 2 ** -24, Infinity, 0.1];
  const halves = new Uint16Array(halfValues.map(floatToHalf));
  const h = parseNpy(npyBytes(header("<f2", "(7,)"), new Uint8Array(halves.buffer)), "h.npy");
  assertEquals(Array.from(h.data.subarray(0, 6)), halfValues.slice(0, 6));
  assertEquals(Math.abs(h.data[6] - 0.1) < 1e-4, true);
  assertEquals(halfToFloat(0x7e00), NaN);
  assertEquals(halfToFloat(0x8000), -0);
});

Deno.test("npy: bad input names the file and the fault", async () => {
  const ok = header("<f4", "(2, 2)");
  const data = f32Bytes([1, 2, 3, 4]);
  const cases: [Uint8Array, RegExp][] = [
    [
      new TextEncoder().encode("PK\u0003\u0004 not numpy at all"),
      /bad\.npy: not a \.npy file \(bad magic/,
    ],
    [npyBytes(ok, data).subarray(0, 8), /bad\.npy: not a \.npy file/],
    [npyBytes(ok, data.subarray(0, 12)), /bad\.npy: truncated data: .*needs 16 bytes.*has 12/],
    [npyBytes(ok, new Uint8Array([...data, 0, 0, 0, 0])), /bad\.npy: 4 unexpected bytes/],
    [npyBytes(header("<f8", "(2, 2)"), new Uint8Array(32)), /unsupported dtype float64 \('<f8'\)/],
    [npyBytes(header("<i8", "(2,)"), new Uint8Array(16)), /unsupported dtype int64/],
    [
      npyBytes(header(">f4", "(2, 2)"), data),
      /bad\.npy: unsupported byte order: big-endian float32/,
    ],
    [npyBytes(header("<f4", "(2, 2)", "True"), data), /bad\.npy: Fortran-ordered/],
    [npyBytes("{'descr': '<f4', 'fortran_order': False}", data), /bad header: no 'shape'/],
    [npyBytes("not a dict", data), /bad\.npy: bad header/],
    [npyBytes(header("<f4", "(2, x)"), data), /bad header: shape entry "x"/],
    [npyBytes(ok, data, 4), /unsupported \.npy format version 4\.0/],
    // The header dict is read strictly, as Python would: no stray commas, a 1-tuple needs its
    // comma, exactly the three keys, each once, nothing after the closing brace.
    [npyBytes(header("<f4", "( , 4)"), data), /bad\.npy: bad header: shape entry ","/],
    [npyBytes(header("<f4", "(4)"), data), /a 1-D shape needs a trailing comma/],
    [npyBytes(header("<f4", "(2,, 2)"), data), /bad header: shape entry ","/],
    [
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'shape': (4,)}", data),
      /key 'shape' appears twice/,
    ],
    [
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}", data),
      /unexpected value for 'extra'/,
    ],
    [npyBytes(ok + " x", data), /bad\.npy: bad header \(not a Python dict literal\)/],
    [
      npyBytes(header("<f4", "(100000000, 512)"), data),
      /truncated data: shape \(100000000, 512\) of float32 needs 204800000000 bytes/,
    ],
    [
      npyBytes(header("<f4", "(9007199254740991, 2)"), data),
      /shape \(9007199254740991, 2\) of float32 is too large/,
    ],
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const [bytes, pattern] of cases) {
      assertThrows(() => parseNpy(bytes, "bad.npy"), pattern);
      // The file reader gives the same error, from the header and the file size alone.
      await Deno.writeFile(`${dir}/bad.npy`, bytes);
      await assertRejects(() => readNpy(`${dir}/bad.npy`), pattern);
    }
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["bad.npy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // Header length pointing past the end of the file.
  const short = npyBytes(ok, data);
  new DataView(short.buffer).setUint16(8, 60000, true);
  assertThrows(() => parseNpy(short, "bad.npy"), /bad\.npy: truncated header/);
  await assertRejects(
    () => readNpy("/nonexistent/x.npy"),
    /cannot read \/nonexistent\/x\.npy: no such file/,
  );
  assertThrows(
    () => encodeNpy(new Float32Array(5), [2, 3]),
    /shape \(2, 3\) does not hold 5 values/,
  );
});

Deno.test("npy: the header is read and checked against the file size alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeNpy(`${dir}/a.npy`, new Float32Array(6), [2, 3]);
    assertEquals(await readNpyHeader(`${dir}/a.npy`), {
      shape: [2, 3],
      dtype: "float32",
      dataOffset: 128,
    });
    const halves = new Uint16Array([1, 2, 3].map(floatToHalf));
    await Deno.writeFile(
      `${dir}/h.npy`,
      npyBytes(header("<f2", "(3,)"), new Uint8Array(halves.buffer), 2),
    );
    assertEquals((await readNpyHeader(`${dir}/h.npy`)).dtype, "float16");
    assertEquals(Array.from((await readNpy(`${dir}/h.npy`)).data), [1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const flickr = sharedData("flickr8k-clip-b32-val");
Deno.test({
  name: "npy: reads the real Flickr8k CLIP embeddings (v1.0, float32, 1000 × 512)",
  ignore: flickr === null,
  fn: async () => {
    const { data, shape } = await readNpy(`${flickr}/images.npy`);
    assertEquals(shape, [1000, 512]);
    // The README states image norms ≈ 10.5 (not normalised).
    let s = 0;
    for (let j = 0; j < 512; j++) s += data[j] ** 2;
    assertEquals(Math.abs(Math.sqrt(s) - 10.5) < 2, true);
    assertEquals(data.every(Number.isFinite), true);
  },
});
