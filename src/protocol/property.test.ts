// Property tests of the protocol layer with fast-check: encode/parse round trips under arbitrary chunkings, parsing
// arbitrary input without throwing and the same way whatever the chunking, agreement with a literal transcription of
// the WHATWG steps (testing/reference-parse.ts), and the maxBufferBytes bound.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createParser, encode, encodeBytes, type EncodableEvent, type ParsedEvent } from './index.js'
import { traceOf, type Chunk, type Trace } from './testing/parse-all-ways.js'
import { referenceParse } from './testing/reference-parse.js'

const encoder = new TextEncoder()

/** Characters that matter to the format, mixed with any Unicode scalar value. */
const tricky = ['\n', '\r', '\r\n', ' ', ':', '\0', '\ufeff', '\u00e9', '\u{1f600}', '\u4e2d', '\u2028', '\ud7ff', '\ue000']
const anyChar = fc.oneof(fc.constantFrom(...tricky), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))
const anyText = fc.string({ unit: anyChar, maxLength: 24 })
const oneLine = anyText.map((s) => s.replace(/[\r\n]/g, ''))

/** Events that `encode` accepts: ids without CR, LF or NULL, event types without CR or LF. */
const encodableEvent: fc.Arbitrary<EncodableEvent & { data: string }> = fc.record(
  {
    data: anyText,
    event: oneLine,
    id: oneLine.map((s) => s.replace(/\0/g, '')),
    retry: fc.nat({ max: 1_000_000 }),
    comment: anyText,
  },
  { requiredKeys: ['data'] },
)

/** Pieces of event streams, valid and not, as text. */
const streamToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('data', 'data:', 'data: ', 'id', 'id:', 'id: ', 'event:', 'retry:', 'retry: ', ':', ' ') },
  { weight: 2, arbitrary: fc.constantFrom('data:\n', 'data: x\n', 'data: xyz\n', 'event: e\n', 'id: 7\n', 'retry: 9\n', ': c\n') },
  { weight: 3, arbitrary: fc.constantFrom('\n', '\r', '\r\n', '\n\n', '\r\r') },
  { weight: 2, arbitrary: fc.constantFrom('1', '42', 'x', 'abc', '\0', '\ufeff', '\u00e9', '\u{1f600}', '-1', '1.5') },
  { weight: 1, arbitrary: anyChar },
)
const streamText = fc.array(streamToken, { maxLength: 40 }).map((tokens) => tokens.join(''))

/** The same pieces as bytes, mixed with arbitrary bytes (invalid UTF-8 included). */
const streamBytes = fc
  .array(fc.oneof({ weight: 4, arbitrary: streamToken.map((t) => encoder.encode(t)) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) }), {
    maxLength: 40,
  })
  .map((parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const part of parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  })

/** Blocks of many short data lines: one event's data outgrows a small bound while each line stays within it. */
const dataBlock = fc
  .tuple(
    fc.constantFrom('', 'id: 7\n', 'id: 8\n', 'event: e\n'),
    fc.array(fc.constantFrom('data\n', 'data:x\n', 'data: xy\n', 'data:\u00e9\u{1f600}\n', ': c\n'), { minLength: 1, maxLength: 10 }),
  )
  .map(([head, lines]) => `${head}${lines.join('')}\n`)
const dataLines = fc.array(dataBlock, { maxLength: 5 }).map((blocks) => blocks.join(''))

/** Split points, applied to an input of any length by `split`. */
const cuts = fc.array(fc.nat(), { maxLength: 12 })

/** Splits `input` at `points` (taken modulo its length + 1), giving chunks of the same kind. */
function split<T extends Chunk>(input: T, points: readonly number[]): T[] {
  const at = [...new Set(points.map((p) => p % (input.length + 1)))].sort((a, b) => a - b)
  const chunks: T[] = []
  let from = 0
  for (const to of [...at, input.length]) {
    chunks.push(input.slice(from, to) as T)
    from = to
  }
  return chunks
}

