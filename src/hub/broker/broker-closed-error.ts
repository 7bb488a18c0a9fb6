// The error of a broker used after close(). Internal: not re-exported from index.ts.
import { HubError } from '../errors.js'

/**
 * The error every broker engine rejects or throws with once `close()` was called: `ERR_HUB_BROKER_CLOSED`, with the
 * failure that the closing interrupted as `cause`, if any.
 *
 * @example
 * ```ts
 * publish(message: HubMessage): Promise<void> {
 *   if (this.#closed) return Promise.reject(brokerClosedError())
 *   // …
 * }
 * ```
 */
export function brokerClosedError(cause?: unknown): HubError {
  return new HubError('ERR_HUB_BROKER_CLOSED', 'this broker is closed', cause === undefined ? undefined : { cause })
}
