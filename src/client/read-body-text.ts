/**
 * Reads at most `maxBytes` of a response body as UTF-8 text, then releases the rest of the body unread, so that an
 * error response can be reported without holding an unbounded body in memory.
 *
 * @example
 * ```ts
 * if (!response.ok) throw new Error(`${response.status}: ${await readBodyText(response, 8192)}`)
 * ```
 */
export async function readBodyText(response: Response, maxBytes: number): Promise<string> {
  const body = response.body
  if (body === null) return ''
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let remaining = maxBytes
  try {
    while (remaining > 0) {
      const { done, value } = await reader.read()
      if (done) break
      const part = value.length > remaining ? value.subarray(0, remaining) : value
      remaining -= part.length
      text += decoder.decode(part, { stream: true })
    }
    // A sequence cut by the limit decodes to U+FFFD.
    return text + decoder.decode()
  } finally {
    // Cancelling rejects when the body already failed; nothing is left to release then.
    reader.cancel().catch(() => undefined)
  }
}
