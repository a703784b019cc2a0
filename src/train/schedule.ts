/**
 * Learning-rate schedule: linear warmup, then cosine decay to `minRatio · lr`.
 *
 * @module
 */

/** Schedule settings. */
export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Total optimisation steps. */
  totalSteps: number;
  /** Warmup steps (linear from lr/warmup to lr). */
  warmupSteps: number;
  /** Final learning rate as a fraction of `lr`. Default 0.01. */
  minRatio?: number;
}

/**
 * The learning rate at 1-based step `step`.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedule.ts";
 * learningRate(1, { lr: 1e-3, totalSteps: 100, warmupSteps: 10 }); // 1e-4
 * ```
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  const minRatio = o.minRatio ?? 0.01;
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.lr * step) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  return o.lr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
