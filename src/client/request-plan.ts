import { ClientError } from './errors.js'
import { describeValue } from './option-checks.js'

/**
 * A `fetch` function: the global one, or any with the same contract (a test double, a proxy-aware wrapper, a
 * Cloudflare service binding's `fetch`).
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

/** A request body that can be sent again on each reconnection. */
export type ReplayableBody = Exclude<BodyInit, ReadableStream>

/** The request options shared by `EventSource` and `fetchEventStream`. */
export interface RequestOptions {
  /**
   * The `fetch` to call.
   * @defaultValue `globalThis.fetch`
   */
  fetch?: FetchLike
  /**
   * Extra request headers. `Accept: text/event-stream` is added unless given here; `Cache-Control: no-store` and
   * `Last-Event-ID` are always set by the client. In a browser, headers other than the CORS-safelisted ones make a
   * cross-origin request send a preflight first.
   */
  headers?: HeadersInit
  /**
   * The HTTP method.
   * @defaultValue `'GET'`
   */
  method?: string
  /** The credentials mode of the request. @defaultValue `'include'` with `withCredentials`, else `'same-origin'` */
  credentials?: RequestCredentials
}

/** A validated, frozen description of the request to send on each connection. */
export interface RequestPlan {
  readonly url: string
  readonly method: string
  readonly credentials: RequestCredentials
  readonly body: BodyInit | null
  readonly fetch: FetchLike
  /** The headers given by the caller, with `Accept` filled in. */
  readonly headers: Headers
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const CREDENTIALS = new Set<string>(['omit', 'same-origin', 'include'])

/**
 * Resolves `url` against the document's base URL where there is one (in a browser, as `EventSource` does).
 * Throws `ERR_CLIENT_INVALID_URL` when it does not parse.
 */
export function resolveUrl(url: string | URL): URL {
  const base = (globalThis as { location?: { href?: unknown } }).location?.href
  try {
    return new URL(String(url), typeof base === 'string' ? base : undefined)
  } catch (cause) {
    throw new ClientError('ERR_CLIENT_INVALID_URL', `not a valid URL: ${JSON.stringify(String(url))}`, { cause })
  }
}

/**
 * Validates the request options once, at construction. Throws `ERR_CLIENT_INVALID_OPTION` for a bad method, header,
 * credentials mode or fetch, a body on GET or HEAD, or (when `replayable`) a body that cannot be sent twice.
 */
export function planRequest(
  url: URL,
  options: RequestOptions & { body?: BodyInit | null | undefined; withCredentials?: boolean | undefined },
  replayable: boolean,
): RequestPlan {
  const method = options.method ?? 'GET'
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `method must be an HTTP method name, not ${describeValue(method)}`)
  }
  const upper = method.toUpperCase()
  // Fetch normalises these six to upper case; other names are sent as given.
  const normalised = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(upper) ? upper : method
  const body = options.body ?? null
  if (body !== null && (normalised === 'GET' || normalised === 'HEAD')) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `a ${normalised} request cannot have a body`)
  }
  if (body !== null && replayable && !isReplayable(body)) {
    throw new ClientError(
      'ERR_CLIENT_INVALID_OPTION',
      'body must be a string, URLSearchParams, Blob, ArrayBuffer, typed array or FormData: a stream cannot be sent again on reconnection',
    )
  }
  const credentials = options.credentials ?? (options.withCredentials === true ? 'include' : 'same-origin')
  if (!CREDENTIALS.has(credentials)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `credentials must be 'omit', 'same-origin' or 'include', not ${describeValue(credentials)}`)
  }
  let headers: Headers
  try {
    headers = new Headers(options.headers)
  } catch (cause) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `invalid headers: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
  // [spec] "User agents may set (`Accept`, `text/event-stream`) in request's header list."
  if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
  const given = options.fetch
  if (given !== undefined && typeof given !== 'function') throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'fetch must be a function')
  // The global fetch is looked up at each call, and called on globalThis: browsers throw "Illegal invocation" when
  // fetch is called with another `this`.
  const fetchFn: FetchLike = given ?? ((input, init) => globalThis.fetch(input, init))
  return Object.freeze({ url: url.href, method: normalised, credentials, body, fetch: fetchFn, headers })
}

/**
 * Sends one request of the plan. `lastEventId`, when not empty, goes in the `Last-Event-ID` header, encoded as UTF-8
 * ([spec] "Let lastEventIDValue be the EventSource object's last event ID string, encoded as UTF-8. Set
 * (`Last-Event-ID`, lastEventIDValue) in request's header list.").
 */
export function sendRequest(plan: RequestPlan, lastEventId: string, signal: AbortSignal): Promise<Response> {
  const headers = new Headers(plan.headers)
  // [spec] "Set request's cache mode to "no-store"." The header says the same to caches on the way, and to runtimes
  // whose fetch ignores the cache mode.
  headers.set('cache-control', 'no-store')
  if (lastEventId !== '') headers.set('last-event-id', toByteString(lastEventId))
  const init: RequestInit & { duplex?: 'half' } = {
    method: plan.method,
    headers,
    credentials: plan.credentials,
    cache: 'no-store',
    redirect: 'follow',
    signal,
  }
  if (plan.body !== null) {
    init.body = plan.body
    // Fetch requires `duplex: 'half'` to send a stream body.
    if (typeof ReadableStream !== 'undefined' && plan.body instanceof ReadableStream) init.duplex = 'half'
  }
  try {
    return plan.fetch(plan.url, init)
  } catch (error) {
    // A fetch that throws instead of rejecting is treated like one that rejects.
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

/**
 * Header values are byte strings: each UTF-8 byte of `text` becomes one character, so that fetch sends the UTF-8
 * bytes on the wire. ASCII needs no change.
 */
export function toByteString(text: string): string {
  let ascii = true
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false
      break
    }
  }
  if (ascii) return text
  let out = ''
  for (const byte of new TextEncoder().encode(text)) out += String.fromCharCode(byte)
  return out
}

/** Whether `contentType` is `text/event-stream` (the MIME type's essence, ignoring parameters and case). */
export function isEventStreamType(contentType: string | null): boolean {
  if (contentType === null) return false
  const semicolon = contentType.indexOf(';')
  const essence = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
  return essence === 'text/event-stream'
}

/** The serialisation of the origin of a response's final URL (after redirects), as `MessageEvent.origin` wants. */
export function originOf(responseUrl: string, requestUrl: string): string {
  try {
    return new URL(responseUrl === '' ? requestUrl : responseUrl).origin
  } catch {
    // A custom fetch may answer with a URL that does not parse; the request's own origin is then the best answer.
    return new URL(requestUrl).origin
  }
}

/** Releases a response body the client will not read. */
export function discardBody(response: Response): void {
  // Cancelling can reject when the stream already errored; there is nothing left to release then.
  response.body?.cancel().catch(() => undefined)
}

function isReplayable(body: BodyInit): boolean {
  return (
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  )
}
