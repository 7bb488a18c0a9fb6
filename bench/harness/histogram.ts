/**
 * Log-linear histogram of non-negative values (the harness records microseconds).
 *
 * Values below 128 get one bucket each; above, every power of two is split into 64 equal buckets, so a
 * bucket is at most 1/64 (1.6 %) of its value wide. Values are clamped to {@link HISTOGRAM_MAX_VALUE}
 * (about 35.8 minutes in µs). The bucket array has a fixed size ({@link HISTOGRAM_BUCKET_COUNT} doubles,
 * 13 KB) whatever the number of samples, and histograms from several processes merge by adding counts.
 */

/** log2 of the number of sub-buckets per power of two. */
const SUB_BUCKET_BITS = 6
/** Sub-buckets per power of two (64): the relative resolution is 1 / 64. */
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS
/** Values below this (128) have a bucket each. */
const LINEAR_LIMIT = SUB_BUCKETS * 2

/** Largest value kept exactly in range; larger values are recorded as this value. @defaultValue 2^31 − 1 */
export const HISTOGRAM_MAX_VALUE = 2 ** 31 - 1

/** Number of buckets, fixed: the bucket index of {@link HISTOGRAM_MAX_VALUE} plus one (1,664). */
export const HISTOGRAM_BUCKET_COUNT = bucketOf(HISTOGRAM_MAX_VALUE) + 1

/** A histogram in a form that survives `JSON.stringify` and IPC: non-empty buckets only. */
export interface HistogramSnapshot {
  /** Pairs `[bucketIndex, count, bucketIndex, count, …]` for non-empty buckets, in index order. */
  readonly buckets: readonly number[]
  readonly count: number
  readonly sum: number
  /** Smallest recorded value, or `null` when empty. */
  readonly min: number | null
  readonly max: number | null
}

/** Percentiles of a latency histogram, in milliseconds (`null` when there was no sample). */
export interface LatencySummary {
  readonly count: number
  readonly meanMs: number | null
  readonly p50Ms: number | null
  readonly p90Ms: number | null
  readonly p99Ms: number | null
  readonly maxMs: number | null
}

function bucketOf(value: number): number {
  // Truncation to an integer keeps the bit tricks below exact; the histogram's resolution is ≥ 1.
  const n = value <= 0 ? 0 : value >= HISTOGRAM_MAX_VALUE ? HISTOGRAM_MAX_VALUE : Math.floor(value)
  if (n < LINEAR_LIMIT) return n
  const shift = 31 - Math.clz32(n) - SUB_BUCKET_BITS
  return shift * SUB_BUCKETS + (n >>> shift)
}

/** Lowest value that falls into `bucket`, and the bucket's width. */
function bucketRange(bucket: number): { low: number; width: number } {
  if (bucket < LINEAR_LIMIT) return { low: bucket, width: 1 }
  const shift = Math.floor(bucket / SUB_BUCKETS) - 1
  const mantissa = bucket - shift * SUB_BUCKETS
  const width = 2 ** shift
  return { low: mantissa * width, width }
}

/**
 * A mergeable log-linear histogram.
 *
 * @example
 * const h = new Histogram()
 * h.record(1234)                  // µs
 * h.percentile(99)                // ≈ 1234 (within 1.6 %)
 * const copy = Histogram.fromSnapshot(JSON.parse(JSON.stringify(h.snapshot())))
 */
export class Histogram {
  private readonly counts = new Float64Array(HISTOGRAM_BUCKET_COUNT)
  private total = 0
  private sumOfValues = 0
  private minValue = Infinity
  private maxValue = -Infinity

  /** Rebuilds a histogram from {@link Histogram.snapshot} output (for example received over IPC). */
  static fromSnapshot(snapshot: HistogramSnapshot): Histogram {
    const histogram = new Histogram()
    histogram.merge(snapshot)
    return histogram
  }

  /** Number of recorded values. */
  get count(): number {
    return this.total
  }

  /** Records one value; negative values count as 0 and values above the range as the range's top. */
  record(value: number): void {
    const bucket = bucketOf(value)
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1
    this.total++
    this.sumOfValues += value
    if (value < this.minValue) this.minValue = value
    if (value > this.maxValue) this.maxValue = value
  }

  /** Adds every count of `snapshot` to this histogram. */
  merge(snapshot: HistogramSnapshot): void {
    const { buckets } = snapshot
    for (let i = 0; i + 1 < buckets.length; i += 2) {
      const bucket = buckets[i] ?? 0
      if (bucket < 0 || bucket >= HISTOGRAM_BUCKET_COUNT) throw new RangeError(`histogram bucket ${bucket} out of range`)
      this.counts[bucket] = (this.counts[bucket] ?? 0) + (buckets[i + 1] ?? 0)
    }
    this.total += snapshot.count
    this.sumOfValues += snapshot.sum
    if (snapshot.min !== null && snapshot.min < this.minValue) this.minValue = snapshot.min
    if (snapshot.max !== null && snapshot.max > this.maxValue) this.maxValue = snapshot.max
  }

  /**
   * The value below which `percent` % of the recorded values fall: the midpoint of the bucket holding that
   * rank, clamped to the exact recorded minimum and maximum; 100 gives the exact maximum. `null` when
   * nothing was recorded.
   */
  percentile(percent: number): number | null {
    if (this.total === 0) return null
    if (percent >= 100) return this.maxValue
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, percent)) / 100) * this.total))
    let seen = 0
    for (let bucket = 0; bucket < HISTOGRAM_BUCKET_COUNT; bucket++) {
      seen += this.counts[bucket] ?? 0
      if (seen >= rank) {
        const { low, width } = bucketRange(bucket)
        return Math.min(this.maxValue, Math.max(this.minValue, low + (width - 1) / 2))
      }
    }
    return this.maxValue
  }

  /** The non-empty buckets and totals, small enough to send over IPC and store as JSON. */
  snapshot(): HistogramSnapshot {
    const buckets: number[] = []
    for (let bucket = 0; bucket < HISTOGRAM_BUCKET_COUNT; bucket++) {
      const count = this.counts[bucket] ?? 0
      if (count > 0) buckets.push(bucket, count)
    }
    return {
      buckets,
      count: this.total,
      sum: this.sumOfValues,
      min: this.total === 0 ? null : this.minValue,
      max: this.total === 0 ? null : this.maxValue,
    }
  }

  /** p50/p90/p99/max and mean, converting recorded microseconds to milliseconds. */
  latencySummary(): LatencySummary {
    const ms = (us: number | null): number | null => (us === null ? null : us / 1000)
    return {
      count: this.total,
      meanMs: this.total === 0 ? null : this.sumOfValues / this.total / 1000,
      p50Ms: ms(this.percentile(50)),
      p90Ms: ms(this.percentile(90)),
      p99Ms: ms(this.percentile(99)),
      maxMs: this.total === 0 ? null : this.maxValue / 1000,
    }
  }
}