/** What parsing `encode(e1) + encode(e2) + …` must give: data with every line end as LF, and a running last event ID. */
function expectedEvents(events: readonly (EncodableEvent & { data: string })[]): ParsedEvent[] {
  let lastEventId = ''
  return events.map((e) => {
    if (e.id !== undefined) lastEventId = e.id
    return { type: e.event === undefined || e.event === '' ? 'message' : e.event, data: e.data.replace(/\r\n?/g, '\n'), lastEventId, id: e.id }
  })
}

const only = (trace: Trace, key: 'event' | 'retry') => trace.flatMap((entry) => (key in entry ? [entry] : []))

describe('round trip', () => {
  it('parse(encodeBytes(e)) gives e back, whatever the byte chunking', () => {
    fc.assert(
      fc.property(fc.array(encodableEvent, { minLength: 1, maxLength: 5 }), cuts, (events, points) => {
        const bytes = encoder.encode(events.map((e) => encode(e)).join(''))
        const trace = traceOf(split(bytes, points))
        expect(only(trace, 'event')).toStrictEqual(expectedEvents(events).map((event) => ({ event })))
        expect(only(trace, 'retry')).toStrictEqual(events.flatMap((e) => (e.retry === undefined ? [] : [{ retry: e.retry }])))
      }),
      { numRuns: 300 },
    )
  })

  it('parse(encode(e)) gives e back, whatever the string chunking', () => {
    fc.assert(
      fc.property(fc.array(encodableEvent, { minLength: 1, maxLength: 5 }), cuts, (events, points) => {
        const trace = traceOf(split(events.map((e) => encode(e)).join(''), points))
        expect(only(trace, 'event')).toStrictEqual(expectedEvents(events).map((event) => ({ event })))
      }),
      { numRuns: 300 },
    )
  })

  it('gives each event back one byte at a time, and encodeBytes equals the UTF-8 of encode', () => {
    fc.assert(
      fc.property(encodableEvent, (event) => {
        const bytes = encodeBytes(event)
        expect(bytes).toStrictEqual(encoder.encode(encode(event)))
        const trace = traceOf(Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)))
        expect(only(trace, 'event')).toStrictEqual(expectedEvents([event]).map((e) => ({ event: e })))
      }),
      { numRuns: 200 },
    )
  })
})

describe('arbitrary input', () => {
  it('never throws on random bytes, and the chunking never changes the result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), cuts, (bytes, points) => {
        expect(traceOf(split(bytes, points))).toStrictEqual(traceOf([bytes]))
      }),
      { numRuns: 300 },
    )
  })

  it('never throws on random strings, and string or byte chunking never changes the result', () => {
    fc.assert(
      fc.property(fc.string({ unit: anyChar, maxLength: 80 }), cuts, (text, points) => {
        const whole = traceOf([text])
        expect(traceOf(split(text, points))).toStrictEqual(whole)
        expect(traceOf(split(encoder.encode(text), points))).toStrictEqual(whole)
      }),
      { numRuns: 300 },
    )
  })

  it('agrees with a literal transcription of the WHATWG steps on stream-like text', () => {
    fc.assert(
      fc.property(streamText, cuts, (text, points) => {
        expect(traceOf(split(text, points))).toStrictEqual(referenceParse(text))
      }),
      { numRuns: 500 },
    )
  })

  it('agrees with a literal transcription of the WHATWG steps on stream-like bytes, invalid UTF-8 included', () => {
    fc.assert(
      fc.property(streamBytes, cuts, (bytes, points) => {
        expect(traceOf(split(bytes, points))).toStrictEqual(referenceParse(bytes))
      }),
      { numRuns: 500 },
    )
  })
})

