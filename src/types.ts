/**
 * The public types of tripletkit, spelled as in API.md (v1). Everything here is re-exported
 * from the package entry; the backend-facing types live in `./backend` and are internal.
 */

/**
 * A dense, row-major float32 matrix: element (i, j) is `data[i * cols + j]`.
 * Build one with {@link matrix} or pass your own `{ data, rows, cols }` object.
 */
export interface Matrix {
  /** The values, row after row; `data.length === rows * cols`. */
  readonly data: Float32Array
  /** Number of rows (embeddings). */
  readonly rows: number
  /** Number of columns (the embedding dimension). */
  readonly cols: number
}

/**
 * Anything a function accepts where it wants a matrix: a {@link Matrix} (used as is, no copy)
 * or an array of equal-length rows (copied once into a Float32Array).
 */
export type MatrixLike = Matrix | readonly (readonly number[])[]

/**
 * Class ids, one per row: an Int32Array (used as is) or an array of integers in the int32
 * range (copied). Any values are allowed, negative ones too; only equality matters.
 */
export type Labels = Int32Array | readonly number[]

/**
 * A distance (smaller = closer): `euclidean` ‖a−b‖₂, `sqeuclidean` ‖a−b‖₂²,
 * `cosine` 1 − a·b/(‖a‖‖b‖) (1 when either vector is zero), `dot` −a·b.
 */
export type Metric = 'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'

/**
 * Where the work runs. `'auto'` (default) picks CUDA when usable, else the native CPU backend,
 * else the pure-TypeScript reference `'js'`. Naming a device that cannot run is an error.
 */
export type Device = 'auto' | 'cuda' | 'cpu' | 'js'

/**
 * How triplets are mined. With m = d(a,n) − d(a,p) and margin α: `all` every valid triplet,
 * `violating` m ≤ α, `hard` m ≤ 0, `semihard` 0 < m ≤ α, `easy` m > α; `batch-hard` one triplet
 * per anchor (hardest positive, hardest negative); `batch-semihard` one per positive pair
 * (FaceNet / TensorFlow Addons' TripletSemiHardLoss).
 */
export type Strategy = 'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'

/** A list of triplets as three parallel index arrays (row indices into the embeddings). */
export interface Triplets {
  /** Anchor row of each triplet. */
  anchor: Int32Array
  /** Positive row (same label as the anchor, a different row). */
  positive: Int32Array
  /** Negative row (a different label from the anchor). */
  negative: Int32Array
  /** Number of triplets; equals the length of each array. */
  length: number
}

/**
 * Triplets as a caller may write them: the arrays may also be plain number arrays and
 * `length` may be left out. Accepted wherever {@link Triplets} is accepted as input.
 */
export interface TripletsLike {
  /** Anchor row of each triplet. */
  readonly anchor: Int32Array | readonly number[]
  /** Positive row of each triplet. */
  readonly positive: Int32Array | readonly number[]
  /** Negative row of each triplet. */
  readonly negative: Int32Array | readonly number[]
  /** When given, must equal the length of each array. */
  readonly length?: number
}

/** Reduction of {@link tripletLoss}: `mean-active` is the mean over the triplets whose loss is > 0. */
export type LossReduction = 'mean' | 'sum' | 'mean-active'

/** Reduction of {@link tripletMarginLoss}: `none` reports the sum as `loss` and each row's own gradient. */
export type MarginLossReduction = 'mean' | 'sum' | 'none'

/** Options shared by every function that computes distances. */
export interface MetricOptions {
  /** The distance; default `'euclidean'`. */
  metric?: Metric
  /** L2-normalize every embedding first (gradients flow through it); default `false`. */
  normalize?: boolean
  /** Where to run; default `'auto'`. */
  device?: Device
  /**
   * The most device memory, in bytes, a call on `'cuda'` plans its chunks with (inputs larger
   * than that are cut into chunks and the chunks' answers merged); default: 80 % of the GPU's
   * free memory. On `'cpu'` it caps the tiles of distances its threads work in (not the
   * inputs or the result), planned the same way; `'js'` ignores it.
   */
  maxMemory?: number
}

