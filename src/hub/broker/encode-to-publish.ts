// How the Redis and NATS brokers check a message before they publish it. Internal: not re-exported from index.ts.
import { HubError, messageOf } from '../errors.js'
import type { HubMessage } from '../update.js'

/**
 * The first step of a broker's `publish`: encodes `message` with `encode`, which throws for a message that breaks the
 * `HubMessage` contract, and hands the payload to `send`. The encoding is the check, so a message is encoded once.
 *
 * @param owner - The broker's class name, which starts the error message.
 * @returns what `send` returns, or a promise rejected with `ERR_HUB_BROKER_MESSAGE_INVALID` (the encoder's error as
 *   `cause`) when `encode` threw; `send` is then not called.
 */
export function encodeToPublish<Payload>(
  owner: string,
  message: HubMessage,
  encode: (message: HubMessage) => Payload,
  send: (payload: Payload) => Promise<void>,
): Promise<void> {
  let payload: Payload
  try {
    payload = encode(message)
  } catch (cause) {
    return Promise.reject(new HubError('ERR_HUB_BROKER_MESSAGE_INVALID', `${owner}: cannot publish: ${messageOf(cause)}`, { cause }))
  }
  return send(payload)
}
