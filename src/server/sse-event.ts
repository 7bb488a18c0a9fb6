import { encodeBytes } from '../protocol/encode.js'
import { ServerError } from './errors.js'

/**
 * A map from event name to payload type, for typed sessions and channels. `message` is the type of events sent
 * without a name (what `EventSource.onmessage` receives).
 *
 * @example
 * ```ts
 * interface ChatEvents { message: { from: string; text: string }; typing: { from: string }; presence: string[] }
 * const channel = createChannel<ChatEvents>()
 * channel.broadcast({ event: 'typing', data: { from: 'ada' } })
 * ```
 */
export type EventMap = Record<string, unknown>

/** The fields every event may carry besides its name and data. */
export interface EventFields {
  /** The event id: what the client sends back as `Last-Event-ID` when it reconnects. No CR, LF or NULL. */
  id?: string | undefined
  /** Tells the client to wait this many milliseconds before reconnecting. */
  retry?: number | undefined
  /** A comment written before the event; clients ignore it. */
  comment?: string | undefined
}

/**
 * An event to send: a name from the map (optional for `message`, and for untyped sessions) and its data. Strings are
 * written as they are; other data is serialised (JSON by default).
 */
export type SseEvent<Events extends object = EventMap> = {
  [K in keyof Events & string]: EventFields &
    (K extends 'message' ? { event?: K; data: Events[K] } : string extends K ? { event?: K; data: Events[K] } : { event: K; data: Events[K] })
}[keyof Events & string]

/** An event as a filter sees it: its name resolved (`'message'` when it had none), its id, its data unserialised. */
export type SseMessage<Events extends object = EventMap> = {
  [K in keyof Events & string]: { readonly event: K; readonly id: string | undefined; readonly data: Events[K] }
}[keyof Events & string]

/**
 * Turns event data into the text of the `data:` lines. Called once per event, never per subscriber.
 * @param data - The event's data.
 * @param event - The event's name (`'message'` when it had none).
 */
export type Serializer = (data: unknown, event: string) => string

/**
 * The default {@link Serializer}: strings pass through, everything else goes through `JSON.stringify`. `undefined`,
 * functions, symbols and values JSON cannot represent (a `BigInt`, a cycle) throw `ERR_SERVER_INVALID_EVENT`.
 *
 * @example
 * ```ts
 * serializeJson('hi', 'message')        // 'hi'
 * serializeJson({ n: 1 }, 'message')    // '{"n":1}'
 * ```
 */
export function serializeJson(data: unknown, event: string): string {
  if (typeof data === 'string') return data
  // JSON.stringify returns undefined (whatever its declared type) for undefined, functions and symbols.
  let text: unknown
  try {
    text = JSON.stringify(data)
  } catch (cause) {
    throw new ServerError('ERR_SERVER_INVALID_EVENT', `the data of a '${event}' event cannot be serialised as JSON`, { cause })
  }
  if (typeof text !== 'string') {
    throw new ServerError('ERR_SERVER_INVALID_EVENT', `the data of a '${event}' event is ${typeof data}, which JSON cannot represent`)
  }
  return text
}

/** An event encoded once: its bytes, plus what filters and history need to know of it. */
export interface EncodedEvent<Events extends object = EventMap> {
  /** The event as filters see it. */
  readonly message: SseMessage<Events>
  /** The complete `text/event-stream` bytes of the event, shared by every recipient. Never mutate. */
  readonly bytes: Uint8Array
}

/**
 * Serialises and encodes one event to bytes. Invalid fields throw: `ERR_SERVER_INVALID_EVENT` for data the
 * serialiser rejects, the protocol's `ERR_PROTOCOL_INVALID_*` codes for an id, name or retry the stream cannot carry.
 *
 * @example
 * ```ts
 * const { bytes } = encodeSseEvent({ event: 'tick', id: '7', data: { n: 7 } })
 * // bytes: "id: 7\nevent: tick\ndata: {\"n\":7}\n\n"
 * ```
 */
export function encodeSseEvent<Events extends object = EventMap>(
  event: SseEvent<Events>,
  serialize: Serializer = serializeJson,
): EncodedEvent<Events> {
  const value: unknown = event
  if (typeof value !== 'object' || value === null) {
    throw new ServerError('ERR_SERVER_INVALID_EVENT', `an event must be an object with a data field, not ${value === null ? 'null' : typeof value}`)
  }
  const { id, retry, comment } = event
  const name: string = event.event ?? 'message'
  const data = serialize(event.data, name)
  if (typeof data !== 'string') {
    throw new ServerError('ERR_SERVER_INVALID_EVENT', `the serialiser returned ${typeof data} for a '${name}' event, not a string`)
  }
  const bytes = encodeBytes({
    data,
    ...(name === 'message' ? {} : { event: name }),
    ...(id === undefined ? {} : { id }),
    ...(retry === undefined ? {} : { retry }),
    ...(comment === undefined ? {} : { comment }),
  })
  // `name` is a key of Events (or 'message'), and `data` is that key's payload: what SseEvent guarantees.
  return { message: { event: name, id, data: event.data } as SseMessage<Events>, bytes }
}