/** Options shared by every async function. */
export interface AbortOptions {
  /**
   * Aborting rejects the promise at once with a DOMException named 'AbortError' and drops the
   * result; work not yet started is not started. The `…Sync` twins throw that error when the
   * signal is already aborted (or is aborted from an `onProgress` callback).
   */
  signal?: AbortSignal
}

/** Options of {@link pairwiseDistances}. */
export interface PairwiseDistancesOptions extends MetricOptions, AbortOptions {}

/** Options of {@link knn}. */
export interface KnnOptions extends MetricOptions, AbortOptions {
  /** Neighbours per query: an integer from 1 to the corpus size (corpus size − 1 with `excludeSelf`). */
  k: number
  /** Query i never returns corpus index i (for a set searched against itself); default `false`. */
  excludeSelf?: boolean
  /**
   * Query rows per backend call: progress is reported and an abort takes effect between
   * calls. Memory does not depend on it. Default `max(1024, ceil(4_194_304 / corpusRows))`.
   */
  batchSize?: number
  /** Called after each batch with the query rows done so far and the total. */
  onProgress?: (done: number, total: number) => void
}

/** Options of a {@link KnnIndex}: how every search measures distance, and where it runs. */
export interface KnnIndexOptions {
  /** The distance; default `'euclidean'`. */
  metric?: Metric
  /** L2-normalize every row first; default `false`. */
  normalize?: boolean
  /** Where to run; default `'auto'`, chosen at each search by its size as {@link knn} does. */
  device?: Device
  /** As {@link MetricOptions.maxMemory}, for every search. */
  maxMemory?: number
}

/** Options of {@link KnnIndex.search} and {@link KnnIndex.searchSync}. */
export interface KnnIndexSearchOptions extends AbortOptions {
  /** Neighbours per query: an integer from 1 to the index's size (size − 1 with `excludeSelf`). */
  k: number
  /** Query row i never returns global index i (an index searched with its own rows); default `false`. */
  excludeSelf?: boolean
  /** Query rows per step: progress and aborts act between steps. Default as {@link KnnOptions.batchSize}. */
  batchSize?: number
  /** Called after each batch with the query rows done so far and the total. */
  onProgress?: (done: number, total: number) => void
}

/** Result of {@link knn}: row-major `rows × k`, each row ascending by distance (ties to the lower index). */
export interface KnnResult {
  /** Corpus index of each neighbour. */
  indices: Int32Array
  /** Distance to each neighbour. */
  distances: Float32Array
  /** Number of queries. */
  rows: number
  /** Neighbours per query. */
  k: number
}

/** Options of {@link mineTriplets}. */
export interface MineTripletsOptions extends MetricOptions, AbortOptions {
  /**
   * Cross-batch memory: embeddings of earlier batches. Anchors then come from `embeddings` and
   * positives and negatives from `reference` (indices into it; no a ≠ p rule); the gradient
   * is with respect to `embeddings` only. Given together with `referenceLabels`.
   */
  reference?: MatrixLike
  /** Labels of `reference`; required exactly when `reference` is given. */
  referenceLabels?: Labels
  /** The mining strategy (required). */
  strategy: Strategy
  /**
   * Called now and then while {@link mineTriplets} runs on a native device, with the anchor
   * rows done of its current pass and their total (the `…Sync` twin and `'js'` report nothing).
   */
  onProgress?: (done: number, total: number) => void
  /** α, default 0.2. */
  margin?: number
  /**
   * Set strategies (`all`, `violating`, `hard`, `semihard`, `easy`) fail with a RangeError rather
   * than produce more triplets than this, having allocated nothing. Default and upper bound:
   * `min(2**31 − 1, floor(headroom / 32))` at call time, where the headroom is what this
   * process can still allocate (container limits and calls in flight count).
   */
  maxTriplets?: number
  /** Keep a uniform sample of the set strategy's triplets rather than all of them. */
  sample?: SampleOptions
}

