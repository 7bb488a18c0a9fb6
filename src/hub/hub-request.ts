import { concatBytes } from '../server/concat-bytes.js'
import type { Session, SessionOptions } from '../server/session.js'
import { HubError } from './errors.js'

/**
 * A request as the hub's HTTP layer sees it, whatever the transport (node:http or fetch): the hub never depends on
 * either directly, so both entry points share one implementation.
 */
export interface HubRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Headers
  /** Reads the whole body, failing with `ERR_HUB_HTTP_BODY_TOO_LARGE` past `maxBytes` without buffering more. */
  body(maxBytes: number): Promise<Uint8Array>
  /**
   * Answers with an event stream: sends the SSE response headers plus `headers`, and returns the session. Called at
   * most once, and only when no other response was sent.
   */
  openStream(headers: Record<string, string>, options: SessionOptions): Session
}

/** Reads an async iterable of chunks into one buffer, failing as soon as it grows past `maxBytes`. */
export async function readBounded(
  chunks: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  maxBytes: number,
  declaredLength: string | null,
): Promise<Uint8Array> {
  if (declaredLength !== null && Number(declaredLength) > maxBytes) throw tooLarge(maxBytes)
  const parts: Uint8Array[] = []
  let total = 0
  const take = (chunk: Uint8Array): void => {
    total += chunk.length
    if (total > maxBytes) throw tooLarge(maxBytes)
    parts.push(chunk)
  }
  if (chunks instanceof ReadableStream) {
    const reader = chunks.getReader()
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) take(read.value)
    } catch (error) {
      await reader.cancel().catch(() => undefined)
      throw error
    }
  } else {
    for await (const chunk of chunks) take(chunk)
  }
  return concatBytes(parts)
}

function tooLarge(maxBytes: number): HubError {
  return new HubError('ERR_HUB_HTTP_BODY_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`)
}
