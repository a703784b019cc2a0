/**
 * Every kernel of `kernels/`, declared once (see `./declare.ts`): entry points, bindings, uniform
 * parameters and constants. The WGSL files hold only functions and entry points; their headers are
 * generated from these declarations, ops launch them through the typed launchers, and the CPU twins
 * of `src/reference/` read the same constants.
 *
 * @example
 * ```ts
 * import { ELEMENTWISE } from "./kernels.ts";
 * ELEMENTWISE.decl.entries.includes("relu"); // true
 * // ELEMENTWISE.launch("relu", { a: x, out }, { n: out.size }, out.size);
 * ```
 *
 * @module
 */

import { declareKernel, read, readWrite, sampler, texture } from "./declare.ts";
import { type Constant, f32, u32 } from "./prelude.ts";

const optional = { optional: true } as const;

/**
 * AdamW (`adamw`, one parameter), the global-norm clipping factor (`clip_scale`, one invocation),
 * and the fused update of every parameter over flat arrays, four elements per invocation
 * (`sumsq_flat`: squared-gradient sums per chunk; `adamw_flat`: the update; they read the `…4`
 * views).
 */
export const ADAMW = declareKernel({
  file: "adamw",
  entries: ["adamw", "clip_scale", "sumsq_flat", "adamw_flat"],
  workgroupSize: 256,
  bindings: {
    /** Weights (`clip_scale`: writes the gradient factor at [0]; `sumsq_flat`: its sums). */
    param: readWrite("f32", { views: { param4: "vec4<f32>" } }),
    /** Gradients (`clip_scale`: partial sums of squares). */
    grad: read("f32", { views: { grad4: "vec4<f32>" } }),
    /** First moments (`clip_scale`: the non-finite status, step number at [0]). */
    m1: readWrite("f32", { views: { m1_4: "vec4<f32>" } }),
    /** Second moments. */
    m2: readWrite("f32", { ...optional, views: { m2_4: "vec4<f32>" } }),
    /** Decay target when `use_anchor` (e.g. the initial weights). */
    anchor: read("f32", { ...optional, views: { anchor4: "vec4<f32>" } }),
    /** Per-step values: [lr, 1 / (1 − β1^t), 1 / (1 − β2^t), t]. */
    step: read("f32"),
    /** The gradient factor [1] written by `clip_scale` (0: skip a non-finite step). */
    scale: read("f32", optional),
    /** Flat entries: the segment table, then each chunk's segment (see `kernels/adamw.wgsl`). */
    segs: read("u32", optional),
  },
  params: {
    /** Elements (flat entries: the flat length, a multiple of `CHUNK`). */
    n: "u32",
    use_anchor: "u32",
    beta1: "f32",
    beta2: "f32",
    eps: "f32",
    weight_decay: "f32",
    clamp_min: "f32",
    clamp_max: "f32",
    /** Flat entries: segments in the table. */
    segments: "u32",
  },
  constants: {
    /** Words per segment of the flat entries' table. */
    SEG_WORDS: u32(8),
    /** Elements per chunk of the flat entries: one workgroup of vec4 invocations (4 × 256). */
    CHUNK: u32(1024),
  },
});

/** Masked multi-head self-attention, forward and backward, generic and blocked. */
export const ATTENTION = declareKernel({
  file: "attention",
  entries: [
    "attention_forward",
    "attention_backward_q",
    "attention_backward_kv",
    "attention_forward_blocked",
    "attention_backward_q_blocked",
    "attention_backward_kv_blocked",
  ],
  workgroupSize: 64,
  bindings: {
    q: read("f32"),
    k: read("f32"),
    v: read("f32"),
    /** Per-item validity [lists·n] (when `has_mask`). */
    mask: read("f32", optional),
    /** Backward: O (dQ) or the per-query stats (dK, dV). */
    a: read("f32", optional),
    /** Backward: dO. */
    b: read("f32", optional),
    /** O, dQ or dK. */
    out0: readWrite("f32"),
    /** Backward: the per-query stats (dQ) or dV. */
    out1: readWrite("f32", optional),
  },
  params: { lists: "u32", n: "u32", heads: "u32", dh: "u32", scale: "f32", has_mask: "u32" },
  constants: {
    /** Largest head dimension of the generic kernels. */
    MAX_DH: u32(128),
    /** Largest head dimension of the blocked kernels. */
    FAST_DH: u32(16),
    /** Items per invocation of the blocked kernels. */
    BLOCK: u32(4),
  },
  /** The blocked kernels' head dimension. */
  overrides: { DH: 1 },
});