/**
 * A uniform sample of a set strategy's triplets (docs/SEMANTICS.md, "Sampled mining"): each
 * triplet (a, p, n) of the set gets the key h(seed, a, p, n), SplitMix64 chained over the four
 * numbers in global indices, and the `count` triplets of smallest key are kept (all of them
 * when the set is smaller), listed in the set's usual (a, p, n) order. The sample depends on
 * the seed and the set alone: the same on every device and thread count, and shards' samples
 * merge with {@link mergeTripletSamples}. Memory is O(count), never refused by `maxTriplets`.
 */
export interface SampleOptions {
  /** Triplets to keep, at most: an integer from 0 to 2³¹ − 1. */
  count: number
  /** The key's seed: an integer from 0 to 2⁵³ − 1; default 0. */
  seed?: number
  /**
   * Global index of this call's first anchor, for a shard of a larger batch (default 0);
   * without a reference set the candidates are the anchors and share it.
   */
  anchorOffset?: number
  /** Global index of the reference set's first row, for a shard of a larger set (default 0). */
  referenceOffset?: number
}

/** Options of {@link tripletLoss}. */
export interface TripletLossOptions extends MetricOptions, AbortOptions {
  /**
   * Cross-batch memory: embeddings of earlier batches. Anchors then come from `embeddings` and
   * positives and negatives from `reference` (indices into it; no a ≠ p rule); the gradient
   * is with respect to `embeddings` only. Given together with `referenceLabels`.
   */
  reference?: MatrixLike
  /** Labels of `reference`; required exactly when `reference` is given. */
  referenceLabels?: Labels
  /** Default `'batch-hard'`; a {@link Triplets} object uses exactly those triplets. */
  mining?: Strategy | Triplets | TripletsLike
  /** α, default 0.2, used by the mining strategy and the hinge. */
  margin?: number
  /** softplus(d(a,p) − d(a,n)) instead of the hinge (α still mines); default `false`. */
  softMargin?: boolean
  /** d(a,n) := min(d(a,n), d(p,n)) (Balntas et al. 2016); default `false`. */
  swap?: boolean
  /** Default `'mean'`. */
  reduction?: LossReduction
  /** As {@link MineTripletsOptions.maxTriplets}, for set strategies. */
  maxTriplets?: number
  /** As {@link MineTripletsOptions.sample}: the loss over a sample of the mined set. */
  sample?: SampleOptions
}

/** Result of {@link tripletLoss}. */
export interface LossResult {
  /** The reduced loss. */
  loss: number
  /** dLoss/dEmbeddings, same shape as the embeddings. */
  grad: Matrix
  /** Triplets the loss was computed over. */
  triplets: number
  /** Of those, triplets with a loss > 0. */
  active: number
}

/** Options of {@link tripletMarginLoss}. */
export interface TripletMarginLossOptions extends MetricOptions, AbortOptions {
  /** α, default 0.2. */
  margin?: number
  /** softplus(d(a,p) − d(a,n)) instead of the hinge; default `false`. */
  softMargin?: boolean
  /** d(a,n) := min(d(a,n), d(p,n)); default `false`. */
  swap?: boolean
  /** Default `'mean'`. */
  reduction?: MarginLossReduction
}

/** Result of {@link tripletMarginLoss}. */
export interface TripletMarginLossResult {
  /** The reduced loss (`none`: the sum). */
  loss: number
  /** Every triplet's own loss, whatever the reduction. */
  losses: Float32Array
  /** Gradients of `loss` with respect to each input, same shapes as the inputs. */
  grad: {
    /** ∂loss/∂anchor. */
    anchor: Matrix
    /** ∂loss/∂positive. */
    positive: Matrix
    /** ∂loss/∂negative. */
    negative: Matrix
  }
}

