import type { ClientErrorEvent } from './client-error-event.js'

/**
 * Event names and the type of their payloads, as in `{ task: { id: string; done: boolean } }`: the client's typing
 * of a stream. Structurally the same as the server's `EventMap` (`Record<string, unknown>`), so one type can describe
 * both ends. As on the server, the type parameters accept any object type, interfaces included.
 *
 * The payloads are what `data` holds after the source's `decode` option ran; without `decode`, data stays a string.
 */
export type EventMap = Record<string, unknown>

/** The map of an untyped source: any event name, string data. */
export type DefaultEventMap = Record<string, string>

/** Names the source itself dispatches; a server event of the same name still arrives as a `MessageEvent`. */
type OwnEventName = 'open' | 'error'

/**
 * The event a listener for `Type` receives: `Event` for `open`, {@link ClientErrorEvent} for `error`, and for
 * every other name a `MessageEvent` whose `data` has the payload type the map gives it (`unknown` for a name the
 * map does not list).
 */
export type EventSourceEvent<Events extends object, Type extends string> = Type extends 'open'
  ? Event
  : Type extends 'error'
    ? ClientErrorEvent
    : MessageEvent<Type extends keyof Events ? Events[Type] : unknown> & { readonly type: Type }

/** Any message event of the map: what `for await (const event of source)` yields. Narrows on `event.type`. */
export type EventSourceMessage<Events extends object> = {
  [Type in Exclude<keyof Events & string, OwnEventName>]: MessageEvent<Events[Type]> & { readonly type: Type }
}[Exclude<keyof Events & string, OwnEventName>]

/** A listener for events of `Type`: a function, or an object with `handleEvent`. */
export type EventSourceListener<Source, Events extends object, Type extends string> =
  | ((this: Source, event: EventSourceEvent<Events, Type>) => unknown)
  | { handleEvent(event: EventSourceEvent<Events, Type>): unknown }