/**
 * Bank-normalised retrieval: per-gallery-item statistics of a bank of queries accumulated over
 * score blocks (log-sum-exp, running top-k), and the normalised scores `s − bias[item]`.
 */
export const BANK_NORM = declareKernel({
  file: "bank_norm",
  entries: ["bank_lse", "bank_topk", "norm_block", "norm_pairs"],
  workgroupSize: 64,
  bindings: {
    /** A score block (statistics: gallery × bank; norm_block: images × texts) or pair scores. */
    a: read("f32"),
    /** Per-gallery-item statistics (bank_lse: (m, z) pairs; bank_topk: k scores each). */
    st: readWrite("f32", optional),
    /** Per-gallery-item bias subtracted from the scores (norm entries). */
    bias: read("f32", optional),
    /** Per query: 0 = keep its raw scores (norm entries, flags bit 1; `active` is reserved in WGSL). */
    on: read("u32", optional),
    /** Each relevant pair as (text, image, grade) (norm_pairs). */
    pairs: read("u32", optional),
    /** Normalised scores (norm entries). */
    out: readWrite("f32", optional),
  },
  params: {
    rows: "u32",
    cols: "u32",
    row0: "u32",
    col0: "u32",
    count: "u32",
    k: "u32",
    flags: "u32",
    beta: "f32",
  },
});

/** Seeded inverted dropout. */
export const DROPOUT = declareKernel({
  file: "dropout",
  entries: ["dropout"],
  workgroupSize: 256,
  bindings: { x: read("f32"), out: readWrite("f32") },
  params: { n: "u32", seed: "u32", step: "u32", threshold: "u32", scale: "f32" },
});

/** Elementwise maps and broadcasts over flat arrays. */
export const ELEMENTWISE = declareKernel({
  file: "elementwise",
  entries: [
    "axpby",
    "mul",
    "affine",
    "mul_scalar",
    "add_row_bias",
    "exp_scaled",
    "relu",
    "relu_backward",
    "gelu",
    "gelu_backward",
    "broadcast_scalar",
    "broadcast_rows",
    "broadcast_cols",
  ],
  workgroupSize: 256,
  bindings: { a: read("f32"), b: read("f32", optional), out: readWrite("f32") },
  params: { n: "u32", cols: "u32", alpha: "f32", beta: "f32" },
  constants: {
    /** GELU's tanh approximation: √(2/π). */
    GELU_C: f32(Math.sqrt(2 / Math.PI)),
  },
});

/**
 * Fused chains of a training step (`src/ops/fused.ts`): bias + activation and its backward with the
 * bias gradient, bias + row L2 normalisation and its backward with the bias gradient, the scaled
 * log-sum-exp of every row and every column (the CLIP / InfoNCE loss) with its backward, and the
 * backward of row dot products (both inputs' gradients in one pass).
 */
export const FUSED = declareKernel({
  file: "fused",
  entries: [
    "bias_act",
    "bias_act4",
    "bias_act_backward",
    "bias_act_backward4",
    "bias_l2norm",
    "bias_l2norm4",
    "bias_l2norm_backward",
    "lse_rows_cols",
    "lse_rows_cols_backward",
    "row_dot_backward",
  ],
  workgroupSize: 64,
  bindings: {
    // The `…4` views: the same buffers as quads, for the `…4` entries (cols a multiple of 4).
    a: read("f32", { views: { a4: "vec4<f32>" } }),
    b: read("f32", { ...optional, views: { b4: "vec4<f32>" } }),
    c: read("f32", { ...optional, views: { c4: "vec4<f32>" } }),
    d: read("f32", optional),
    out: readWrite("f32", { views: { out4: "vec4<f32>" } }),
    /** The second output: a bias gradient, the row factors of `bias_l2norm`, or b's gradient. */
    out2: readWrite("f32", { ...optional, views: { out24: "vec4<f32>" } }),
  },
  params: { rows: "u32", cols: "u32", act: "u32", has_bias: "u32", alpha: "f32", eps: "f32" },
  constants: {
    /** GELU's tanh approximation: √(2/π) (as `ELEMENTWISE`). */
    GELU_C: ELEMENTWISE.decl.constants.GELU_C,
    /** `act` values: identity, ReLU, GELU. */
    ACT_NONE: u32(0),
    ACT_RELU: u32(1),
    ACT_GELU: u32(2),
  },
});

