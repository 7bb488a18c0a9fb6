import { ClientError } from './errors.js'

/** `ERR_CLIENT_NETWORK` for a fetch that rejected (`phase: 'connect'`) or a body that broke (`phase: 'read'`). */
export function networkError(cause: unknown, phase: 'connect' | 'read'): ClientError {
  const what = phase === 'connect' ? 'network error' : 'the connection broke'
  return new ClientError('ERR_CLIENT_NETWORK', `${what}: ${describe(cause)}`, { cause })
}

/** `ERR_CLIENT_STALLED`: no byte arrived for `stallTimeoutMs`. */
export function stalledError(stallTimeoutMs: number | null, cause: unknown): ClientError {
  return new ClientError('ERR_CLIENT_STALLED', `no data for ${String(stallTimeoutMs)} ms`, { cause })
}

/** `ERR_CLIENT_ABORTED`, with the signal's reason as the cause. */
export function abortedError(signal: AbortSignal | undefined): ClientError {
  return new ClientError('ERR_CLIENT_ABORTED', 'the request was aborted', { cause: signal?.reason })
}

/** `ERR_CLIENT_HTTP_STATUS` for a response whose status is not 200. */
export function statusError(response: Response, body: string | undefined): ClientError {
  const status = response.status
  const text = response.statusText === '' ? '' : ` ${response.statusText}`
  return new ClientError('ERR_CLIENT_HTTP_STATUS', `the server answered ${status}${text}`, { status, ...(body !== undefined && { body }) })
}

/** `ERR_CLIENT_CONTENT_TYPE` for a 200 response that is not `text/event-stream`. */
export function contentTypeError(response: Response, body: string | undefined): ClientError {
  const type = response.headers.get('content-type')
  const got = type === null ? 'no content type' : JSON.stringify(type)
  return new ClientError('ERR_CLIENT_CONTENT_TYPE', `expected text/event-stream, got ${got}`, {
    status: response.status,
    ...(body !== undefined && { body }),
  })
}

/** A short description of a thrown value, with the cause's message when fetch wrapped one (undici does). */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause
    return cause instanceof Error && cause.message !== '' ? `${error.message} (${cause.message})` : error.message
  }
  return String(error)
}
