/** The largest chunk whose frame is kept for the next write of the same bytes: 64 KiB. */
const MAX_CACHED_FRAME_BYTES = 64 * 1024

const CRLF = 0x0d0a

let lastChunk: Uint8Array | undefined
let lastFrame: Buffer | undefined

/**
 * Frames `chunk` as one HTTP/1.1 chunk (RFC 9112 §7.1: the size in hex, CRLF, the bytes, CRLF) in a single buffer,
 * so that it goes to the socket in one `write` instead of the three of `res.write()`'s chunked encoding.
 *
 * A channel broadcast hands the same `Uint8Array` to every session in a row: the frame of the last chunk is kept and
 * reused while the same bytes come again, so a broadcast frames once, not once per subscriber (measured by the
 * server fan-out benchmark, `npm run bench:hub -- --systems herald-server,naive`). Only chunks up to 64 KiB are kept,
 * so the cache never holds more than that.
 *
 * @param chunk - The bytes of the chunk, not empty (an empty chunk ends a chunked body).
 * @returns The framed bytes; never mutate them.
 * @internal
 */
export function frameChunk(chunk: Uint8Array): Buffer {
  if (chunk === lastChunk && lastFrame !== undefined) return lastFrame
  const size = chunk.byteLength.toString(16)
  const frame = Buffer.allocUnsafe(size.length + chunk.byteLength + 4)
  frame.write(size, 0, 'latin1')
  frame.writeUInt16BE(CRLF, size.length)
  frame.set(chunk, size.length + 2)
  frame.writeUInt16BE(CRLF, frame.byteLength - 2)
  if (chunk.byteLength <= MAX_CACHED_FRAME_BYTES) {
    lastChunk = chunk
    lastFrame = frame
  } else {
    lastChunk = lastFrame = undefined
  }
  return frame
}
