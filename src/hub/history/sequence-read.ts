// Read planning for engines whose offsets are one sequence number per entry (memory, SQLite). Internal.
import { isStreamOffset, type StreamPosition } from '../stream-position.js'
import { invalidQuery } from './check-arguments.js'

/** Where a read starts and whether updates may be missing before that point. */
export interface SequenceReadPlan {
  /** Read the entries whose sequence number is greater than this. */
  readonly after: number
  /** See `ReadResult.gap`. */
  readonly gap: boolean
}

/**
 * Plans a read over a history whose live entries are numbered `floor + 1 … last` in `epoch`.
 *
 * `floor` is the highest sequence number that is gone (evicted, expired, or never used: 0 in a fresh store) and
 * `last` the highest ever issued. A position before the floor, beyond `last` or from another epoch is a gap; the read
 * then starts at the floor (beyond `last`: at `last`, so the caller's next position is one the store can continue
 * from).
 */
export function planSequenceRead(
  from: StreamPosition | 'earliest',
  epoch: string,
  floor: number,
  last: number,
): SequenceReadPlan {
  if (from === 'earliest') return { after: floor, gap: false }
  if (typeof from !== 'object' || (from as unknown) === null || typeof from.epoch !== 'string') {
    invalidQuery(`from must be 'earliest' or a stream position { epoch, offset }, not ${typeof from}`)
  }
  if (from.epoch !== epoch) return { after: floor, gap: true }
  const { offset } = from
  if (!isStreamOffset(offset) || offset.includes('-')) {
    invalidQuery(`offset ${JSON.stringify(offset)} was not issued by this store (epoch ${epoch})`)
  }
  const sequence = Number(offset)
  // Beyond 2^53 Number() rounds, but any such offset is also beyond `last`: this store never issued it.
  if (!Number.isSafeInteger(sequence) || sequence > last) return { after: last, gap: true }
  if (sequence < floor) return { after: floor, gap: true }
  return { after: sequence, gap: false }
}
