import type { Session } from '../server/session.js'
import { compareOffsets, type StreamPosition } from './stream-position.js'
import type { RegisteredSubscriber } from './subscriber-registry.js'
import type { TopicSelector } from './topic-selector.js'
import type { HubMessage } from './update.js'

// One options object each, not one per delivery.
const BOUNDED = Object.freeze({ bounded: true })
const UNBOUNDED = Object.freeze({ bounded: false })
const IGNORE_COUNT: (count: number) => void = () => undefined

/** Live messages held while a resuming subscriber replays history; past it, the replay reads history again. */
export const DEFAULT_RESUME_BUFFER = 1000

/**
 * One subscriber connection. It registers before it reads history, holding live messages in a bounded buffer while
 * it replays, so that no update published during the replay is missed; messages the replay already sent are
 * dropped by position, so none arrives twice.
 */
export class HubSubscriber implements RegisteredSubscriber {
  readonly selector: TopicSelector
  readonly privateAccess: TopicSelector | null
  readonly payload: unknown
  /** The session, once the response is open. */
  session: Session | undefined
  /** Called with the number of buffered messages sent when a replay ends (metrics; live ones are counted by the caller of {@link deliver}). */
  onDelivered: (count: number) => void = IGNORE_COUNT

  #replaying: boolean
  /** Live messages held during a replay; made by the first one (most subscribers never replay). */
  #buffer: { message: HubMessage; bytes: Uint8Array }[] | undefined
  #overflowed = false
  #bufferLimit: number
  /** The position of the last replayed message, for de-duplication of the buffer. */
  #last: StreamPosition | undefined
  #id: string | undefined

  constructor(init: { selector: TopicSelector; privateAccess: TopicSelector | null; payload: unknown; replaying: boolean; bufferLimit?: number }) {
    this.selector = init.selector
    this.privateAccess = init.privateAccess
    this.payload = init.payload
    this.#replaying = init.replaying
    this.#bufferLimit = init.bufferLimit ?? DEFAULT_RESUME_BUFFER
  }

  /**
   * The subscriber's `urn:uuid:` identifier (Mercure subscription events and API), made when first read. Why: only hubs
   * with the subscriptions API read it, and `crypto.randomUUID()` builds its string from 15 pieces that V8 keeps
   * as they are: about 0.5 KB per idle connection (heap snapshots of 2,000 idle subscribers; the hub benchmark's
   * scenario C, `npm run bench:hub -- --systems herald-hub --scenarios C`, measures memory per connection).
   */
  get id(): string {
    return (this.#id ??= `urn:uuid:${crypto.randomUUID()}`)
  }

  /** Whether `update` may go to this subscriber: its selectors match, and a private update is within its access. */
  accepts(topics: readonly string[], isPrivate: boolean): boolean {
    if (!this.selector.matches(topics)) return false
    return !isPrivate || (this.privateAccess !== null && this.privateAccess.matches(topics))
  }

  /** Sends a live message, or holds it while replaying. Returns whether it was sent now. */
  deliver(message: HubMessage, bytes: Uint8Array): boolean {
    if (this.#replaying) {
      if (this.#overflowed) return false
      this.#buffer ??= []
      if (this.#buffer.length >= this.#bufferLimit) {
        // Every live message is in history too: drop the buffer and let the replay read on.
        this.#overflowed = true
        this.#buffer = undefined
        return false
      }
      this.#buffer.push({ message, bytes })
      return false
    }
    if (this.#replayedAlready(message)) return false
    return this.#send(bytes, true)
  }

  /**
   * Whether the replay already sent `message`: history offsets are assigned at append, so every matching update at or
   * before the last replayed position was replayed, even one whose broker message arrives only after the replay
   * ended (a slow publishing node).
   */
  #replayedAlready(message: HubMessage): boolean {
    const last = this.#last
    const { position } = message
    return last !== undefined && last.epoch === position.epoch && compareOffsets(position.offset, last.offset) <= 0
  }

  /** Sends the gap event or another out-of-band message to this subscriber's stream. */
  notify(bytes: Uint8Array): void {
    this.session?.sendBytes(bytes)
  }

  /** Sends one replayed message (outside the queue bounds: history already bounds the replay). */
  replay(message: HubMessage, bytes: Uint8Array): boolean {
    this.#last = message.position
    return this.#send(bytes, false)
  }

  /** The position of the last replayed message. */
  get lastPosition(): StreamPosition | undefined {
    return this.#last
  }

  /**
   * Ends the replay: returns `true` and switches to live delivery after sending the buffered messages the replay has
   * not sent, or returns `false` when the buffer overflowed (the caller reads history again from
   * {@link lastPosition}, then calls this again).
   */
  finishReplay(): boolean {
    if (this.#overflowed) {
      this.#overflowed = false
      return false
    }
    const buffered = this.#buffer ?? []
    this.#buffer = undefined
    this.#replaying = false
    let sent = 0
    for (const { message, bytes } of buffered) {
      if (this.#replayedAlready(message)) continue
      if (this.#send(bytes, true)) sent++
    }
    if (sent > 0) this.onDelivered(sent)
    return true
  }

  #send(bytes: Uint8Array, bounded: boolean): boolean {
    const session = this.session
    if (session === undefined || session.closed) return false
    return session.sendBytes(bytes, bounded ? BOUNDED : UNBOUNDED)
  }
}
