import type { ClientError } from './errors.js'

/**
 * The `error` event of an `EventSource`: a plain `Event` of type `'error'`, as the spec fires, that also carries the
 * {@link ClientError} that caused it (like the DOM's `ErrorEvent`, which Node lacks).
 *
 * `readyState` tells what happens next: `CONNECTING` means the source reconnects, `CLOSED` means it gave up.
 *
 * @example
 * ```ts
 * source.addEventListener('error', (event) => {
 *   if (source.readyState === EventSource.CLOSED) console.error(event.error.code, event.error.status)
 * })
 * ```
 */
export class ClientErrorEvent extends Event {
  /** Why the event fired. */
  readonly error: ClientError
  /** The error's message. */
  readonly message: string

  constructor(error: ClientError) {
    super('error')
    this.error = error
    this.message = error.message
  }
}