/** Row gather and its adjoint, the scatter-add of rows. */
export const GATHER = declareKernel({
  file: "gather",
  entries: ["gather_rows", "gather_rows4", "scatter_add_rows"],
  workgroupSize: 256,
  bindings: {
    /** The source rows (`src4`: as quads, for `gather_rows4`). */
    src: read("f32", { views: { src4: "vec4<f32>" } }),
    /** Gather: the source row of each output row; scatter: the CSR lists of rows. */
    idx: read("u32"),
    /** Scatter: CSR offsets. */
    offsets: read("u32", optional),
    /** The result (`out4`: as quads, for `gather_rows4`). */
    out: readWrite("f32", { views: { out4: "vec4<f32>" } }),
  },
  params: { rows: "u32", cols: "u32", src_rows: "u32" },
});

/**
 * Gumbel perturbation of list scores, allRank's `stochastic_neural_sort` (the stochastic
 * NeuralNDCG): the batch minimum of the valid scores, the perturbed scores of `samples` draws and
 * the backward rule (through the log and the |min| term).
 */
export const GUMBEL = declareKernel({
  file: "gumbel",
  entries: ["list_min", "batch_min", "perturb", "grad_items", "grad_min"],
  workgroupSize: 64,
  bindings: {
    scores: read("f32"),
    labels: read("f32"),
    /** Per list, 2 values: (min, ties) of its valid scores; backward: (Σ w at the min, Σ w elsewhere). */
    lstat: readWrite("f32", optional),
    /** The batch's [min, ties] of the valid scores (ties 0: no valid item). */
    stat: readWrite("f32"),
    /** Forward: `[samples, lists, n]` perturbed scores; backward: d loss / d scores `[lists, n]`. */
    out: readWrite("f32", optional),
    /** Backward: d loss / d perturbed scores, `[samples, lists, n]`. */
    upstream: read("f32", optional),
    /** Backward: the forward's perturbed scores (±F32_MAX: clamped, no gradient). */
    pert: read("f32", optional),
  },
  params: {
    lists: "u32",
    n: "u32",
    /** Draws in this launch. */
    samples: "u32",
    /** Index of the first draw (the noise of draw `first + s`). */
    first: "u32",
    seed: "u32",
    beta: "f32",
    /** 1: log(s + |min| + EPS) before the noise. */
    log_scores: "u32",
  },
  constants: {
    /** Below this `1 − u`, −log(u) is summed as a series (log loses relative precision near 1). */
    SERIES_BELOW: f32(0.0625),
  },
});

/** The built-in image featuriser (per-cell histograms and a global block). */
export const IMAGE_FEATURES = declareKernel({
  file: "image_features",
  entries: ["cell_features", "global_features"],
  workgroupSize: 64,
  bindings: { pixels: read("u32"), out: readWrite("f32") },
  params: { count: "u32", size: "u32", grid: "u32", dim: "u32", first: "u32" },
  constants: {
    /** Values per grid cell: 8 hue, 3 grey and 8 orientation bins. */
    CELL_DIM: u32(19),
    /** Values of the global block. */
    GLOBAL_DIM: u32(8),
    /** Orientation normalisation: sum + GRAD_EPS · pixels. */
    GRAD_EPS: f32(0.05),
    /** Smoothed square root: √(x + POWER_EPS) − √POWER_EPS. */
    POWER_EPS: f32(1e-4),
  },
});

/** Row-wise layer norm and its backward. */
export const LAYERNORM = declareKernel({
  file: "layernorm",
  entries: [
    "layernorm_forward",
    "layernorm_backward_input",
    "layernorm_backward_params_partial",
    "layernorm_backward_params_finish",
  ],
  workgroupSize: 64,
  bindings: {
    a: read("f32"),
    b: read("f32", optional),
    c: read("f32", optional),
    out: readWrite("f32"),
    out2: readWrite("f32", optional),
  },
  params: { rows: "u32", cols: "u32", eps: "f32" },
  constants: {
    /** Rows per partial sum of the parameter gradients. */
    CHUNK: u32(64),
  },
});