/** Options of {@link contrastiveLoss}. */
export interface ContrastiveLossOptions extends MetricOptions, AbortOptions {
  /** A positive pair (same label) costs max(0, d − posMargin); default 0. */
  posMargin?: number
  /** A negative pair costs max(0, negMargin − d); default 1. */
  negMargin?: number
  /** Applied to the positive and the negative losses each on their own; default `'mean'`. */
  reduction?: LossReduction
}

/** Options of {@link supConLoss}. */
export interface SupConLossOptions extends AbortOptions {
  /** τ: the cosine similarities are divided by it before the softmax; default 0.1. */
  temperature?: number
  /** Where to run; default `'auto'`. */
  device?: Device
  /**
   * The most device memory (bytes) a `'cuda'` call plans its chunks with; default: 80 % of the
   * free memory. `'cpu'` and `'js'` ignore it here.
   */
  maxMemory?: number
}

/** Result of {@link supConLoss}. */
export interface SupConLossResult {
  /** The mean of the anchors' losses that are > 0; 0 when there is none. */
  loss: number
  /** ∂loss/∂embeddings, the embeddings' shape. */
  grad: Matrix
  /** Anchors whose loss is > 0: the ones the mean is over. */
  anchors: number
}

/** A similarity (larger = closer): `cosine` a·b/(‖a‖‖b‖) (0 with a zero vector), `dot` a·b. */
export type Similarity = 'cosine' | 'dot'

/** Options of {@link multipleNegativesRankingLoss}. */
export interface MultipleNegativesRankingLossOptions extends AbortOptions {
  /** Extra (hard) negatives, any number of rows, candidates for every anchor. */
  negatives?: MatrixLike
  /** Similarities are multiplied by this before the softmax; default 20. */
  scale?: number
  /** Default `'cosine'`. */
  similarity?: Similarity
  /** Also rank the anchors for each positive, and average the two losses; default `false`. */
  symmetric?: boolean
  /** Where to run; default `'auto'`. */
  device?: Device
}

/** Result of {@link multipleNegativesRankingLoss}. */
export interface MultipleNegativesRankingLossResult {
  /** The mean loss (the average of both directions with `symmetric`). */
  loss: number
  /** Gradients of `loss` with respect to each input, same shapes as the inputs. */
  grad: {
    /** ∂loss/∂anchors. */
    anchors: Matrix
    /** ∂loss/∂positives. */
    positives: Matrix
    /** ∂loss/∂negatives, when negatives were given. */
    negatives?: Matrix
  }
}

/** Options of {@link ladderLoss}: the rungs of the ladder. */
export interface LadderLossOptions extends AbortOptions {
  /** θ₁ > θ₂ > …: relevance at or above θ_l is above rung l (required, at least one). */
  thresholds: readonly number[]
  /** α_l, one margin per threshold (required). */
  margins: readonly number[]
  /** β_l, one weight per threshold; default 1 each. */
  weights?: readonly number[]
  /** The hardest pair per query and rung (default `true`), else the mean over all its pairs. */
  hardest?: boolean
  /** Default `'cosine'`. */
  similarity?: Similarity
  /** Where to run; default `'auto'`. */
  device?: Device
}

/** Result of {@link ladderLoss}. */
export interface LadderLossResult {
  /** Σ_l β_l · (mean over queries of rung l's loss). */
  loss: number
  /** Gradients of `loss` with respect to each input, same shapes as the inputs. */
  grad: {
    /** ∂loss/∂queries. */
    queries: Matrix
    /** ∂loss/∂candidates. */
    candidates: Matrix
  }
}

