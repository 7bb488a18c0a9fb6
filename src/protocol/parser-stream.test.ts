// Tests of EventStreamParser, the TransformStream over createParser, fed through real web streams.
import { describe, expect, it } from 'vitest'
import { encode, EventStreamParser, ProtocolError, type ParsedEvent } from './index.js'
import { eventsOf, traceOf } from './testing/parse-all-ways.js'

const encoder = new TextEncoder()

/** A small deterministic PRNG (mulberry32), so a failing split can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits `bytes` at random points into chunks of 0 to 40 bytes. */
function randomSplit(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = []
  let at = 0
  while (at < bytes.length) {
    const size = Math.floor(random() * 41)
    chunks.push(bytes.subarray(at, at + size))
    at += size
  }
  return chunks
}

function sourceOf<T>(chunks: readonly T[]): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      controller.close()
    },
  })
}

/** Reads `stream` to its end, or to its error. */
async function drain<T>(stream: ReadableStream<T>): Promise<{ values: T[]; error: unknown }> {
  const reader = stream.getReader()
  const values: T[] = []
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { values, error: undefined }
      values.push(value)
    }
  } catch (error) {
    return { values, error }
  }
}

const sampleStream = [
  encode({ comment: 'hello' }),
  encode({ id: '1', event: 'update', data: '{"n":1}' }),
  encode({ data: 'multi\nline\r\ndata \u00e9\u{1f600}' }),
  encode({ retry: 2500 }),
  encode({ id: '2', data: '\u4e2d\u6587' }),
  'data: crlf\r\n\r\ndata: cr\r\r',
  encode({ id: '', data: 'reset' }),
].join('')

describe('EventStreamParser', () => {
  it('parses a ReadableStream of randomly split bytes into the same events as one feed', async () => {
    const bytes = encoder.encode(sampleStream)
    const expected = eventsOf(traceOf([bytes]))
    expect(expected).toHaveLength(6)
    for (let seed = 1; seed <= 25; seed++) {
      const { values, error } = await drain(sourceOf(randomSplit(bytes, prng(seed))).pipeThrough(new EventStreamParser()))
      expect(error, `seed ${seed}`).toBeUndefined()
      expect(values, `seed ${seed}`).toStrictEqual(expected)
    }
  })

  it('parses string chunks too, as a TextDecoderStream would give', async () => {
    const chunks = sampleStream.match(/[\s\S]{1,7}/g) ?? []
    const { values } = await drain(sourceOf(chunks).pipeThrough(new EventStreamParser()))
    expect(values.map((e) => e.data)).toStrictEqual(eventsOf(traceOf([sampleStream])).map((e) => e.data))
  })

  it('parses a fetch Response body', async () => {
    const response = new Response(encoder.encode('id: 9\nevent: ping\ndata: pong\n\n'))
    const { values } = await drain((response.body as ReadableStream<Uint8Array>).pipeThrough(new EventStreamParser()))
    expect(values).toStrictEqual([{ type: 'ping', data: 'pong', lastEventId: '9', id: '9' }])
  })

  it('passes retry, comments and last event ID changes to the optional callbacks', async () => {
    const seen: string[] = []
    const parser = new EventStreamParser({
      onRetry: (ms) => seen.push(`retry ${ms}`),
      onComment: (text) => seen.push(`comment ${text}`),
      onLastEventId: (id) => seen.push(`id ${id}`),
    })
    const { values } = await drain(sourceOf([': hi\nretry: 10\nid: 3\n\ndata: x\n\n']).pipeThrough(parser))
    expect(seen).toStrictEqual(['comment hi', 'retry 10', 'id 3'])
    expect(values).toStrictEqual([{ type: 'message', data: 'x', lastEventId: '3', id: undefined }])
  })

  it('drops an incomplete last event at flush', async () => {
    const { values, error } = await drain(sourceOf(['data: a\n\ndata: b\n', 'id: 4\ndata: c']).pipeThrough(new EventStreamParser()))
    expect(error).toBeUndefined()
    expect(values.map((e) => e.data)).toStrictEqual(['a'])
  })

  it('errors the stream with ERR_PROTOCOL_BUFFER_OVERFLOW by default (onError: "terminate")', async () => {
    for (const options of [{ maxBufferBytes: 16 }, { maxBufferBytes: 16, onError: 'terminate' as const }]) {
      const chunks = ['data: a\n\n', `data: ${'x'.repeat(20)}\n\n`, 'data: b\n\n']
      const { values, error } = await drain(sourceOf(chunks).pipeThrough(new EventStreamParser(options)))
      expect(values.map((e) => e.data)).toStrictEqual(['a'])
      expect(error).toBeInstanceOf(ProtocolError)
      expect(error).toMatchObject({ code: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
    }
  })

  it('keeps the stream going when onError is a function, which receives the error', async () => {
    const errors: ProtocolError[] = []
    const parser = new EventStreamParser({ maxBufferBytes: 16, onError: (error) => errors.push(error) })
    const chunks = ['data: a\n\n', `data: ${'x'.repeat(20)}\n\n`, 'data: b\n\n']
    const { values, error } = await drain(sourceOf(chunks).pipeThrough(parser))
    expect(error).toBeUndefined()
    // The parser stays silent after the overflow, until the stream ends.
    expect(values.map((e) => e.data)).toStrictEqual(['a'])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ name: 'ProtocolError', code: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
  })

  it('errors the stream with ERR_PROTOCOL_INVALID_CHUNK for a chunk that is neither bytes nor text', async () => {
    const { values, error } = await drain(sourceOf<unknown>(['data: a\n\n', 42]).pipeThrough(new EventStreamParser() as unknown as TransformStream<unknown, ParsedEvent>))
    expect(values.map((e) => e.data)).toStrictEqual(['a'])
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_CHUNK' })
  })

  it('throws ERR_PROTOCOL_INVALID_OPTION at construction for an invalid maxBufferBytes', () => {
    expect(() => new EventStreamParser({ maxBufferBytes: -1 })).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_INVALID_OPTION' }))
  })

  it('throws ERR_PROTOCOL_INVALID_OPTION at construction for an onError that is neither "terminate" nor a function', () => {
    for (const onError of ['ignore', 'Terminate', 42, null]) {
      expect(() => new EventStreamParser({ onError: onError as 'terminate' }), String(onError)).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_OPTION' }),
      )
    }
  })

  it('throws ERR_PROTOCOL_INVALID_OPTION at construction for a callback option that is not a function', () => {
    for (const options of [{ onRetry: 5 }, { onComment: 'log' }, { onLastEventId: {} }]) {
      expect(() => new EventStreamParser(options as never), Object.keys(options)[0]).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_OPTION' }),
      )
    }
  })

  it('is a TransformStream with a writable and a readable side', () => {
    const parser = new EventStreamParser()
    expect(parser).toBeInstanceOf(TransformStream)
    expect(parser.writable).toBeInstanceOf(WritableStream)
    expect(parser.readable).toBeInstanceOf(ReadableStream)
  })
})