/** The bindings every ranking-loss kernel shares (`kernels/losses.wgsl` and one file per loss). */
export const LOSS_BINDINGS = {
  /** Scores [lists, n]. */
  s: read("f32"),
  /** Labels [lists, n]: graded relevance ≥ 0, −1 for padding. */
  y: read("f32"),
  /** Per-item workspace written by a forward pass. */
  wa: read("f32", optional),
  /** Per-list workspace. */
  wb: read("f32", optional),
  /** Items as (score, label, item index, extra) in the label order of `sort_labels`. */
  ent: read("vec4<f32>", optional),
  /** `sort_labels`' per-list counts [lists, 4]. */
  info: read("f32", optional),
  /** Upstream gradient [1]. */
  g: read("f32", optional),
  /** The reduction's denominator [1] saved by `finish`. */
  den: read("f32", optional),
  /** Main output. */
  o: readWrite("f32"),
  /** Second output. */
  o2: readWrite("f32", optional),
  /** Scratch output. */
  o3: readWrite("f32", optional),
} as const;

/** The uniform parameters every ranking-loss kernel shares. */
export const LOSS_PARAMS = {
  lists: "u32",
  n: "u32",
  /** Loss-specific switch: reduction, scheme, weighting, variant, tie seed. */
  mode: "u32",
  /** Effective cutoff (lambdaloss). */
  k: "u32",
  /** Loss-specific reals (margin, sigma, mu, alpha, temperature, …). */
  f0: "f32",
  f1: "f32",
  f2: "f32",
  f3: "f32",
} as const;

/** The ranking losses' shared entries: per-list sums, the batch reduction, the label order. */
export const LOSSES = declareKernel({
  file: "losses",
  entries: ["reduce_items", "finish", "sort_labels", "ideal_dcg"],
  workgroupSize: 64,
  bindings: LOSS_BINDINGS,
  params: LOSS_PARAMS,
});

/**
 * The kernel of one ranking loss, `kernels/<file>.wgsl`: the loss bindings and parameters, with
 * `kernels/losses.wgsl` included. Adding a loss: one line here, its kernel file and its CPU twin.
 */
function lossKernel<
  const F extends string,
  const E extends readonly string[],
  const C extends Readonly<Record<string, Constant>> = Record<never, Constant>,
>(file: F, entries: E, constants?: C) {
  return declareKernel({
    file,
    entries,
    workgroupSize: 64,
    bindings: LOSS_BINDINGS,
    params: LOSS_PARAMS,
    constants: (constants ?? {}) as C,
    includes: ["losses"],
  });
}

/** `softmax`: listwise softmax cross-entropy. */
export const SOFTMAX = lossKernel("softmax", [
  "softmax_fwd",
  "softmax_bwd",
  "softmax2_fwd",
  "softmax2_finish",
  "softmax2_bwd",
]);
/** `hinge`: the VSE++ hinge (sum or max violation). */
export const HINGE = lossKernel("hinge", ["hinge_fwd", "hinge_bwd"]);
/** `cmpm`: cross-modal projection matching. */
export const CMPM = lossKernel("cmpm", ["cmpm_fwd", "cmpm_bwd"], {
  /** The log guard of `log(q + ε)`, as in the paper's code. */
  CMPM_EPS: f32(1e-8),
});
/** `ranknet`: allRank's rankNet. */
export const RANKNET = lossKernel("ranknet", ["ranknet_fwd", "ranknet_bwd"]);
/** rankNet's pair weightings (allRank's `rankNet`, `_weightByGTDiff`, `_pow`), in `mode` order. */
export const RANKNET_WEIGHTINGS = ["none", "gtDiff", "gtDiffPow"] as const;
/** A rankNet pair weighting. */
export type RankNetWeighting = (typeof RANKNET_WEIGHTINGS)[number];
/** `lambdaloss`: allRank's lambdaLoss. */
export const LAMBDALOSS = lossKernel("lambdaloss", [
  "sort_scores",
  "lambda_entries",
  "lambda_fwd",
  "lambda_bwd",
]);
/** LambdaLoss weighing schemes (allRank's `*_scheme` without the suffix), in `mode` order. */
export const LAMBDA_SCHEMES = [
  "ndcgLoss1",
  "ndcgLoss2",
  "lambdaRank",
  "ndcgLoss2PP",
  "rankNet",
] as const;
/** A LambdaLoss weighing scheme. */
export type LambdaScheme = (typeof LAMBDA_SCHEMES)[number];
/** `listnet`: allRank's listNet. */
export const LISTNET = lossKernel("listnet", ["listnet_fwd", "listnet_bwd"]);
/** `listmle`: allRank's listMLE. */
export const LISTMLE = lossKernel("listmle", ["listmle_fwd", "listmle_bwd"]);
/** `approxndcg`: allRank's approxNDCGLoss. */
export const APPROXNDCG = lossKernel("approxndcg", ["approx_prep", "approx_bwd"]);
/** `smoothap`: Smooth-AP. */
export const SMOOTHAP = lossKernel("smoothap", ["smoothap_fwd", "smoothap_bwd"]);
/** `recallk`: the Recall@k surrogate. */
export const RECALLK = lossKernel("recallk", ["recallk_rank", "recallk_list", "recallk_bwd"], {
  /** Most cutoffs K one launch takes (the per-list array's length). */
  RK_MAX_K: u32(16),
});