/** Options of {@link mineHardNegatives}. */
export interface MineHardNegativesOptions extends AbortOptions {
  /** Negatives per query; default 3. */
  numNegatives?: number
  /** The first rank considered (0 is the most similar candidate); default 0. */
  rangeMin?: number
  /** Ranks considered stop before this one; default 100. */
  rangeMax?: number
  /** Keep only candidates with s ≤ s(positive) − absoluteMargin. */
  absoluteMargin?: number
  /** Keep only candidates with s ≤ s(positive) · (1 − relativeMargin). */
  relativeMargin?: number
  /** Keep only candidates with s ≤ maxScore. */
  maxScore?: number
  /** Keep only candidates with s ≥ minScore. */
  minScore?: number
  /** `'top'` (default) takes the most similar that pass; `'random'` draws among them. */
  sampling?: 'top' | 'random'
  /** Seed of `'random'` sampling (an integer); default 0, so runs repeat. */
  seed?: number
  /** Default `'cosine'`. */
  similarity?: Similarity
  /** Where the search runs; default `'auto'`. */
  device?: Device
  /** Query rows per search batch, as {@link KnnOptions.batchSize}. */
  batchSize?: number
  /** Called after each batch with the query rows done so far and the total. */
  onProgress?: (done: number, total: number) => void
}

/** One corpus shard's knn result, for {@link mergeKnn}. */
export interface KnnPart {
  /** The knn result over the shard: indices local to it (0 is its first row), −1 for an empty place. */
  result: KnnResult
  /** The global index of the shard's first row. */
  offset: number
  /** The shard's row count, when known: lets the merge refuse overlapping shards. */
  rows?: number
}

/** Options of {@link hardNegativeCandidates}. */
export interface HardNegativeCandidatesOptions extends AbortOptions {
  /** The global index of the shard's first row. */
  offset: number
  /** The rows of the whole corpus (every shard together). */
  corpusRows: number
  /** As {@link MineHardNegativesOptions.rangeMin}. */
  rangeMin?: number
  /** As {@link MineHardNegativesOptions.rangeMax}: the merge needs the same. */
  rangeMax?: number
  /** As {@link MineHardNegativesOptions.similarity}: the merge needs the same. */
  similarity?: Similarity
  /** Where to run; default `'auto'`. */
  device?: Device
  /** Query rows per search batch, as {@link KnnOptions.batchSize}. */
  batchSize?: number
  /** Called after each batch with the query rows done so far and the total. */
  onProgress?: (done: number, total: number) => void
}

/** One corpus shard's ranked hard-negative candidates ({@link hardNegativeCandidates}), for {@link mergeHardNegatives}. */
export interface HardNegativeCandidates {
  /** Each query's most similar shard rows (local indices), ranked; distances are 1 − s (cosine) or −s (dot). */
  result: KnnResult
  /** The global index of the shard's first row. */
  offset: number
  /** The shard's row count. */
  rows: number
  /** The rows of the whole corpus. */
  corpusRows: number
  /** Each query's positive (a global index), as given. */
  positives: Int32Array
  /** s(query, positive) where the positive lies in this shard, NaN elsewhere. */
  positiveScores: Float32Array
  /** The similarity the candidates were ranked by. */
  similarity: Similarity
  /** The rangeMax the candidates were searched for. */
  rangeMax: number
}

/** Options of {@link mergeHardNegatives}: those of {@link mineHardNegatives} that decide what is kept. */
export type MergeHardNegativesOptions = Pick<MineHardNegativesOptions, 'numNegatives' | 'rangeMin' | 'rangeMax' | 'absoluteMargin' |
  'relativeMargin' | 'maxScore' | 'minScore' | 'sampling' | 'seed' | 'similarity'>

/** Result of {@link mineHardNegatives}: row-major `rows × numNegatives`. */
export interface HardNegatives {
  /** Corpus index of each negative, −1 where fewer were found. */
  negatives: Int32Array
  /** Its similarity to the query, NaN where fewer were found. */
  scores: Float32Array
  /** Number of queries. */
  rows: number
  /** Negatives per query. */
  numNegatives: number
}

