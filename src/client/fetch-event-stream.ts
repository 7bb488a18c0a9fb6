import type { ParsedEvent } from '../protocol/parse.js'
import type { ProtocolError } from '../protocol/errors.js'
import { backoffDelay, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff.js'
import { ClientError } from './errors.js'
import { createConnectionParser } from './connection-parser.js'
import { abortedError, contentTypeError, networkError, stalledError, statusError } from './connection-errors.js'
import { readBodyText } from './read-body-text.js'
import { isEventStreamType, planRequest, resolveUrl, sendRequest, type RequestOptions, type RequestPlan } from './request-plan.js'
import { checkObject, describeValue, validateLastEventId, validateMaxBuffer, validateStallTimeout } from './option-checks.js'
import { parseRetryAfter } from './retry-after.js'
import { resolveRetryOn, type RetryOnOptions, type RetryPolicy } from './retry-policy.js'
import { createStallTimer } from './stall-timer.js'

/** How many failed attempts `fetchEventStream` retries or resumes in a row, when it may: 3. */
export const DEFAULT_STREAM_MAX_ATTEMPTS = 3
/** How much of an error response's body `fetchEventStream` reads into `ClientError.body`: 8 KiB. */
export const DEFAULT_MAX_ERROR_BODY_BYTES = 8 * 1024

/** The options of {@link fetchEventStream}. Every field is optional. */
export interface FetchEventStreamInit extends RequestOptions {
  /**
   * The request body. A stream body can be sent only once, so it cannot be combined with `resume` or `retryOn`.
   * @defaultValue none
   */
  body?: BodyInit | null
  /** Aborts the request; the iteration then throws `ERR_CLIENT_ABORTED` with the signal's reason as `cause`. */
  signal?: AbortSignal
  /**
   * Sent as `Last-Event-ID` on the first request, to continue a stream read earlier. No CR, LF or NULL.
   * @defaultValue `''` (none)
   */
  lastEventId?: string
  /**
   * Resume a stream cut in the middle (a network error, or no byte for `stallTimeoutMs`): send the request again
   * with `Last-Event-ID` set to the last event ID received, up to `backoff.maxAttempts` times in a row. This sends
   * the request (and its body) again, so allow it only where the server resumes by id. A stream that set no id is
   * never resumed: it would start over. A stream that ends normally is never resumed. Off for every method unless set.
   * @defaultValue `false`
   */
  resume?: boolean
  /**
   * Which failed attempts to retry before the stream starts: none by default, since the request may not be safe to
   * send twice. `{ status: true }` retries 429 and 5xx (honouring `Retry-After`), `{ network: true }` network errors.
   * A 4xx other than 429 is never retried.
   */
  retryOn?: RetryOnOptions
  /**
   * Delays between retries and resumptions. The server's `retry` field replaces `initialMs` as the base.
   * @defaultValue `{ initialMs: 3000, maxMs: 30000, maxAttempts: 3 }`
   */
  backoff?: BackoffOptions
  /**
   * Abort when no byte arrived for this long, including while waiting for the response headers. The iteration throws
   * `ERR_CLIENT_STALLED`, or resumes when `resume` allows. `null` never times out.
   * @defaultValue `null`
   */
  stallTimeoutMs?: number | null
  /**
   * The most one line, or one event's data, may hold (UTF-16 code units); past it the iteration throws
   * `ERR_CLIENT_BUFFER_OVERFLOW`. `null` removes the cap.
   * @defaultValue 16 MiB (the parser's `DEFAULT_MAX_BUFFER_BYTES`)
   */
  maxBufferBytes?: number | null
  /**
   * How many bytes of an error response's body to keep in `ClientError.body`.
   * @defaultValue {@link DEFAULT_MAX_ERROR_BODY_BYTES} (8192)
   */
  maxErrorBodyBytes?: number
  /**
   * Called with each response before the client checks it, for example to read rate-limit headers. Awaited; an error
   * it throws ends the iteration.
   */
  onResponse?: (response: Response) => void | Promise<void>
}

interface StreamContext {
  readonly plan: RequestPlan
  readonly signal: AbortSignal | undefined
  readonly resume: boolean
  readonly retryOn: RetryPolicy
  readonly backoff: ResolvedBackoff
  readonly stallTimeoutMs: number | null
  readonly maxBufferBytes: number | null
  readonly maxErrorBodyBytes: number
  readonly onResponse: ((response: Response) => void | Promise<void>) | undefined
  lastEventId: string
}

/**
 * Sends one request and iterates over the events of its `text/event-stream` response: for one-shot streams such as
 * LLM APIs, usually a POST.
 *
 * The request goes out when iteration starts. The loop ends when the server ends the stream. It throws a
 * {@link ClientError} for a status other than 200 (with `status` and the start of the body), a content type other than
 * `text/event-stream`, a network error, a stall or an over-long event. Leaving the loop early (`break`, `return`, a
 * throw) aborts the request.
 *
 * A request is never sent twice unless the caller allows it: `retryOn` retries failed attempts before the stream
 * starts, `resume` resumes a cut stream by its last event ID.
 *
 * @throws {@link ClientError} at once for a bad URL or option.
 *
 * @example
 * ```ts
 * const events = fetchEventStream('https://api.example.com/v1/chat', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
 *   body: JSON.stringify({ prompt: 'Hello', stream: true }),
 *   retryOn: { status: [429, 503] },
 * })
 * for await (const event of events) {
 *   if (event.data === '[DONE]') break
 *   process.stdout.write(JSON.parse(event.data).text)
 * }
 * ```
 */
export function fetchEventStream(url: string | URL, init: FetchEventStreamInit = {}): AsyncIterableIterator<ParsedEvent> {
  checkObject('init', init)
  const resume: unknown = init.resume ?? false
  if (typeof resume !== 'boolean') throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'resume must be a boolean')
  const retryOn = resolveRetryOn(init.retryOn, false)
  // A body that may be sent again must be one fetch can send twice.
  const plan = planRequest(resolveUrl(url), init, resume || retryOn.network || retryOn.anyStatus)
  const maxErrorBodyBytes = init.maxErrorBodyBytes ?? DEFAULT_MAX_ERROR_BODY_BYTES
  if (!Number.isInteger(maxErrorBodyBytes) || maxErrorBodyBytes < 0) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `maxErrorBodyBytes must be a non-negative integer, not ${describeValue(maxErrorBodyBytes)}`)
  }
  if (init.onResponse !== undefined && typeof init.onResponse !== 'function') {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'onResponse must be a function')
  }
  if (init.signal !== undefined && !(init.signal instanceof AbortSignal)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'signal must be an AbortSignal')
  }
  return stream({
    plan,
    signal: init.signal,
    resume,
    retryOn,
    backoff: resolveBackoff(init.backoff, DEFAULT_STREAM_MAX_ATTEMPTS),
    stallTimeoutMs: validateStallTimeout(init.stallTimeoutMs),
    maxBufferBytes: validateMaxBuffer(init.maxBufferBytes),
    maxErrorBodyBytes,
    onResponse: init.onResponse,
    lastEventId: validateLastEventId(init.lastEventId),
  })
}

