import { assertEquals, assertRejects, assertThrows } from "./util.ts";
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
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
    [fileBytes(null, data, "{not json"), /bad header \(not UTF-8 JSON\)/],
    [fileBytes(null, data, "[1, 2]"), /bad header: not a JSON object/],
    [fileBytes({ a: f32 }, data.subarray(0, 4)), /truncated data: tensor 'a' ends at byte 8/],
    [fileBytes({ a: { ...f32, dtype: "C64" } }, data), /tensor 'a': unsupported dtype C64/],
    [fileBytes({ a: { ...f32, shape: [3] } }, data), /tensor 'a'.* hold 8 bytes, shape \[3\]/],
    [fileBytes({ a: { ...f32, shape: [-1] } }, data), /tensor 'a' has an invalid shape/],
    [fileBytes({ a: { ...f32, data_offsets: [8, 0] } }, data), /invalid data_offsets/],
    [fileBytes({ a: { shape: [2], data_offsets: [0, 8] } }, data), /tensor 'a' has no dtype/],
    [fileBytes({ __metadata__: { n: 3 } }, data), /__metadata__\.n is not a string/],
  ];
  for (const [bytes, pattern] of cases) {
    assertThrows(() => parseSafetensors(bytes, "bad.safetensors"), pattern);
  }
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