/** Labelled embeddings held out to measure an adapter by MAP@R. */
export interface ValidationSet {
  /** `rows × d` embeddings, in the input space of the adapter. */
  embeddings: MatrixLike
  /** One class id per row. */
  labels: Labels
}

/** Options of {@link fitLinearAdapter}. */
export interface LinearAdapterOptions extends MetricOptions, AbortOptions {
  /** Output size; default: the input's columns (W then starts as the identity). */
  dim?: number
  /** Passes over the data; default 10. */
  epochs?: number
  /** Rows per step (classes × 4 rows each); default 64. */
  batchSize?: number
  /** Adam's step size; default 0.01. */
  learningRate?: number
  /** Seed of the batch sampling; default 0. */
  seed?: number
  /** Mining strategy of each batch; default `'batch-hard'`. */
  mining?: Strategy
  /** α, default 0.2. */
  margin?: number
  /** Held-out embeddings: the epoch with the best MAP@R on them is kept. */
  validation?: ValidationSet
  /** Called after each epoch with its mean loss and, with `validation`, its MAP@R. */
  onProgress?: (epoch: number, epochs: number, metrics: { loss: number; mapAtR?: number }) => void
}

/** One epoch of {@link fitLinearAdapter}. */
export interface AdapterEpoch {
  /** The epoch, from 1. */
  epoch: number
  /** Its mean triplet loss over the steps. */
  loss: number
  /** MAP@R on the validation set after it, with `validation`. */
  mapAtR?: number
}

/** A report of {@link fitOasis}, at every tenth of the steps. */
export interface OasisCheckpoint {
  /** Steps taken so far. */
  step: number
  /** The mean hinge loss of the steps since the last report. */
  loss: number
  /** MAP@R under s on the validation set, with `validation`. */
  mapAtR?: number
}

/** A learned linear map of embeddings. */
export interface LinearAdapter {
  /** W, `cols × dim`: the adapted embedding of x is x·W. */
  weights: Matrix
  /** x·W for rows of the input size. */
  transform(x: MatrixLike): Matrix
  /** Per epoch: its mean loss and, with `validation`, its MAP@R. */
  history: AdapterEpoch[]
}

/** Options of {@link fitOasis}. */
export interface OasisOptions extends AbortOptions {
  /** Aggressiveness C: the largest step; default 0.1. */
  c?: number
  /** Triplets sampled; default 100 × rows. */
  steps?: number
  /** Seed of the triplet sampling; default 0. */
  seed?: number
  /** Held-out embeddings, measured by MAP@R under s at every tenth of the steps. */
  validation?: ValidationSet
  /** Where validation runs; default `'auto'`. */
  device?: Device
  /** Called at every tenth of the steps with the mean loss since the last call and, with `validation`, its MAP@R. */
  onProgress?: (step: number, steps: number, metrics: { loss: number; mapAtR?: number }) => void
}

/** A learned bilinear similarity s(x, y) = xᵀ W y. */
export interface OasisModel {
  /** W, `cols × cols`. */
  weights: Matrix
  /** The `a.rows × b.rows` matrix of s(a_i, b_j). */
  similarity(a: MatrixLike, b: MatrixLike): Matrix
  /** x·W: with metric 'dot' against the raw corpus, knn and retrievalMetrics rank by s. */
  transform(x: MatrixLike): Matrix
  /** At every tenth of the steps: the mean loss since the last entry and, with `validation`, MAP@R. */
  history: OasisCheckpoint[]
}

/** Options of {@link verificationMetrics}. */
export interface VerificationMetricsOptions extends MetricOptions, AbortOptions {
  /** The false-accept rate at which `tarAtFar` is read, from 0 to 1; default 0.001. */
  far?: number
}

