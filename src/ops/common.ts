/**
 * Shared plumbing for tensor ops: argument checks and the dummy binding for unused kernel inputs.
 *
 * @module
 */

import { rt } from "../gpu/runtime.ts";
import { shapeString, type Tensor } from "../autodiff/tensor.ts";

const dummies = new WeakMap<GPUDevice, GPUBuffer[]>();

/**
 * A 16-byte buffer bound where a kernel's input slot is unused. `which` picks one of two distinct
 * buffers, so one dispatch can fill both a read-only and a read-write unused slot (binding one
 * buffer both ways in a dispatch is a validation error).
 */
export function dummy(which: 0 | 1 = 0): GPUBuffer {
  const device = rt().device;
  let pair = dummies.get(device);
  if (!pair) {
    const make = (i: number) =>
      device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: `unused ${i}` });
    pair = [make(0), make(1)];
    dummies.set(device, pair);
  }
  return pair[which];
}

/** Throws unless `t` is 2-D. Returns `[rows, cols]`. */
export function dims2(t: Tensor, op: string): [number, number] {
  if (t.shape.length !== 2) {
    throw new RangeError(`${op}: expected a 2-D tensor, got ${t.label} ${shapeString(t.shape)}`);
  }
  return [t.shape[0], t.shape[1]];
}

/** Throws unless `a` and `b` have the same shape. */
export function sameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(
      `${op}: shapes differ, ${a.label} ${shapeString(a.shape)} vs ${b.label} ${
        shapeString(b.shape)
      }`,
    );
  }
}
