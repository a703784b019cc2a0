/**
 * Where the wall time of the fused InfoNCE step goes (batch 256, 512 → 256 heads, AdamW; the
 * `fused ops` step of `bench/train_bench.ts`): per step, the JS recording (`scope` of the step),
 * `queue.submit` (on llvmpipe through GL the submit runs the kernels) and the one GPU wait per
 * `--steps` steps, over `--rounds` rounds after 8 warm-up steps.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/mesa/step_split.ts [--steps 16] [--rounds 5]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initGpu, rt } from "../../src/gpu/runtime.ts";
import { scope } from "../../src/autodiff/tensor.ts";
import { backward } from "../../src/autodiff/tape.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { biasL2Normalize } from "../../src/ops/fused.ts";
import { symmetricSoftmaxLoss } from "../../src/losses/softmax.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { INFONCE, INFONCE_ADAM, infoNceTensors } from "../util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { steps: { type: "string", default: "16" }, rounds: { type: "string", default: "5" } },
});
const [steps, rounds] = [Number(values.steps), Number(values.rounds)];
for (const [name, v] of [["--steps", steps], ["--rounds", rounds]] as const) {
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`step_split.ts: ${name} must be a positive integer, got '${v}'`);
    Deno.exit(2);
  }
}

await initGpu();
const { text, image, textW, textB, imageW, imageB, labels } = infoNceTensors();
const opt = new AdamW([textW, textB, imageW, imageB], INFONCE_ADAM);
const step = () =>
  scope(() => {
    const t = biasL2Normalize(matmul(text, textW), textB);
    const v = biasL2Normalize(matmul(image, imageW), imageB);
    backward(symmetricSoftmaxLoss(matmul(t, v, { transB: true }), labels, INFONCE.logitScale));
    opt.step();
    opt.zeroGrad();
  });

for (let i = 0; i < 8; i++) {
  step();
  rt().submit();
}
await rt().sync();
const ms = (x: number) => x.toFixed(2);
for (let round = 0; round < rounds; round++) {
  let record = 0;
  let submit = 0;
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const a = performance.now();
    step();
    const b = performance.now();
    rt().submit();
    record += b - a;
    submit += performance.now() - b;
  }
  const waitStart = performance.now();
  await rt().sync();
  const end = performance.now();
  console.log(
    `per step: record ${ms(record / steps)} ms, submit ${ms(submit / steps)} ms, all ` +
      `${ms((end - start) / steps)} ms (one wait per ${steps} steps: ${ms(end - waitStart)} ms)`,
  );
}