/** Register-blocked matmul for the four layouts, A·Bᵀ's diagonal, and the operand padding. */
export const MATMUL = declareKernel({
  file: "matmul",
  entries: ["mm_nn", "mm_nt", "mm_tn", "mm_tt", "mm_nt_rows", "mm_pad", "mm_shared"],
  bindings: {
    /** Operand A as vec4s (`mm_pad`: the source, as f32s). */
    a: read("vec4<f32>", { views: { src: "f32" } }),
    /** Operand B as vec4s (`mm_shared`: as f32s, `bs`). */
    b: read("vec4<f32>", { ...optional, views: { bs: "f32" } }),
    /** C (`mm_pad`: the padded copy, as vec4s). */
    c: readWrite("f32", { views: { dst: "vec4<f32>" } }),
  },
  params: {
    /** Rows of C (of op(A)). */
    m: "u32",
    /** Columns of C (of op(B)). */
    n: "u32",
    /** Inner dimension. */
    k: "u32",
    /** Row stride of stored A, in vec4s. */
    sa: "u32",
    /** Row stride of stored B, in vec4s. */
    sb: "u32",
    /** Inner dimension in steps of 4 (operands are zero-padded to 4 kc). */
    kc: "u32",
    /** 1: write C transposed (N × M). */
    tc: "u32",
    /** First row of this dispatch (dispatches are split at 65535 workgroups per dimension). */
    r0: "u32",
    /** First vec4 column group of this dispatch. */
    g0: "u32",
    /** `mm_pad`: source rows, source columns, destination rows, destination columns. */
    rows: "u32",
    cols: "u32",
    rows_p: "u32",
    cols_p: "u32",
    /** `mm_pad`: 1 when the source is stored transposed (cols × rows). */
    tr: "u32",
    /** `mm_shared`: 1 when A (B) is stored transposed. */
    ta: "u32",
    tb: "u32",
  },
  constants: {
    /** Largest rows per invocation (the accumulator arrays' length). */
    TM_MAX: u32(32),
    /** Largest vec4 column groups per invocation. */
    NQ_MAX: u32(8),
    /** Workgroup size of the one-invocation-per-line entries `mm_nt_rows` and `mm_pad`. */
    LINE_WG: u32(64),
  },
  /**
   * The tile: TM rows × 4 NQ columns per invocation, WG invocations per workgroup; VROWS (`tc` 0,
   * N % 4 = 0) / VCOLS (`tc` 1, M % 4 = 0): C is stored a vec4 at a time.
   */
  overrides: { TM: 32, NQ: 8, WG: 8, VROWS: 0, VCOLS: 0 },
});

/**
 * The register-blocked matmul reading its operands through `rgba32float` textures, explicitly
 * unrolled per tile (`//#for`, see `expandUnrolls` in `./kernel.ts`).
 */
export const MATMUL_TEX = declareKernel({
  file: "matmul_tex",
  entries: ["mt_blocked"],
  bindings: {
    /** Left operand L (M × K): texel (kc, i) = L[i][4 kc … 4 kc + 3] (`LT`: (g, k) = L[4 g …][k]). */
    ta: texture(),
    /** Right operand R (K × N): texel (g, k) = R[k][4 g … 4 g + 3] (`RT`: (kc, j) = R[4 kc …][j]). */
    tb: texture(),
    /** The nearest sampler the texels are read through (bound by the runtime). */
    nearest: sampler(),
    /** C, M × N row-major (N × M when `tc`); `c4` its vec4 view (`VROWS`, `VCOLS`). */
    c: readWrite("f32", { views: { c4: "vec4<f32>" } }),
  },
  params: {
    /** Rows of C. */
    m: "u32",
    /** Columns of C. */
    n: "u32",
    /** Inner dimension in steps of 4 (the textures are zero-padded to 4 kc). */
    kc: "u32",
    /** 1: write C transposed (N × M). */
    tc: "u32",
    /** First row of this dispatch (dispatches are split at 65535 workgroups per dimension). */
    r0: "u32",
    /** First vec4 column group of this dispatch. */
    g0: "u32",
  },
  /**
   * The tile: 4 TM4 rows × 4 NQ columns per invocation, WG invocations per workgroup; LT / RT
   * (0 or 1): the left / right operand is read from its transposed storage (see the file);
   * VROWS (`tc` 0, N % 4 = 0) / VCOLS (`tc` 1, M % 4 = 0): C is stored a vec4 at a time;
   * DOT (with RT = 1, LT = 0): each step of 4 k adds `dot(A quad, B quad)`, as `mm_nt_rows`.
   */
  overrides: { TM4: 8, NQ: 8, WG: 8, LT: 0, RT: 0, VROWS: 0, VCOLS: 0, DOT: 0 },
});

