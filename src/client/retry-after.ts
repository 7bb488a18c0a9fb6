/**
 * Reads a `Retry-After` header value into a delay in milliseconds from `nowMs`, or `undefined` when it is absent or
 * malformed.
 *
 * RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`, where delay-seconds is `1*DIGIT`. A date in the past
 * gives 0.
 *
 * @example
 * ```ts
 * parseRetryAfter('120', Date.now())                           // 120000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.now()) // 0 (in the past)
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (text === '') return undefined
  if (isDigits(text)) return Number(text) * 1000
  // An HTTP-date always names a weekday and a month; requiring a letter keeps Date.parse from reading bare numbers
  // such as "-5" or "1.5" as dates.
  if (!/^[A-Za-z]/.test(text)) return undefined
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}
