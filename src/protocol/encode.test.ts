// Tests of encode and encodeBytes: the exact text written, the validation errors, and that what is written reads back
// through createParser as the same event.
import { describe, expect, it } from 'vitest'
import { encode, encodeBytes, ProtocolError, type EncodableEvent, type ProtocolErrorCode } from './index.js'
import { message, parseAllWays } from './testing/parse-all-ways.js'

/** Asserts that `fn` throws a ProtocolError with `code`. */
function expectCode(fn: () => unknown, code: ProtocolErrorCode): void {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(ProtocolError)
  expect(thrown).toMatchObject({ name: 'ProtocolError', code })
}

describe('encode', () => {
  it('writes the example of the design document', () => {
    expect(encode({ id: '42', event: 'update', data: 'a\nb', retry: 3000 })).toBe('id: 42\nevent: update\ndata: a\ndata: b\nretry: 3000\n\n')
  })

  it('writes one data line, ending the event with a blank line', () => {
    expect(encode({ data: 'hello' })).toBe('data: hello\n\n')
    expect(parseAllWays(encode({ data: 'hello' }))).toStrictEqual([message('hello')])
  })

  it('writes an empty data as "data:", which still dispatches an event', () => {
    expect(encode({ data: '' })).toBe('data:\n\n')
    expect(parseAllWays(encode({ data: '' }))).toStrictEqual([message('')])
  })

  it('writes an event with no field as a lone blank line', () => {
    expect(encode({})).toBe('\n')
  })

  it('splits multi-line data on LF, CR and CRLF into several data: lines', () => {
    expect(encode({ data: 'a\nb' })).toBe('data: a\ndata: b\n\n')
    expect(encode({ data: 'a\rb' })).toBe('data: a\ndata: b\n\n')
    expect(encode({ data: 'a\r\nb' })).toBe('data: a\ndata: b\n\n')
    expect(encode({ data: 'a\r\n\nb\r\rc' })).toBe('data: a\ndata:\ndata: b\ndata:\ndata: c\n\n')
  })

  it('keeps empty lines at the start and the end of the data', () => {
    expect(encode({ data: '\n' })).toBe('data:\ndata:\n\n')
    expect(encode({ data: '\na\n' })).toBe('data:\ndata: a\ndata:\n\n')
    expect(encode({ data: 'a\r\n' })).toBe('data: a\ndata:\n\n')
    expect(encode({ data: '\r' })).toBe('data:\ndata:\n\n')
  })

  it('reads multi-line data back with every line end as LF', () => {
    const cases: [string, string][] = [
      ['a\nb', 'a\nb'],
      ['a\rb', 'a\nb'],
      ['a\r\nb', 'a\nb'],
      ['\n', '\n'],
      ['a\r\n\r\n', 'a\n\n'],
      ['\r\r\n\n', '\n\n\n'],
    ]
    for (const [data, read] of cases) expect(parseAllWays(encode({ data })), JSON.stringify(data)).toStrictEqual([message(read)])
  })

  it('keeps leading spaces, colons and unicode in values, which read back unchanged', () => {
    const event = { id: ' 1:2', event: ' a:b', data: '  x: y \u00e9\u{1f600}\0' }
    expect(encode(event)).toBe('id:  1:2\nevent:  a:b\ndata:   x: y \u00e9\u{1f600}\0\n\n')
    expect(parseAllWays(encode(event))).toStrictEqual([
      { lastEventId: ' 1:2' },
      message('  x: y \u00e9\u{1f600}\0', { type: ' a:b', lastEventId: ' 1:2', id: ' 1:2' }),
    ])
  })

  it('writes a comment as one ":" line per line of text, before every field', () => {
    expect(encode({ comment: 'keep-alive' })).toBe(': keep-alive\n\n')
    expect(encode({ comment: '' })).toBe(':\n\n')
    expect(encode({ comment: 'a\nb\r\nc\rd' })).toBe(': a\n: b\n: c\n: d\n\n')
    expect(encode({ comment: 'a\n', data: 'x' })).toBe(': a\n:\ndata: x\n\n')
  })

  it('writes comments that read back line by line and dispatch nothing on their own', () => {
    expect(parseAllWays(encode({ comment: 'one\r\n two\n' }))).toStrictEqual([{ comment: 'one' }, { comment: ' two' }, { comment: '' }])
  })

  it('writes the fields in the order comment, id, event, data, retry, whatever the key order', () => {
    const event: EncodableEvent = { retry: 5, data: 'd', event: 'e', id: 'i', comment: 'c' }
    expect(encode(event)).toBe(': c\nid: i\nevent: e\ndata: d\nretry: 5\n\n')
  })

  it('writes an empty id as a bare "id" line, which resets the last event ID', () => {
    expect(encode({ id: '' })).toBe('id\n\n')
    expect(parseAllWays(encode({ id: '1', data: 'a' }) + encode({ id: '', data: 'b' }))).toStrictEqual([
      { lastEventId: '1' },
      message('a', { lastEventId: '1', id: '1' }),
      { lastEventId: '' },
      message('b', { id: '' }),
    ])
  })

  it('writes an id without data, which sets the last event ID and dispatches nothing', () => {
    expect(encode({ id: '7' })).toBe('id: 7\n\n')
    expect(parseAllWays(encode({ id: '7' }))).toStrictEqual([{ lastEventId: '7' }])
  })

  it('writes an empty event type, which reads back as "message"', () => {
    expect(parseAllWays(encode({ event: '', data: 'x' }))).toStrictEqual([message('x')])
  })

  it('writes retry as whole milliseconds, 0 included', () => {
    expect(encode({ retry: 0 })).toBe('retry: 0\n\n')
    expect(encode({ retry: Number.MAX_SAFE_INTEGER })).toBe(`retry: ${Number.MAX_SAFE_INTEGER}\n\n`)
    expect(parseAllWays(encode({ retry: 3000 }))).toStrictEqual([{ retry: 3000 }])
  })

  it('allows NULL in event types and data, which the stream carries', () => {
    expect(encode({ event: 'a\0b', data: '\0' })).toBe('event: a\0b\ndata: \0\n\n')
  })
})