/** The naive one-output-per-invocation matmul (16 × 16 workgroups): benchmark baseline. */
export const MATMUL_NAIVE = declareKernel({
  file: "matmul_naive",
  entries: ["matmul_naive"],
  bindings: { a: read("f32"), b: read("f32"), c: readWrite("f32") },
  params: { m: "u32", n: "u32", k: "u32", trans_a: "u32", trans_b: "u32" },
});

/** Per-list vectors (`lmeta`) slots and plane layouts shared by the NeuralSort family. */
const NEURALSORT_CONSTANTS = {
  /** Floats per list of `lmeta`. */
  META: u32(8),
  /** lmeta slots: valid count, Sinkhorn iterations run, cutoff, DCG. */
  NV: u32(0),
  ITERS: u32(1),
  CUT: u32(3),
  DCG: u32(4),
  /** Planes of the items array. */
  ITEM_PLANES: u32(11),
  /** Items planes: sorted sig, gain, discount, valid mask, slot of each position, tile bounds. */
  SIG: u32(0),
  GAIN: u32(1),
  DISC: u32(2),
  VMASK: u32(3),
  SLOT: u32(4),
  STIL: u32(5),
  /** Items planes by slot: sig, gain, mask; and the large constants k0 (by position), r0 (row). */
  USIG: u32(6),
  UGAIN: u32(7),
  UVMASK: u32(8),
  K0: u32(9),
  R0: u32(10),
  /** Planes of a state. */
  STATE_PLANES: u32(5),
  /** State planes: kap (by position), rho (by rank row), row sums, column sums, tile maxima. */
  KAP: u32(0),
  RHO: u32(1),
  RS: u32(2),
  CS: u32(3),
  TIL: u32(4),
  /** Planes of the work array. */
  WORK_PLANES: u32(8),
  /** Work planes (backward accumulators and per-item temporaries). */
  ABAR: u32(0),
  ZETA: u32(1),
  GBAR: u32(2),
  BBAR: u32(3),
  A1: u32(4),
  A2: u32(5),
  H: u32(6),
  TMP: u32(7),
  /** Stands for −∞ in the large constants. */
  BIG: f32(1e38),
  /** Exponents below this are exactly 0 in f32: tiles entirely below are skipped. */
  DEAD: f32(-110),
} as const;

/** The uniform parameters of the NeuralSort family. */
const NEURALSORT_PARAMS = {
  /** Lists in this dispatch. */
  lists: "u32",
  /** Slots per list. */
  n: "u32",
  /** Padded stride of the per-item arrays (a multiple of 4). */
  np: "u32",
  /** First list of the dispatch in scores, labels, weights and out. */
  list0: "u32",
  /** Lists in scores, labels, weights and out. */
  total: "u32",
  /** Sinkhorn iteration (1-based), where used. */
  t: "u32",
  /** Sinkhorn iteration cap. */
  max_iter: "u32",
  /**
   * Bit 0: powered gains 2^y − 1; bit 1: scores are bound; bit 2: sorted (fused) state;
   * `sinkhorn_check` bit 3 / bit 4: a stopping list's state goes to cur / fin.
   */
  flags: "u32",
  /** Rank cutoff, 0 = none. */
  k: "u32",
  /** lmeta slot written by `list_sums`. */
  slot: "u32",
  /** Work plane read by `list_sums`; `state_tiles`: 0 = kap tiles, 1 = rho tiles. */
  plane: "u32",
  /** Temperature. */
  tau: "f32",
  /** Clamp of s / τ. */
  limit: "f32",
  /** Sinkhorn tolerance. */
  tol: "f32",
} as const;

