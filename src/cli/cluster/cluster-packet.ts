import type { HubMessage } from '../../hub/index.js'

/**
 * What a worker process sends its primary over the IPC channel:
 * - `publish`: a message for the other workers' subscribers (`seq` numbers it for the `ack`);
 * - `listening`: the worker serves HTTP on `port`;
 * - `failed`: the worker could not start (`code` and `message` of the error).
 */
export type WorkerPacket =
  | { readonly herald: 'publish'; readonly seq: number; readonly message: HubMessage }
  | { readonly herald: 'listening'; readonly port: number }
  | { readonly herald: 'failed'; readonly code: string | null; readonly message: string }

/**
 * What the primary sends a worker:
 * - `deliver`: a message another worker published;
 * - `ack`: the publish numbered `seq` was handed to every other worker (frees a slot of the sender's window);
 * - `shutdown`: drain and exit.
 */
export type PrimaryPacket =
  | { readonly herald: 'deliver'; readonly message: HubMessage }
  | { readonly herald: 'ack'; readonly seq: number }
  | { readonly herald: 'shutdown' }

/** Whether `value` is a packet of Herald's cluster protocol (other IPC traffic is ignored). */
export function isHeraldPacket(value: unknown): value is { herald: string } {
  return typeof value === 'object' && value !== null && typeof (value as { herald?: unknown }).herald === 'string'
}
