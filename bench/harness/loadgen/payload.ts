/**
 * The benchmark payload: `HB.<seq>.<floor>.<sentUs>.` padded with `x` to the requested size.
 *
 * - `seq`: message number, 1…M for measured messages; 0 marks a warm-up message (not counted).
 * - `floor`: every message with a number ≤ floor had been acknowledged by the server when this one was
 *   sent, so a subscriber that sees `floor` must already have received them (see `delivery-window.ts`).
 * - `sentUs`: integer microseconds on CLOCK_MONOTONIC when the publish request was started.
 *
 * Only ASCII letters, digits and dots are used, so the marker survives raw bodies, form encoding, JSON
 * string encoding (better-sse's default serializer) and GRIP JSON unchanged.
 */

/** The three bytes that open a payload marker. */
export const PAYLOAD_MARKER = 'HB.'

/** Padding byte. */
const PAD = 'x'

/** Payload size used when a scenario does not set one. @defaultValue 64 */
export const DEFAULT_PAYLOAD_BYTES = 64

/**
 * Builds one payload.
 *
 * @param seq - Message number (0 = warm-up).
 * @param floor - Highest message number below which every message had been acknowledged.
 * @param sentUs - CLOCK_MONOTONIC µs at send time.
 * @param sizeBytes - Target size; the marker is never truncated, so tiny sizes give the bare marker.
 * @example
 * formatPayload(7, 6, 123456789, 32) // 'HB.7.6.123456789.xxxxxxxxxxxxxxx'
 */
export function formatPayload(seq: number, floor: number, sentUs: number, sizeBytes: number): string {
  const marker = `${PAYLOAD_MARKER}${seq}.${floor}.${Math.round(sentUs)}.`
  return marker.length >= sizeBytes ? marker : marker + PAD.repeat(sizeBytes - marker.length)
}