/** The bindings of NeuralSort and NeuralNDCG (one layout: the loss includes NeuralSort's code). */
const NEURALSORT_BINDINGS = {
  /** Scores [total, n] (row list0 + b is list b of the dispatch). */
  scores: read("f32", optional),
  /** Labels [total, n]. */
  labels: read("f32", optional),
  /** d loss / d (the loss) [1], backward only. */
  upstream: read("f32", optional),
  /** Per-list loss weights [total]. */
  weights: read("f32", optional),
  /** Per list: valid count, iterations, cutoff, DCG ([lists, META]). */
  lmeta: readWrite("f32", optional),
  /** Per-item planes [ITEM_PLANES, lists, np]. */
  items: readWrite("vec4<f32>", optional),
  /** Sinkhorn state t − 1 [STATE_PLANES, lists, np]. */
  prev: readWrite("vec4<f32>", optional),
  /** Sinkhorn state t (state 0: the NeuralSort normalisers). */
  cur: readWrite("vec4<f32>", optional),
  /** Backward accumulators and temporaries [WORK_PLANES, lists, np]. */
  work: readWrite("vec4<f32>", optional),
  /** P̂ or the Sinkhorn result [lists, n, n] (plain path, slot order). */
  mat: readWrite("f32", optional),
  /** Its gradient (plain path). */
  mat2: readWrite("f32", optional),
  /** d loss / d scores [total, n], per-list weights [total], or the loss [1]. */
  out: readWrite("f32", optional),
} as const;

/** NeuralSort: the per-list preparation (shared with NeuralNDCG), P̂ and its backward. */
export const NEURALSORT = declareKernel({
  file: "neuralsort",
  entries: [
    "list_prep",
    "item_prep",
    "item_sort",
    "item_tiles",
    "item_abs",
    "state_tiles",
    "row_lse",
    "sort_backward",
    "neuralsort_write",
    "neuralsort_back_rows",
    "neuralsort_back_cols",
  ],
  workgroupSize: 64,
  bindings: NEURALSORT_BINDINGS,
  params: NEURALSORT_PARAMS,
  constants: NEURALSORT_CONSTANTS,
});

/** NeuralNDCG: weights, the fused Sinkhorn iterations and loss with their backward, soft DCG. */
export const NEURALNDCG = declareKernel({
  file: "neuralndcg",
  entries: [
    "item_ideal",
    "list_sums",
    "list_idcg",
    "batch_weights",
    "weighted_total",
    "fused_col_sums",
    "fused_col_update",
    "fused_row_step",
    "fused_dcg_rows",
    "fused_dcg_cols",
    "fused_back_init_rows",
    "fused_back_init_cols",
    "fused_back_cols",
    "fused_back_rows",
    "fused_back_final",
    "dcg_rows",
    "dcg_cols",
    "dcg_grad",
  ],
  workgroupSize: 64,
  bindings: NEURALSORT_BINDINGS,
  params: NEURALSORT_PARAMS,
  constants: NEURALSORT_CONSTANTS,
  includes: ["neuralsort"],
});

/**
 * Words of the fused Sinkhorn's gate (`u32`; each x, y, z triple is the workgroup counts of
 * indirect launches, 0 once no list runs them: the iterations stop without a readback).
 */
const SINKHORN_GATE = {
  /** Lists still running; the check of the last one to stop closes the gate. */
  G_RUNNING: u32(0),
  /** Iterations the slowest list ran (max_iter while the gate is open). */
  G_RUN: u32(1),
  /** Counts of the forward's per-quad launches, then of its per-tile launches. */
  G_QUADS: u32(4),
  G_TILES: u32(7),
  /**
   * Backward: at G_BACK + 3t (t = 0 … max_iter) the counts of passes that run when some list ran
   * iteration t (always for t = 0): iteration t's column pass reads triple t, its row pass t − 1.
   */
  G_BACK: u32(10),
} as const;

