import { ProtocolError } from './errors.js'
import { createParser, type ParsedEvent, type ParserOptions } from './parse.js'

/** Options of {@link EventStreamParser}. */
export interface EventStreamParserOptions extends ParserOptions {
  /** Called for each `retry` field made only of digits, in milliseconds. */
  onRetry?: (ms: number) => void
  /** Called for each comment line. */
  onComment?: (text: string) => void
  /** Called when the last event ID string changes at a dispatch point. */
  onLastEventId?: (lastEventId: string) => void
  /**
   * What to do with a data error such as `ERR_PROTOCOL_BUFFER_OVERFLOW`: `'terminate'` errors the stream with it;
   * a function receives it and the stream goes on (the parser stays silent until the stream ends).
   * @defaultValue `'terminate'`
   */
  onError?: 'terminate' | ((error: ProtocolError) => void)
}

/**
 * A `TransformStream` from `text/event-stream` bytes or text to {@link ParsedEvent}s, built on
 * {@link createParser}, for `response.body.pipeThrough(new EventStreamParser())`.
 *
 * An event still incomplete when the input ends is discarded, as the spec says.
 *
 * @example
 * ```ts
 * const response = await fetch(url, { headers: { accept: 'text/event-stream' } })
 * for await (const event of response.body!.pipeThrough(new EventStreamParser())) console.log(event.data)
 * ```
 */
export class EventStreamParser extends TransformStream<Uint8Array | string, ParsedEvent> {
  constructor(options: EventStreamParserOptions = {}) {
    const { onRetry, onComment, onLastEventId, onError = 'terminate', ...parserOptions } = options
    if (onError !== 'terminate' && typeof onError !== 'function') {
      throw new ProtocolError('ERR_PROTOCOL_INVALID_OPTION', `onError must be 'terminate' or a function, not ${String(onError)}`)
    }
    // Built before super() so that invalid options throw here, at construction. `start` runs inside super(), before
    // any chunk can arrive, so the controller is always set when a callback runs.
    let controller!: TransformStreamDefaultController<ParsedEvent>
    const parser = createParser(
      {
        onEvent: (event) => controller.enqueue(event),
        ...(onRetry !== undefined && { onRetry }),
        ...(onComment !== undefined && { onComment }),
        ...(onLastEventId !== undefined && { onLastEventId }),
        onError: (error) => (onError === 'terminate' ? controller.error(error) : onError(error)),
      },
      parserOptions,
    )
    super({
      start(c) {
        controller = c
      },
      transform(chunk) {
        parser.feed(chunk)
      },
      flush() {
        parser.end()
      },
    })
  }
}