describe('maxBufferBytes', () => {
  const bound = fc.integer({ min: 1, max: 24 })

  it('never dispatches data, a type, an id or a comment longer than the bound', () => {
    fc.assert(
      fc.property(fc.oneof(streamText, streamBytes, dataLines), bound, cuts, (input, maxBufferBytes, points) => {
        const trace = traceOf(split(input, points), { maxBufferBytes })
        for (const entry of trace) {
          if ('event' in entry) {
            expect(entry.event.data.length).toBeLessThanOrEqual(maxBufferBytes)
            // 'message' is the default, not a buffer the stream filled.
            if (entry.event.type !== 'message') expect(entry.event.type.length).toBeLessThanOrEqual(maxBufferBytes)
            expect(entry.event.lastEventId.length).toBeLessThanOrEqual(maxBufferBytes)
          }
          if ('comment' in entry) expect(entry.comment.length).toBeLessThanOrEqual(maxBufferBytes)
          if ('lastEventId' in entry) expect(entry.lastEventId.length).toBeLessThanOrEqual(maxBufferBytes)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('reports an overflow through onError exactly when the reference does, then stays silent', () => {
    // Byte inputs end with a line end here: an unfinished UTF-8 sequence at the very end is discarded with the
    // pending line at end(), so whether it would have counted towards the bound once decoded is not observable.
    const endedBytes = streamBytes.map((bytes) => Uint8Array.of(...bytes, 0x0a))
    fc.assert(
      fc.property(fc.oneof(streamText, endedBytes, dataLines), bound, cuts, (input, maxBufferBytes, points) => {
        const trace = traceOf(split(input, points), { maxBufferBytes })
        expect(trace).toStrictEqual(referenceParse(input, { maxBufferBytes }))
        const at = trace.findIndex((entry) => 'error' in entry)
        if (at !== -1) expect(at).toBe(trace.length - 1)
      }),
      { numRuns: 400 },
    )
  })

  it('always reports a line longer than the bound, terminated or not, in any chunking', () => {
    fc.assert(
      fc.property(streamText, bound, fc.boolean(), fc.boolean(), cuts, (prefix, maxBufferBytes, terminated, asBytes, points) => {
        // A line end first, so that the long line starts a line of its own.
        const text = `${prefix}\n:${'x'.repeat(maxBufferBytes)}${terminated ? '\n' : ''}`
        const errors: string[] = []
        const parser = createParser({ onEvent: () => undefined, onError: (error) => errors.push(error.code) }, { maxBufferBytes })
        for (const chunk of asBytes ? split(encoder.encode(text), points) : split(text, points)) parser.feed(chunk)
        parser.end()
        expect(errors).toStrictEqual(['ERR_PROTOCOL_BUFFER_OVERFLOW'])
      }),
      { numRuns: 400 },
    )
  })

  it('always reports a line whose decoded text outgrows the bound through invalid UTF-8, in any byte chunking', () => {
    // Complete invalid sequences, each decoding to one U+FFFD per byte.
    const invalid = fc.constantFrom([0xff], [0xc0, 0xaf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80])
    fc.assert(
      fc.property(streamText, bound, invalid, fc.boolean(), cuts, (prefix, maxBufferBytes, bad, terminated, points) => {
        // A line whose invalid bytes, one U+FFFD each, take it to one code unit past the bound.
        const line = `:${'x'.repeat(maxBufferBytes)}`.slice(0, Math.max(0, maxBufferBytes + 1 - bad.length))
        const input = Uint8Array.from([...encoder.encode(`${prefix}\n${line}`), ...bad, ...(terminated ? [0x0a] : [])])
        const errors: string[] = []
        const parser = createParser({ onEvent: () => undefined, onError: (error) => errors.push(error.code) }, { maxBufferBytes })
        for (const chunk of split(input, points)) parser.feed(chunk)
        parser.end()
        expect(errors).toStrictEqual(['ERR_PROTOCOL_BUFFER_OVERFLOW'])
      }),
      { numRuns: 400 },
    )
  })
})