/** Sinkhorn scaling of materialised matrices, its backward, and the per-list stopping check. */
export const SINKHORN = declareKernel({
  file: "sinkhorn",
  entries: [
    "sinkhorn_check",
    "sinkhorn_mask",
    "sinkhorn_col_sums",
    "sinkhorn_row_step",
    "sinkhorn_back_rows",
    "sinkhorn_back_cols",
  ],
  workgroupSize: 64,
  bindings: {
    /** Labels [total, n]. */
    labels: read("f32"),
    /** Per list: nv (slot NV), iterations (slot ITERS). */
    lmeta: readWrite("f32"),
    /** State t − 1 (planes kap, rho, rs, cs, …). */
    prev: readWrite("vec4<f32>", optional),
    /** State t (flags bit 2: a fused state, columns in the sorted order of NeuralSort). */
    cur: readWrite("vec4<f32>", optional),
    /** The matrix (forward) or the copy being unscaled (backward) [lists, n, n]. */
    mat: readWrite("f32", optional),
    /** Its gradient (backward). */
    mat2: readWrite("f32", optional),
    /** Fused check: the final state, where a list's state goes when it stops (flags bit 4). */
    fin: readWrite("vec4<f32>", optional),
    /** Fused check: the gate (words `G_*`). */
    gate: readWrite("atomic<u32>", optional),
  },
  params: NEURALSORT_PARAMS,
  constants: { ...NEURALSORT_CONSTANTS, ...SINKHORN_GATE },
});

/** Row-wise reductions and normalisations. */
export const REDUCE = declareKernel({
  file: "reduce",
  entries: [
    "row_sum",
    "col_sum",
    "row_dot",
    "row_logsumexp",
    "row_logsumexp_backward",
    "row_softmax",
    "row_softmax_backward",
    "row_l2norm",
    "row_l2norm_backward",
    "chunk_sum",
  ],
  workgroupSize: 64,
  bindings: {
    a: read("f32"),
    b: read("f32", optional),
    c: read("f32", optional),
    out: readWrite("f32"),
  },
  params: { rows: "u32", cols: "u32", alpha: "f32", eps: "f32" },
});

/** The listwise reranker's per-candidate input features. */
export const RERANK_FEATURES = declareKernel({
  file: "rerank_features",
  entries: ["rerank_features"],
  workgroupSize: 256,
  bindings: {
    /** Query embeddings [queries, e]. */
    query: read("f32"),
    /** Candidate embeddings [candidates, e]. */
    cand: read("f32"),
    /** The first-stage top-k [queries·k]. */
    idx: read("u32"),
    /** Their first-stage scores [queries·k]. */
    scores: read("f32"),
    /** Features [queries·k, 3e + 2]. */
    out: readWrite("f32"),
  },
  params: { rows: "u32", e: "u32", k: "u32", width: "u32" },
});

/** Chunked retrieval evaluation: row preparation and rank counts over blocks of scores. */
export const RETRIEVAL = declareKernel({
  file: "retrieval",
  entries: ["prepare_rows", "count_t2i", "count_i2t"],
  workgroupSize: 64,
  bindings: {
    /** Raw rows (prepare) or a block of scores (counts). */
    a: read("f32"),
    /** The source row of each prepared row (prepare). */
    bu: read("u32", optional),
    /** The score of each relevant pair (counts). */
    rel: read("f32", optional),
    /** Each relevant pair as (text, image, grade), by text (counts). */
    pairs: read("u32", optional),
    /** Text t's pairs are pairs[offsets[t] .. offsets[t + 1]) (counts: grades of tied items). */
    offsets: read("u32", optional),
    /** Pair indices sorted by image (count_i2t). */
    order: read("u32", optional),
    /** Prepared rows. */
    o: readWrite("f32", optional),
    /** Per-pair rank counts (counts). */
    counts: readWrite("u32", optional),
  },
  params: {
    rows: "u32",
    cols: "u32",
    d4: "u32",
    stride: "u32",
    row0: "u32",
    col0: "u32",
    start: "u32",
    count: "u32",
    offset: "u32",
    flags: "u32",
  },
});

/** Top-k gallery items per query, merged block by block. */
export const TOPK = declareKernel({
  file: "topk",
  entries: ["topk_merge"],
  workgroupSize: 64,
  bindings: {
    /** A score block [ng, nq]. */
    block: read("f32"),
    /** Per query its k scores (f32 bits), best first, then (after total·k) its k indices. */
    out: readWrite("u32"),
  },
  params: { nq: "u32", ng: "u32", g0: "u32", k: "u32", row0: "u32", total: "u32" },
});

/** Matrix transpose. */
export const TRANSPOSE = declareKernel({
  file: "transpose",
  entries: ["transpose"],
  workgroupSize: 256,
  bindings: { a: read("f32"), out: readWrite("f32") },
  params: { rows: "u32", cols: "u32" },
});
