/**
 * A minimal SSE subscriber on a raw TCP socket, built to keep the load generator's CPU low: one
 * pre-encoded GET request shared by all subscribers of a URL, a hand-parsed response head, in-place
 * chunked decoding and a marker scan over the body bytes. It never parses SSE fields: it only looks for
 * payload markers (`marker-scanner.ts`), which is all the benchmark needs.
 */
import net from 'node:net'
import { createChunkedDecoder, type ChunkedDecoder } from './chunked-decoder.js'
import { createMarkerScanner, type MarkerScanner } from './marker-scanner.js'
import { monotonicUs } from '../monotonic-clock.js'

/** Largest response head accepted. @defaultValue 16 KiB */
export const MAX_HEAD_BYTES = 16 * 1024

const HEAD_END = Buffer.from('\r\n\r\n')

/** Where and how to subscribe. */
export interface SseSubscriberOptions {
  /** Loopback host to connect to (an IPv4 literal). */
  readonly host: string
  readonly port: number
  /** The encoded request, from {@link encodeSubscribeRequest}; shared between subscribers. */
  readonly request: Buffer
  /** Source address to bind (127.x.y.z); omitted = chosen by the kernel. */
  readonly localAddress?: string
  /** Source port to bind; 0 or omitted = chosen by the kernel. */
  readonly localPort?: number
  /** Time allowed from connect() to a complete response head. */
  readonly connectTimeoutMs: number
}

/** Callbacks of one subscriber. After `onFail` or `onEnd` nothing else is called. */
export interface SseSubscriberHandlers {
  /** The response head said 200 and `text/event-stream`. */
  onOpen(): void
  /** A payload marker arrived; `receivedUs` is the CLOCK_MONOTONIC time of the read that completed it. */
  onMarker(seq: number, floor: number, sentUs: number, receivedUs: number): void
  /** The stream never opened: `reason` is `timeout`, `http-<status>`, `not-event-stream`, `error-<code>`, … */
  onFail(reason: string): void
  /** The open stream ended: `eof`, `body-end`, `bad-chunking`, `error-<code>`. */
  onEnd(reason: string): void
}

/** Handle of one subscriber. */
export interface SseSubscriber {
  /** Destroys the socket; no handler is called afterwards. */
  close(): void
}

/**
 * Encodes the GET request for `url`, with `Accept: text/event-stream` and any extra headers.
 *
 * @example
 * encodeSubscribeRequest(new URL('http://127.0.0.1:8080/sub/t1'), { Authorization: 'Bearer …' })
 */
export function encodeSubscribeRequest(url: URL, headers: Readonly<Record<string, string>>): Buffer {
  if (url.protocol !== 'http:') throw new TypeError(`only http: subscribe URLs are supported, got ${url.href}`)
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    'Accept: text/event-stream',
    'Cache-Control: no-cache',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
}

interface ResponseHead {
  status: number
  contentType: string
  chunked: boolean
  contentLength: number | null
}

function parseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
  if (!status) return null
  const head: ResponseHead = { status: Number(status[1]), contentType: '', chunked: false, contentLength: null }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'content-type') head.contentType = value.toLowerCase()
    else if (name === 'transfer-encoding') head.chunked = value.toLowerCase().includes('chunked')
    else if (name === 'content-length') head.contentLength = Number(value)
  }
  return head
}

/**
 * Opens one subscriber.
 *
 * @example
 * const request = encodeSubscribeRequest(new URL(url), {})
 * const sub = openSseSubscriber({ host: '127.0.0.1', port, request, connectTimeoutMs: 30_000 }, handlers)
 */
export function openSseSubscriber(options: SseSubscriberOptions, handlers: SseSubscriberHandlers): SseSubscriber {
  let finished = false
  let opened = false
  let head: Buffer | null = null
  let decoder: ChunkedDecoder | null = null
  let bodyRemaining = Infinity
  let readUs = 0

  const scanner: MarkerScanner = createMarkerScanner((seq, floor, sentUs) => {
    // One clock read per socket read, taken lazily: most reads of an idle stream carry no marker.
    if (readUs === 0) readUs = monotonicUs()
    if (!finished) handlers.onMarker(seq, floor, sentUs, readUs)
  })

  const socket = net.connect({
    host: options.host,
    port: options.port,
    noDelay: true,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.localPort ? { localPort: options.localPort } : {}),
  })

  const finish = (reason: string): void => {
    if (finished) return
    finished = true
    clearTimeout(timer)
    socket.destroy()
    if (opened) handlers.onEnd(reason)
    else handlers.onFail(reason)
  }

  const timer = setTimeout(() => finish('timeout'), options.connectTimeoutMs)

  const onBody = (bytes: Buffer, start: number): void => {
    if (decoder) {
      const status = decoder.push(bytes, start, bytes.length)
      if (status === 'done') finish('body-end')
      else if (status === 'invalid') finish('bad-chunking')
      return
    }
    const end = Math.min(bytes.length, start + bodyRemaining)
    scanner.push(bytes, start, end)
    bodyRemaining -= end - start
    if (bodyRemaining <= 0) finish('body-end')
  }

  const onHeadBytes = (chunk: Buffer): void => {
    head = head === null ? chunk : Buffer.concat([head, chunk])
    const at = head.indexOf(HEAD_END)
    if (at < 0) {
      if (head.length > MAX_HEAD_BYTES) finish('head-too-large')
      return
    }
    const parsed = parseHead(head.toString('latin1', 0, at))
    const rest = head
    head = null
    if (!parsed) return finish('bad-head')
    if (parsed.status !== 200) return finish(`http-${parsed.status}`)
    if (!parsed.contentType.startsWith('text/event-stream')) return finish('not-event-stream')
    opened = true
    clearTimeout(timer)
    if (parsed.chunked) decoder = createChunkedDecoder((bytes, start, end) => scanner.push(bytes, start, end))
    else if (parsed.contentLength !== null && Number.isFinite(parsed.contentLength)) bodyRemaining = parsed.contentLength
    handlers.onOpen()
    if (!finished && at + HEAD_END.length < rest.length) onBody(rest, at + HEAD_END.length)
  }

  socket.on('connect', () => socket.write(options.request))
  socket.on('data', (chunk: Buffer) => {
    if (finished) return
    readUs = 0
    if (opened) onBody(chunk, 0)
    else onHeadBytes(chunk)
  })
  socket.on('end', () => finish(opened ? 'eof' : 'closed-before-head'))
  socket.on('error', (error: NodeJS.ErrnoException) => finish(`error-${error.code ?? 'unknown'}`))
  socket.on('close', () => finish(opened ? 'eof' : 'closed-before-head'))

  return {
    close() {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
    },
  }
}