describe('encode validation', () => {
  it('throws ERR_PROTOCOL_INVALID_ID for an id with CR, LF or NULL', () => {
    for (const id of ['a\nb', 'a\rb', 'a\r\nb', '\n', 'a\0', '\0']) {
      expectCode(() => encode({ id, data: 'x' }), 'ERR_PROTOCOL_INVALID_ID')
    }
  })

  it('throws ERR_PROTOCOL_INVALID_EVENT for an event type with CR or LF', () => {
    for (const event of ['a\nb', 'a\rb', '\r\n']) expectCode(() => encode({ event, data: 'x' }), 'ERR_PROTOCOL_INVALID_EVENT')
  })

  it('throws ERR_PROTOCOL_INVALID_RETRY for a retry that is not a non-negative safe integer', () => {
    const bad: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -0.5, '5', null, 5n]
    for (const retry of bad) expectCode(() => encode({ retry: retry as number }), 'ERR_PROTOCOL_INVALID_RETRY')
  })

  it('throws ERR_PROTOCOL_INVALID_FIELD for a field of the wrong type', () => {
    const bad: unknown[] = [
      { data: 5 },
      { data: null },
      { data: { text: 'x' } },
      { comment: 1 },
      { id: 1 },
      { id: null },
      { event: true },
      { event: Symbol('e') },
    ]
    for (const event of bad) expectCode(() => encode(event as EncodableEvent), 'ERR_PROTOCOL_INVALID_FIELD')
    expect(() => encode({ data: null } as unknown as EncodableEvent)).toThrow(/data field must be a string, not null/)
    expect(() => encode({ id: 1 } as unknown as EncodableEvent)).toThrow(/id field must be a string, not number/)
  })

  it('throws before anything is produced, even when the bad field comes last', () => {
    let written = 'nothing'
    expectCode(() => (written = encode({ comment: 'c', id: '1', event: 'e', data: 'd', retry: -1 })), 'ERR_PROTOCOL_INVALID_RETRY')
    expectCode(() => (written = encode({ comment: 'c', data: 'd', id: 'a\nb' })), 'ERR_PROTOCOL_INVALID_ID')
    expect(written).toBe('nothing')
    let bytes: Uint8Array | undefined
    expectCode(() => (bytes = encodeBytes({ data: 'd', event: 'a\rb' })), 'ERR_PROTOCOL_INVALID_EVENT')
    expect(bytes).toBeUndefined()
  })

  it('puts the offending value in the message', () => {
    expect(() => encode({ id: 'a\nb' })).toThrow('"a\\nb"')
    expect(() => encode({ event: 'a\rb' })).toThrow('"a\\rb"')
    expect(() => encode({ retry: -1 })).toThrow('-1')
  })
})

describe('encodeBytes', () => {
  const samples: EncodableEvent[] = [
    {},
    { data: 'tick' },
    { id: '42', event: 'update', data: 'a\nb', retry: 3000, comment: 'c' },
    { data: '\u00fcn\u00efc\u00f6d\u00e9 \u2713 \u{1f600} \u4e2d\u6587\r\n\0' },
    { id: '\u{1f600}', event: '\u00e9v\u00e9nement', data: '' },
  ]

  it('returns the UTF-8 bytes of encode()', () => {
    for (const event of samples) {
      const bytes = encodeBytes(event)
      expect(bytes).toBeInstanceOf(Uint8Array)
      expect(Array.from(bytes)).toStrictEqual(Array.from(new TextEncoder().encode(encode(event))))
      expect(new TextDecoder().decode(bytes)).toBe(encode(event))
    }
  })

  it('throws the same errors as encode()', () => {
    expectCode(() => encodeBytes({ id: '\0' }), 'ERR_PROTOCOL_INVALID_ID')
    expectCode(() => encodeBytes({ retry: 1.5 }), 'ERR_PROTOCOL_INVALID_RETRY')
    expectCode(() => encodeBytes({ data: 1 } as unknown as EncodableEvent), 'ERR_PROTOCOL_INVALID_FIELD')
  })

  it('writes bytes that read back as the event', () => {
    expect(parseAllWays(encodeBytes({ id: '\u{1f600}', event: '\u00e9', data: '\u4e2d\n\u6587' }))).toStrictEqual([
      { lastEventId: '\u{1f600}' },
      message('\u4e2d\n\u6587', { type: '\u00e9', lastEventId: '\u{1f600}', id: '\u{1f600}' }),
    ])
  })
})
