/**
 * Microseconds on `CLOCK_MONOTONIC`, the clock that every process on one Linux machine shares.
 *
 * `process.hrtime()` reads libuv's `uv_hrtime()`, which is `clock_gettime(CLOCK_MONOTONIC)` on Linux, so a
 * timestamp written into a payload by the publisher process can be subtracted from a reading taken in a
 * subscriber process. The array form avoids a BigInt allocation per call on the receive path.
 *
 * @returns Microseconds since an arbitrary fixed point (boot), with sub-microsecond fraction.
 * @example
 * const sentUs = monotonicUs()
 * // … in another process, after the event arrived:
 * const latencyUs = monotonicUs() - sentUs
 */
export function monotonicUs(): number {
  const [seconds, nanoseconds] = process.hrtime()
  return seconds * 1e6 + nanoseconds / 1e3
}