/** The outcome of one attempt that did not end the iteration: the request may be sent again. */
interface Retry {
  readonly error: ClientError
  readonly retryAfterMs: number | undefined
  /** The stream was open and broke: the next attempt resumes it. */
  readonly cut: boolean
  /** The attempt delivered events: the count of failures in a row starts over. */
  readonly productive: boolean
}

async function* stream(ctx: StreamContext): AsyncGenerator<ParsedEvent, void, undefined> {
  let failures = 0
  let reconnectionTimeMs = ctx.backoff.initialMs
  let resuming = false
  const onRetryField = (ms: number): void => {
    reconnectionTimeMs = ms
  }
  for (;;) {
    const retry: Retry | undefined = yield* attempt(ctx, resuming, onRetryField)
    if (retry === undefined) return
    resuming ||= retry.cut
    failures = retry.productive ? 1 : failures + 1
    const maxAttempts = ctx.backoff.maxAttempts
    if (maxAttempts !== null && failures > maxAttempts) {
      const last = retry.error
      throw new ClientError('ERR_CLIENT_RETRIES_EXHAUSTED', `gave up after ${maxAttempts} failed attempts: ${last.message}`, {
        cause: last,
        ...(last.status !== undefined && { status: last.status }),
        ...(last.body !== undefined && { body: last.body }),
      })
    }
    let delay = backoffDelay(failures, reconnectionTimeMs, ctx.backoff.maxMs, Math.random())
    if (retry.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(retry.retryAfterMs, ctx.retryOn.maxRetryAfterMs))
    await sleep(delay, ctx.signal)
  }
}

