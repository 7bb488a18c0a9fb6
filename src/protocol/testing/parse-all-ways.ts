import { expect } from 'vitest'
import { createParser, ProtocolError, type ParsedEvent, type ParserOptions, type ProtocolErrorCode } from '../index.js'

/** One callback made by the parser, in the order it was made. */
export type TraceEntry =
  | { event: ParsedEvent }
  | { retry: number }
  | { comment: string }
  | { lastEventId: string }
  | { error: ProtocolErrorCode }

/** Everything a parser reported for one input. */
export type Trace = TraceEntry[]

/** A chunk as `feed()` takes it. */
export type Chunk = Uint8Array | string

const encoder = new TextEncoder()
/** Decodes bytes the way the parser does, keeping a leading BOM for the parser to judge. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true })

/**
 * Feeds `chunks` to a fresh parser (then calls `end()`, as a stream would) and records every callback.
 *
 * Events are copied with all four keys, `id` included when it is `undefined`, so `toStrictEqual` tells an absent
 * `id` field from an empty one. Every reported error is checked to be a {@link ProtocolError}.
 */
export function traceOf(chunks: Iterable<Chunk>, options?: ParserOptions): Trace {
  return traceOfStreams([chunks], options)
}

/** Like {@link traceOf} for several streams fed to one parser in turn, each one followed by `end()`. */
export function traceOfStreams(streams: Iterable<Iterable<Chunk>>, options?: ParserOptions): Trace {
  const trace: Trace = []
  const parser = createParser(
    {
      onEvent: (e) => trace.push({ event: { type: e.type, data: e.data, lastEventId: e.lastEventId, id: e.id } }),
      onRetry: (ms) => trace.push({ retry: ms }),
      onComment: (text) => trace.push({ comment: text }),
      onLastEventId: (id) => trace.push({ lastEventId: id }),
      onError: (error) => {
        expect(error).toBeInstanceOf(ProtocolError)
        trace.push({ error: error.code })
      },
    },
    options,
  )
  for (const chunks of streams) {
    for (const chunk of chunks) parser.feed(chunk)
    parser.end()
  }
  return trace
}

/** The UTF-8 bytes of `input` (unchanged when it already is bytes). */
export function toBytes(input: Chunk): Uint8Array {
  return typeof input === 'string' ? encoder.encode(input) : input
}

/** The text of `input` as the parser decodes it (invalid sequences become U+FFFD; a BOM is kept). */
export function toText(input: Chunk): string {
  return typeof input === 'string' ? input : decoder.decode(input)
}

/**
 * Every way {@link parseAllWays} feeds one input: whole, split in two at every point (as bytes and as strings), one
 * byte at a time and one UTF-16 code unit at a time. Each entry is a label (used in failure messages) and the chunks.
 */
export function* feedingModes(input: Chunk): Generator<[label: string, chunks: Chunk[]]> {
  const bytes = toBytes(input)
  const text = toText(input)
  yield ['whole bytes', [bytes]]
  yield ['whole string', [text]]
  for (let i = 0; i <= bytes.length; i++) yield [`bytes split at ${i}`, [bytes.subarray(0, i), bytes.subarray(i)]]
  for (let i = 0; i <= text.length; i++) yield [`string split at ${i}`, [text.slice(0, i), text.slice(i)]]
  yield ['one byte at a time', Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1))]
  // By index, not by iteration: iterating a string walks code points, and surrogate pairs must be split too.
  yield ['one code unit at a time', Array.from({ length: text.length }, (_, i) => text.charAt(i))]
}

/**
 * Parses `input` in every feeding mode of {@link feedingModes}, asserts that each reports exactly the same callbacks,
 * and returns that trace. A string input is also fed as its UTF-8 bytes; a byte input also as its decoded text.
 *
 * @example
 * ```ts
 * expect(parseAllWays('data: a\r\n\r\n')).toStrictEqual([message('a')])
 * ```
 */
export function parseAllWays(input: Chunk, options?: ParserOptions): Trace {
  const reference = traceOf([input], options)
  for (const [label, chunks] of feedingModes(input)) expect(traceOf(chunks, options), `fed ${label}`).toStrictEqual(reference)
  return reference
}

/**
 * {@link parseAllWays} for several streams fed to one parser in turn, each followed by `end()`: each stream in turn is
 * fed in every mode of {@link feedingModes} while the others are fed whole, and every way must give the same trace.
 */
export function parseStreamsAllWays(streams: readonly Chunk[], options?: ParserOptions): Trace {
  const reference = traceOfStreams(
    streams.map((stream) => [stream]),
    options,
  )
  streams.forEach((stream, k) => {
    for (const [label, chunks] of feedingModes(stream)) {
      const fed = streams.map((other, j) => (j === k ? chunks : [other]))
      expect(traceOfStreams(fed, options), `stream ${k} fed ${label}`).toStrictEqual(reference)
    }
  })
  return reference
}

/**
 * The trace entry of a dispatched event. `type` defaults to `'message'`, `lastEventId` to `''`, and `id` to
 * `undefined` (no `id` field in the event's block).
 */
export function message(data: string, fields: { type?: string; lastEventId?: string; id?: string } = {}): TraceEntry {
  return { event: { type: fields.type ?? 'message', data, lastEventId: fields.lastEventId ?? '', id: fields.id } }
}

/** Only the dispatched events of a trace. */
export function eventsOf(trace: Trace): ParsedEvent[] {
  return trace.flatMap((entry) => ('event' in entry ? [entry.event] : []))
}