/** Result of {@link verificationMetrics}. */
export interface VerificationMetrics {
  /** The best accuracy over all thresholds ("same" when d ≤ threshold). */
  accuracy: number
  /** The smallest threshold reaching `accuracy` (−Infinity when predicting no pair the same is best). */
  threshold: number
  /** Area under the ROC curve of the score −d; ties count one half. */
  rocAuc: number
  /** The largest true-accept rate whose false-accept rate is ≤ `far`. */
  tarAtFar: number
  /** The equal error rate: where false accepts equal false rejects, interpolated. */
  eer: number
}

/** Options of {@link retrievalMetrics}. */
export interface RetrievalMetricsOptions extends MetricOptions, AbortOptions {
  /** References to search; omitted: the queries are searched against themselves, self excluded. */
  reference?: MatrixLike
  /** Labels of `reference`; required exactly when `reference` is given. */
  referenceLabels?: Labels
  /** k for `recallAtK` and `precisionAtK`; default 10. */
  k?: number
}

/** Result of {@link retrievalMetrics} (definitions of pytorch-metric-learning's AccuracyCalculator). */
export interface RetrievalMetrics {
  /** Fraction of queries whose first result is relevant. */
  precisionAt1: number
  /** Mean relevant fraction of the first R results. */
  rPrecision: number
  /** Mean average precision at R. */
  mapAtR: number
  /** Mean reciprocal rank of the first relevant result. */
  mrr: number
  /** Fraction of queries with at least one relevant result in the first k. */
  recallAtK: number
  /** Mean relevant fraction of the first k results. */
  precisionAtK: number
  /** Queries kept (those with at least one relevant reference). */
  queries: number
}

/**
 * The arithmetic of the CUDA device's distance tiles: `'fp32'`, FP32 fused multiply-adds in the
 * CPU's order (every distance the 'cpu' device's, to the bit), or `'tf32x3'`, tensor-core
 * products of TF32 parts, three a product (FP32-level accuracy, not the CPU's bits).
 */
export type CudaMath = 'fp32' | 'tf32x3'

/** What {@link backends} reports about each device. */
export interface BackendsInfo {
  /** The CUDA backend; `reason` says why it is unavailable. */
  cuda: DeviceInfo & {
    /** The GPU's name, compute capability and free memory, when available. */
    device?: string
    /**
     * `true` when `device: 'cuda'` runs the CUDA kernels through the CPU emulator
     * (`TRIPLETKIT_CUDA_EMULATOR=1`): a testing aid, slow, never picked by `'auto'`.
     */
    emulated?: boolean
    /**
     * The functions that run on CUDA (`'pairwiseDistances'`, `'knn'`, …); the others reject
     * on `'cuda'` with ERR_TRIPLETKIT_DEVICE_UNAVAILABLE and run on `'cpu'` under `'auto'`.
     */
    ops?: string[]
    /**
     * The most neighbours one knn search takes on this device (1024 on `'cuda'`): past it a
     * call naming `'cuda'` is refused with a RangeError, and `'auto'` runs on `'cpu'`.
     */
    maxK?: number
    /**
     * The arithmetic of its distance tiles, when available: `'fp32'` (default, the CPU's bits)
     * or `'tf32x3'` (3xTF32 tensor cores), as `setCudaMath` or `TRIPLETKIT_CUDA_MATH` set it.
     */
    math?: CudaMath
  }
  /** The native CPU backend; `threads` when available, `reason` (the load error) when not. */
  cpu: DeviceInfo & {
    /** Threads the CPU kernels run on. */
    threads?: number
  }
  /** The pure-TypeScript reference: always available. */
  js: {
    /** Always `true`. */
    available: true
  }
}

/** Whether a device can run here, and why not where it cannot. */
export interface DeviceInfo {
  /** `true` when calls with this device can run. */
  available: boolean
  /** Why the device is unavailable (absent when it is available). */
  reason?: string
}