/**
 * Sends the request once and yields its events. Returns `undefined` when the stream ended normally, a {@link Retry}
 * when the request may be sent again, and throws otherwise.
 */
async function* attempt(
  ctx: StreamContext,
  resuming: boolean,
  onRetryField: (ms: number) => void,
): AsyncGenerator<ParsedEvent, Retry | undefined, undefined> {
  const signal = ctx.signal
  if (isAborted(signal)) throw abortedError(signal)
  const controller = new AbortController()
  const onAbort = (): void => controller.abort()
  signal?.addEventListener('abort', onAbort, { once: true })
  // An object, not a `let`: the stall timer's callback sets it, out of the type checker's sight.
  const state = { stalled: false }
  const stall =
    ctx.stallTimeoutMs === null
      ? undefined
      : createStallTimer(ctx.stallTimeoutMs, () => {
          state.stalled = true
          controller.abort()
        })
  stall?.start()
  try {
    let response: Response
    try {
      response = await sendRequest(ctx.plan, ctx.lastEventId, controller.signal)
    } catch (cause) {
      if (isAborted(signal)) throw abortedError(signal)
      const error = state.stalled ? stalledError(ctx.stallTimeoutMs, cause) : networkError(cause, 'connect')
      // While resuming, the caller has allowed sending the request again, and a network error is what cut the stream.
      if (resuming || ctx.retryOn.network) return { error, retryAfterMs: undefined, cut: false, productive: false }
      throw error
    }
    if (ctx.onResponse !== undefined) await ctx.onResponse(response)
    if (response.status !== 200) {
      const error = statusError(response, await readBodyText(response, ctx.maxErrorBodyBytes).catch(() => undefined))
      if (ctx.retryOn.retriesStatus(response.status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now())
        return { error, retryAfterMs, cut: false, productive: false }
      }
      throw error
    }
    if (!isEventStreamType(response.headers.get('content-type'))) {
      throw contentTypeError(response, await readBodyText(response, ctx.maxErrorBodyBytes).catch(() => undefined))
    }
    const body = response.body
    if (body === null) return undefined
    const events: ParsedEvent[] = []
    let overflow: ProtocolError | undefined
    let productive = false
    const parser = createConnectionParser(
      {
        onEvent: (event) => events.push(event),
        onRetry: onRetryField,
        onLastEventId: (id) => {
          ctx.lastEventId = id
        },
        onError: (error) => {
          overflow = error
        },
      },
      ctx.maxBufferBytes,
      ctx.lastEventId,
    )
    const reader = body.getReader()
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await reader.read()
        } catch (cause) {
          if (isAborted(signal)) throw abortedError(signal)
          const error = state.stalled ? stalledError(ctx.stallTimeoutMs, cause) : networkError(cause, 'read')
          if (!ctx.resume) throw error
          // Sending the request again without an id would start the stream over, repeating what was received.
          if (ctx.lastEventId === '') throw new ClientError(error.code, `${error.message}; not resumed: the stream set no event id`, { cause })
          return { error, retryAfterMs: undefined, cut: true, productive }
        }
        if (chunk.done) {
          // [spec] "If the file ends in the middle of an event, before the final empty line, the incomplete event is
          // not dispatched."
          parser.end()
          return undefined
        }
        stall?.touch()
        parser.feed(chunk.value)
        if (events.length > 0) {
          productive = true
          // The events of one chunk are yielded before the next read: a slow loop slows the reading, and memory
          // holds at most one chunk's events.
          for (const event of events) yield event
          events.length = 0
        }
        // Events completed before the over-long one were yielded above.
        if (overflow !== undefined) throw new ClientError('ERR_CLIENT_BUFFER_OVERFLOW', overflow.message, { cause: overflow })
      }
    } finally {
      // Releases the connection when the loop ended early or failed; a no-op after the end of the body.
      reader.cancel().catch(() => undefined)
    }
  } finally {
    stall?.stop()
    signal?.removeEventListener('abort', onAbort)
    controller.abort()
  }
}

/** Whether `signal` has aborted (a function, so that a check after an `await` is not narrowed away). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** Waits `ms`, or rejects with `ERR_CLIENT_ABORTED` as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (isAborted(signal)) {
      reject(abortedError(signal))
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(abortedError(signal))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
