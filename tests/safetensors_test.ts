import { assertEquals, assertRejects, assertThrows } from "./util.ts";
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../src/data/safetensors.ts";
import { floatToHalf } from "../src/data/float16.ts";

/** A file built by hand from the format description: u64 header length, JSON, data. */
function fileBytes(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors: write then read round-trips every written dtype and the metadata", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tensors = {
      w: { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -7]) },
      d: { shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      idx: { shape: [4], data: new Int32Array([0, -1, 2147483647, 5]) },
      s: { shape: [1, 1, 3], data: new Int16Array([-3, 0, 300]) },
      b: { shape: [3], data: new Int8Array([-128, 0, 127]) },
      mask: { shape: [5], data: new Uint8Array([0, 1, 255, 2, 3]) },
      scalar: { shape: [], data: new Float32Array([42]) },
      empty: { shape: [0, 3], data: new Float32Array(0) },
    };
    const path = `${dir}/model.safetensors`;
    await writeSafetensors(path, tensors, { step: "120", note: "crossrank test" });
    const back = await readSafetensors(path);
    assertEquals(back.metadata, { step: "120", note: "crossrank test" });
    assertEquals(Object.keys(back.tensors), Object.keys(tensors));
    const dtypes = ["F32", "F64", "I32", "I16", "I8", "U8", "F32", "F32"];
    Object.entries(tensors).forEach(([name, t], i) => {
      const got = back.tensors[name];
      assertEquals(got.dtype, dtypes[i], name);
      assertEquals(got.shape, t.shape, name);
      assertEquals(got.data.constructor, t.data.constructor, name);
      assertEquals(Array.from(got.data), Array.from(t.data), name);
    });
    // Standard layout: header padded with spaces so the data section starts 8-byte aligned.
    const bytes = await Deno.readFile(path);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assertEquals((8 + n) % 8, 0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assertEquals(JSON.parse(headerText).w, { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: reads F16, BF16, I64 and BOOL written by other tools", () => {
  const half = new Uint16Array([1, -2.5, 65504, 2 ** -24].map(floatToHalf));
  const bf = new Uint16Array([0x3f80, 0xc020, 0x0000]); // 1, -2.5, 0
  const wide = new BigInt64Array([0n, 7n, -3n]);
  const data = new Uint8Array(8 + 6 + 24 + 2);
  data.set(new Uint8Array(half.buffer), 0);
  data.set(new Uint8Array(bf.buffer), 8);
  data.set(new Uint8Array(wide.buffer), 14);
  data.set([1, 0], 38);
  const header = {
    __metadata__: { format: "pt" },
    h: { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
    bf: { dtype: "BF16", shape: [3], data_offsets: [8, 14] },
    i: { dtype: "I64", shape: [3], data_offsets: [14, 38] },
    m: { dtype: "BOOL", shape: [2], data_offsets: [38, 40] },
  };
  const file = parseSafetensors(fileBytes(header, data), "x.safetensors");
  assertEquals(file.metadata, { format: "pt" });
  assertEquals(Array.from(file.tensors.h.data), [1, -2.5, 65504, 2 ** -24]);
  assertEquals(file.tensors.h.dtype, "F16");
  assertEquals(file.tensors.h.data instanceof Float32Array, true);
  assertEquals(Array.from(file.tensors.bf.data), [1, -2.5, 0]);
  assertEquals(file.tensors.i.data instanceof Int32Array, true);
  assertEquals(Array.from(file.tensors.i.data), [0, 7, -3]);
  assertEquals(Array.from(file.tensors.m.data), [1, 0]);
});

Deno.test("safetensors: bad input names the file, the tensor and the fault", async () => {
  const f32 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const data = new Uint8Array(8);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /bad\.safetensors: not a safetensors file \(5 bytes/],
    [fileBytes({ a: f32 }, data).subarray(0, 12), /not a safetensors file or truncated/],
    [fileBytes(null, data, "{not json"), /bad header: not valid JSON/],
    [fileBytes(null, data, "[1, 2]"), /bad header: not a JSON object/],
    [fileBytes(null, data, ' {"a": 1}'), /bad header: not a JSON object \(starts with " \{/],
    [fileBytes({ a: f32 }, data.subarray(0, 4)), /truncated data: tensor 'a' ends at byte 8/],
    [fileBytes({ a: { ...f32, dtype: "C64" } }, data), /tensor 'a': unsupported dtype "C64"/],
    [fileBytes({ a: { ...f32, shape: [3] } }, data), /tensor 'a'.* hold 8 bytes, shape \[3\]/],
    [fileBytes({ a: { ...f32, shape: [-1] } }, data), /tensor 'a' has an invalid shape/],
    [fileBytes({ a: { ...f32, data_offsets: [8, 0] } }, data), /invalid data_offsets/],
    [fileBytes({ a: { shape: [2], data_offsets: [0, 8] } }, data), /tensor 'a' has no dtype/],
    [fileBytes({ __metadata__: { n: 3 } }, new Uint8Array()), /__metadata__\.n is not a string/],
    // The layout rules of the reference implementation: sorted by offset, the tensors tile the
    // data section from 0 to its end, with no overlap and no gap.
    [
      fileBytes({ a: f32, b: f32 }, data),
      /bad\.safetensors: tensor 'b' \[0, 8\] overlaps tensor 'a' \[0, 8\]/,
    ],
    [
      fileBytes({ a: { ...f32, data_offsets: [8, 16] } }, new Uint8Array(16)),
      /bytes \[0, 8\) of the data section belong to no tensor \(before tensor 'a' \[8, 16\]\)/,
    ],
    [
      fileBytes({ a: f32, b: { ...f32, data_offsets: [12, 20] } }, new Uint8Array(20)),
      /bytes \[8, 12\) .* no tensor \(before tensor 'b' \[12, 20\], after tensor 'a' \[0, 8\]\)/,
    ],
    [
      fileBytes({ a: f32 }, new Uint8Array(12)),
      /4 unexpected bytes at the end of the data section after tensor 'a' \[0, 8\]/,
    ],
    [fileBytes({}, new Uint8Array(3)), /3 unexpected bytes .* \(no tensors\)/],
    [
      fileBytes(
        null,
        data,
        '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, ' +
          '"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
      ),
      /bad\.safetensors: bad header: key "a" appears twice \(in the top-level object\)/,
    ],
    [
      fileBytes(
        null,
        data,
        '{"a": {"dtype": "F32", "dtype": "I32", "shape": [2], ' +
          '"data_offsets": [0, 8]}}',
      ),
      /key "dtype" appears twice \(in a\)/,
    ],
    [
      fileBytes({ a: { dtype: "F32", shape: [2 ** 40, 2 ** 20], data_offsets: [0, 8] } }, data),
      /tensor 'a': shape \[1099511627776, 1048576\] of F32 overflows/,
    ],
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const [bytes, pattern] of cases) {
      assertThrows(() => parseSafetensors(bytes, "bad.safetensors"), pattern);
      // The file reader gives the same error (it validates the header before reading the data).
      await Deno.writeFile(`${dir}/bad.safetensors`, bytes);
      await assertRejects(() => readSafetensors(`${dir}/bad.safetensors`), pattern);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A header length over the reference's 100 MB limit fails before anything is read.
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
  assertThrows(
    () => parseSafetensors(huge, "bad.safetensors"),
    /header length 200000000 exceeds the 100000000-byte limit/,
  );
  const big = new BigInt64Array([5_000_000_000n]);
  const i64 = fileBytes(
    { i: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
    new Uint8Array(big.buffer),
  );
  assertThrows(() => parseSafetensors(i64, "big.safetensors"), /'i': I64 value 5000000000/);
  await assertRejects(() => readSafetensors("/nonexistent/m.safetensors"), /no such file/);
  assertThrows(
    () => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }),
    /tensor 'w' shape \[2, 2\] does not hold 3 values/,
  );
});

Deno.test("safetensors: the header is read alone, and only the tensors asked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/m.safetensors`;
    await writeSafetensors(path, {
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [1, 3], data: new Int32Array([4, 5, 6]) },
    }, { note: "x" });
    const header = await readSafetensorsHeader(path);
    assertEquals(header.metadata, { note: "x" });
    assertEquals(header.tensors.b, { dtype: "I32", shape: [1, 3], dataOffsets: [8, 20] });
    const only = await readSafetensors(path, { only: ["b"] });
    assertEquals(Object.keys(only.tensors), ["b"]);
    assertEquals(Array.from(only.tensors.b.data), [4, 5, 6]);
    // A header claiming a huge tensor fails at once, without reading or allocating for it.
    const claim = fileBytes(
      { x: { dtype: "F32", shape: [100_000_000, 512], data_offsets: [0, 204_800_000_000] } },
      new Uint8Array(64),
    );
    await Deno.writeFile(path, claim);
    await assertRejects(
      () => readSafetensors(path),
      /m\.safetensors: truncated data: tensor 'x' ends at byte 204800000000, the data section has 64/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
