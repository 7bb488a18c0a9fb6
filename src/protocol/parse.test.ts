// Tests of createParser. `[spec]` tests check one sentence of the WHATWG HTML standard, "9.2.5 Parsing an event
// stream" and "9.2.6 Interpreting an event stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// quoted above each test; several cases come from the web-platform-tests `eventsource/` directory. `[non-spec]` tests
// check Herald's extensions. Every `parseAllWays` input is also fed split in two at every point (as bytes and as
// strings), one byte at a time and one code unit at a time, and must give the same callbacks each way.
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createParser, DEFAULT_MAX_BUFFER_BYTES, HeraldError, ProtocolError, type ParsedEvent, type ParserCallbacks } from './index.js'
import { message, parseAllWays, parseStreamsAllWays, traceOf, type Trace } from './testing/parse-all-ways.js'

const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const out: number[] = []
  for (const part of parts) out.push(...(typeof part === 'string' ? new TextEncoder().encode(part) : part))
  return Uint8Array.from(out)
}

/** A parser whose callbacks append to a trace, for tests that drive feed/end/reset by hand. */
function recorder(options?: Parameters<typeof createParser>[1]) {
  const trace: Trace = []
  const errors: ProtocolError[] = []
  const callbacks: ParserCallbacks = {
    onEvent: (e) => trace.push({ event: { type: e.type, data: e.data, lastEventId: e.lastEventId, id: e.id } }),
    onRetry: (ms) => trace.push({ retry: ms }),
    onComment: (text) => trace.push({ comment: text }),
    onLastEventId: (id) => trace.push({ lastEventId: id }),
    onError: (error) => {
      errors.push(error)
      trace.push({ error: error.code })
    },
  }
  return { parser: createParser(callbacks, options), trace, errors }
}

describe('[spec] line ends', () => {
  // 9.2.6: "The stream must then be parsed by reading everything line by line, with a U+000D CARRIAGE RETURN U+000A
  // LINE FEED (CRLF) character pair, a single U+000A LINE FEED (LF) character not preceded by a U+000D CARRIAGE RETURN
  // (CR) character, and a single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF)
  // character being the ways in which a line can end."
  it('[spec] ends a line with LF', () => {
    expect(parseAllWays('data: a\ndata: b\n\n')).toStrictEqual([message('a\nb')])
  })

  it('[spec] ends a line with CRLF', () => {
    expect(parseAllWays('data: a\r\ndata: b\r\n\r\n')).toStrictEqual([message('a\nb')])
  })

  it('[spec] ends a line with a lone CR', () => {
    expect(parseAllWays('data: a\rdata: b\r\r')).toStrictEqual([message('a\nb')])
  })

  it('[spec] takes CR CR as two line ends (a line, then a blank line)', () => {
    expect(parseAllWays('data: a\r\rdata: b\r\r')).toStrictEqual([message('a'), message('b')])
  })

  it('[spec] takes LF CR as two line ends, and CR CRLF as two line ends', () => {
    expect(parseAllWays('data: a\n\rdata: b\r\r\n')).toStrictEqual([message('a'), message('b')])
  })

  it('[spec] mixes the three line ends in one stream', () => {
    expect(parseAllWays('data: a\rdata: b\r\ndata: c\n\r\nevent: x\rdata: d\n\r')).toStrictEqual([
      message('a\nb\nc'),
      message('d', { type: 'x' }),
    ])
  })

  it('[spec] joins a CR that ends one chunk and an LF that starts the next into one CRLF', () => {
    const chunks = ['data: a\r', '\ndata: b\r', '\n\r', '\n']
    expect(parseAllWays(chunks.join(''))).toStrictEqual([message('a\nb')])
    expect(traceOf(chunks)).toStrictEqual([message('a\nb')])
    expect(traceOf(chunks.map((c) => bytes(c)))).toStrictEqual([message('a\nb')])
    // An empty chunk between the CR and the LF changes nothing.
    expect(traceOf(['data: a\r', '', new Uint8Array(0), '\n\r', '', '\n'])).toStrictEqual([message('a')])
  })

  it('[spec] takes a CR at the end of one chunk and a CR at the start of the next as two line ends', () => {
    expect(parseAllWays('data: a\r\rdata: b\r\r')).toStrictEqual([message('a'), message('b')])
    expect(traceOf(['data: a\r', '\rdata: b\r', '\r'])).toStrictEqual([message('a'), message('b')])
  })

  // 9.2.5: "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a
  // single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR) character."
  it('[spec] reads the comment-fest stream of web-platform-tests (every line end, NULL, long comments)', () => {
    const long = 'x'.repeat(300)
    const stream = `data:1\r:\0\n:\r\ndata:2\n:${long}\rdata:3\n:data:fail\r:${long}\ndata:4\n\n`
    expect(parseAllWays(stream).filter((entry) => 'event' in entry)).toStrictEqual([message('1\n2\n3\n4')])
  })
})

describe('[spec] fields', () => {
  // 9.2.6: "If the line contains a U+003A COLON character (:) / Collect the characters on the line before the first
  // U+003A COLON character (:), and let field be that string."
  it('[spec] splits a field at the first colon only', () => {
    expect(parseAllWays('data: a:b: c\n\n')).toStrictEqual([message('a:b: c')])
    expect(parseAllWays('data::\n\n')).toStrictEqual([message(':')])
  })

  // 9.2.6: "Collect the characters on the line after the first U+003A COLON character (:), and let value be that
  // string. If value starts with a U+0020 SPACE character, remove it from value."
  it('[spec] removes exactly one leading space from the value', () => {
    expect(parseAllWays('data:  two spaces\n\n')).toStrictEqual([message(' two spaces')])
    expect(parseAllWays('data:none\n\n')).toStrictEqual([message('none')])
    expect(parseAllWays('data: \n\n')).toStrictEqual([message('')])
    expect(parseAllWays('data:  \n\n')).toStrictEqual([message(' ')])
    expect(parseAllWays('data: trailing \n\n')).toStrictEqual([message('trailing ')])
  })

  it('[spec] removes a space only, not a tab or another blank', () => {
    expect(parseAllWays('data:\tx\n\ndata:\u00a0y\n\n')).toStrictEqual([message('\tx'), message('\u00a0y')])
  })

  it('[spec] removes one leading space from event and id values too', () => {
    expect(parseAllWays('event:  add\nid:  7\ndata: x\n\n')).toStrictEqual([
      { lastEventId: ' 7' },
      message('x', { type: ' add', lastEventId: ' 7', id: ' 7' }),
    ])
  })

  // 9.2.6 example: "The following stream fires two identical events: data:test / data: test / This is because the
  // space after the colon is ignored if present."
  it('[spec] fires two identical events for "data:test" and "data: test"', () => {
    expect(parseAllWays('data:test\n\ndata: test\n\n')).toStrictEqual([message('test'), message('test')])
  })

  // 9.2.6: "Otherwise, the string is not empty but does not contain a U+003A COLON character (:) / Process the field
  // using the steps described below, using the whole line as the field name, and the empty string as the field
  // value."
  it('[spec] reads a line without a colon as a field with an empty value', () => {
    expect(parseAllWays('data\n\n')).toStrictEqual([message('')])
    expect(parseAllWays('event\ndata\ndata\n\n')).toStrictEqual([message('\n')])
    expect(parseAllWays('id: 3\n\nid\ndata: x\n\n')).toStrictEqual([
      { lastEventId: '3' },
      { lastEventId: '' },
      message('x', { id: '' }),
    ])
    // A "retry" line without a colon has an empty value: not only digits, so ignored.
    expect(parseAllWays('retry\ndata: x\n\n')).toStrictEqual([message('x')])
  })

  // 9.2.6 example: "The following stream fires two events: data / (blank) / data / data / (blank) / data: … The first
  // block fires events with the data set to the empty string, as would the last block if it was followed by a blank
  // line. The middle block fires an event with the data set to a single newline character. The last block is
  // discarded because it is not followed by a blank line."
  it('[spec] reads the "fires two events" example of the standard', () => {
    expect(parseAllWays('data\n\ndata\ndata\n\ndata:')).toStrictEqual([message(''), message('\n')])
  })

  // 9.2.6: "The steps to process the field given a field name and a field value depend on the field name, as given in
  // the following list. Field names must be compared literally, with no case folding performed."
  it('[spec] compares field names literally, with no case folding or trimming', () => {
    const stream = 'Data: a\nDATA: b\n data: c\ndata : d\nEvent: e\nID: 1\nRetry: 5\ndata\u0000: f\n\n'
    expect(parseAllWays(stream)).toStrictEqual([])
  })

  // 9.2.6: "Otherwise / The field is ignored."
  it('[spec] ignores unknown fields', () => {
    const unknown = 'foo: bar\nbaz\nda: y\ndatum: z\ndatb: z\nevents: q\nevens: q\nids: 9\nix: 9\nretrying: 1\nretro: 1\nabcde: 1\n'
    expect(parseAllWays(`${unknown}data: x\n${unknown}\n`)).toStrictEqual([
      message('x'),
    ])
    expect(parseAllWays('foo: bar\n\n')).toStrictEqual([])
  })
})

describe('[spec] data buffer and dispatch', () => {
  // 9.2.6: "If the field name is "data" / Append the field value to the data buffer, then append a single U+000A LINE
  // FEED (LF) character to the data buffer." Dispatch step 3: "If the data buffer's last character is a U+000A LINE
  // FEED (LF) character, then remove the last character from the data buffer."
  it('[spec] joins data lines with LF and removes one trailing LF', () => {
    expect(parseAllWays('data: YHOO\ndata: +2\ndata: 10\n\n')).toStrictEqual([message('YHOO\n+2\n10')])
    expect(parseAllWays('data: a\ndata:\ndata: b\n\n')).toStrictEqual([message('a\n\nb')])
    expect(parseAllWays('data: a\ndata:\n\n')).toStrictEqual([message('a\n')])
    expect(parseAllWays('data:\ndata: a\n\n')).toStrictEqual([message('\na')])
  })

  it('[spec] keeps other fields and comments between data lines out of the data', () => {
    expect(parseAllWays('data: a\n: note\nid: 1\nfoo\ndata: b\n\n')).toStrictEqual([
      { comment: 'note' },
      { lastEventId: '1' },
      message('a\nb', { lastEventId: '1', id: '1' }),
    ])
  })

  it('[spec] keeps NULL and other control characters in data (web-platform-tests format-null-character)', () => {
    expect(parseAllWays('data:\0\n\ndata: \u0001\u001f\u007f\n\n')).toStrictEqual([message('\0'), message('\u0001\u001f\u007f')])
  })

  // Dispatch step 2: "If the data buffer is an empty string, set the data buffer and the event type buffer to the
  // empty string and return."
  it('[spec] dispatches nothing when the block had no data field', () => {
    expect(parseAllWays('event: add\n\n\n\n: c\n\nfoo: 1\n\n')).toStrictEqual([{ comment: 'c' }])
  })

  it('[spec] dispatches an event for a data field with an empty value', () => {
    expect(parseAllWays('data:\n\n')).toStrictEqual([message('')])
    expect(parseAllWays('data\r\n\r\n')).toStrictEqual([message('')])
  })

  // 9.2.6: "If the line is empty (a blank line) / Dispatch the event, as defined below."
  it('[spec] dispatches on each blank line, and only then', () => {
    expect(parseAllWays('data: 1\n\ndata: 2\n\n\n\ndata: 3\n\n')).toStrictEqual([message('1'), message('2'), message('3')])
  })

  // 9.2.6: "If the field name is "event" / Set the event type buffer to the field value." Dispatch step 6: "If the
  // event type buffer has a value other than the empty string, change the type of the newly created event to equal
  // the value of the event type buffer." Step 7: "Set the data buffer and the event type buffer to the empty string."
  it('[spec] sets the type from the event field and resets it after each dispatch', () => {
    expect(parseAllWays('event: add\ndata: 1\n\ndata: 2\n\n')).toStrictEqual([message('1', { type: 'add' }), message('2')])
  })

  it('[spec] resets the event type after a dispatch without data too', () => {
    expect(parseAllWays('event: add\n\ndata: 2\n\n')).toStrictEqual([message('2')])
  })

  it('[spec] keeps the last event field of a block, and takes an empty one as "message"', () => {
    expect(parseAllWays('event: a\nevent: b\ndata: x\n\n')).toStrictEqual([message('x', { type: 'b' })])
    expect(parseAllWays('event: a\nevent:\ndata: x\n\n')).toStrictEqual([message('x')])
    // web-platform-tests format-field-event-empty: "event: " then data.
    expect(parseAllWays('event: \ndata:data\n\n')).toStrictEqual([message('data')])
  })

  it('[spec] takes an event type with any characters but line ends, colons included', () => {
    expect(parseAllWays('event: a:b \u00e9\u{1f600}\0\ndata: x\n\n')).toStrictEqual([message('x', { type: 'a:b \u00e9\u{1f600}\0' })])
  })
})

describe('[spec] last event ID', () => {
  // 9.2.6: "If the field name is "id" / If the field value does not contain U+0000 NULL, then set the last event ID
  // buffer to the field value. Otherwise, ignore the field."
  it('[spec] ignores an id field that contains NULL', () => {
    expect(parseAllWays('id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\ndata: c\n\n')).toStrictEqual([
      { lastEventId: '1' },
      message('a', { lastEventId: '1', id: '1' }),
      message('b', { lastEventId: '1' }),
      message('c', { lastEventId: '1' }),
    ])
  })

  // Dispatch step 1: "Set the last event ID string of the event source to the value of the last event ID buffer. The
  // buffer does not get reset, so the last event ID string of the event source remains set to this value until the
  // next time it is set by the server."
  it('[spec] keeps the last event ID across events until another id field', () => {
    expect(parseAllWays('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n')).toStrictEqual([
      { lastEventId: '1' },
      message('a', { lastEventId: '1', id: '1' }),
      message('b', { lastEventId: '1' }),
      { lastEventId: '2' },
      message('c', { lastEventId: '2', id: '2' }),
    ])
  })

  it('[spec] resets the last event ID with an empty id field ("id", "id:" and "id: ")', () => {
    for (const reset of ['id', 'id:', 'id: ']) {
      expect(parseAllWays(`id: 1\ndata: a\n\n${reset}\ndata: b\n\n`), reset).toStrictEqual([
        { lastEventId: '1' },
        message('a', { lastEventId: '1', id: '1' }),
        { lastEventId: '' },
        message('b', { id: '' }),
      ])
    }
  })

  it('[spec] applies an id field that follows the data in the same block', () => {
    expect(parseAllWays('data: a\nid: 5\n\n')).toStrictEqual([{ lastEventId: '5' }, message('a', { lastEventId: '5', id: '5' })])
  })

  it('[spec] keeps the last of several id fields in a block', () => {
    expect(parseAllWays('id: 1\nid: 2\ndata: a\n\n')).toStrictEqual([{ lastEventId: '2' }, message('a', { lastEventId: '2', id: '2' })])
  })

  // 9.2.6: "If an event doesn't have an "id" field, but an earlier event did set the event source's last event ID
  // string, then the event's lastEventId field will be set to the value of whatever the last seen "id" field was."
  it('[spec] sets the last event ID from a block without data; lastEventId persists while id is per block', () => {
    expect(parseAllWays('id: 7\n\ndata: a\n\nid: 8\n: only a comment and an id\n\ndata: b\n\n')).toStrictEqual([
      { lastEventId: '7' },
      message('a', { lastEventId: '7' }),
      { comment: 'only a comment and an id' },
      { lastEventId: '8' },
      message('b', { lastEventId: '8' }),
    ])
  })

  // 9.2.6 example: ": test stream / data: first event / id: 1 / data:second event / id / data:  third event" — "The
  // third block fires an event with data "second event", and also has an "id" field, this time with no value, which
  // resets the last event ID to the empty string … the last block just fires an event with the data " third event"
  // (with a single leading space character)."
  it('[spec] reads the four-block example of the standard', () => {
    const stream = ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n'
    expect(parseAllWays(stream)).toStrictEqual([
      { comment: 'test stream' },
      { lastEventId: '1' },
      message('first event', { lastEventId: '1', id: '1' }),
      { lastEventId: '' },
      message('second event', { id: '' }),
      message(' third event'),
    ])
  })

  it('[non-spec] calls onLastEventId only when the last event ID changes, before the event', () => {
    const order: string[] = []
    const parser = createParser({
      onEvent: (e) => order.push(`event ${e.data} ${e.lastEventId}`),
      onLastEventId: (id) => order.push(`id ${id}`),
    })
    parser.feed('id: 1\ndata: a\n\nid: 1\ndata: b\n\nid: 2\n\nid: 2\n\n')
    expect(order).toStrictEqual(['id 1', 'event a 1', 'event b 1', 'id 2'])
  })

  it('[non-spec] takes ids with any characters but CR, LF and NULL, unicode included', () => {
    expect(parseAllWays('id: a:b \u00e9\u{1f600}\ndata: x\n\n')).toStrictEqual([
      { lastEventId: 'a:b \u00e9\u{1f600}' },
      message('x', { lastEventId: 'a:b \u00e9\u{1f600}', id: 'a:b \u00e9\u{1f600}' }),
    ])
  })
})

describe('[spec] retry', () => {
  // 9.2.6: "If the field name is "retry" / If the field value consists of only ASCII digits, then interpret the field
  // value as an integer in base ten, and set the event stream's reconnection time to that integer. Otherwise, ignore
  // the field."
  it('[spec] reports a retry field made only of ASCII digits, in base ten', () => {
    expect(parseAllWays('retry: 1000\nretry:2500\nretry: 007\nretry: 0\n')).toStrictEqual([
      { retry: 1000 },
      { retry: 2500 },
      { retry: 7 },
      { retry: 0 },
    ])
  })

  it('[spec] ignores a retry field with anything but ASCII digits, or none', () => {
    const bogus = ['1a', '-1', '1.5', '', ' 5', '5 ', '+5', '1e3', '0x10', '\u0661', '\uff15', '10\0', '1_000', 'Infinity']
    expect(parseAllWays(bogus.map((value) => `retry: ${value}\n`).join('') + 'retry\nretry:\n')).toStrictEqual([])
  })

  // web-platform-tests format-field-retry-bogus: "retry:2000\nretry:1000x\ndata:x" keeps 2000.
  it('[spec] keeps the previous reconnection time when a bogus retry follows a valid one', () => {
    expect(parseAllWays('retry:2000\nretry:1000x\ndata:x\n\n')).toStrictEqual([{ retry: 2000 }, message('x')])
  })

  it('[spec] neither dispatches nor blocks a dispatch because of retry', () => {
    expect(parseAllWays('retry: 10\n\ndata: a\nretry: 20\n\n')).toStrictEqual([{ retry: 10 }, { retry: 20 }, message('a')])
  })
})

describe('[spec] comments', () => {
  // 9.2.6: "If the line starts with a U+003A COLON character (:) / Ignore the line."
  it('[spec] ignores comment lines, reporting their text (one leading space removed) to onComment', () => {
    expect(parseAllWays(': hello\n:no space\n:  two\n:\n: a: b\n\n')).toStrictEqual([
      { comment: 'hello' },
      { comment: 'no space' },
      { comment: ' two' },
      { comment: '' },
      { comment: 'a: b' },
    ])
  })

  it('[spec] ignores a comment that looks like a field', () => {
    expect(parseAllWays(':data: no\ndata: yes\n:id: 4\n\n')).toStrictEqual([
      { comment: 'data: no' },
      { comment: 'id: 4' },
      message('yes'),
    ])
  })

  it('[spec] ignores comments without an onComment callback', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed(': keep-alive\n\ndata: x\n\n')
    expect(events.map((e) => e.data)).toStrictEqual(['x'])
  })
})

describe('[spec] end of the stream', () => {
  // 9.2.6: "Once the end of the file is reached, any pending data must be discarded. (If the file ends in the middle
  // of an event, before the final empty line, the incomplete event is not dispatched.)"
  it('[spec] discards an incomplete event at end()', () => {
    expect(parseAllWays('data: a\n\ndata: b')).toStrictEqual([message('a')])
    expect(parseAllWays('data: a\n\ndata: b\n')).toStrictEqual([message('a')])
    expect(parseAllWays('data: a\n\nid: 9\nevent: e\ndata: b\r')).toStrictEqual([message('a')])
  })

  it('[spec] starts the next stream clean after end(): no data, type or id of the discarded event leaks', () => {
    expect(parseStreamsAllWays(['event: old\nid: 9\ndata: partial\n', 'data: fresh\n\n'])).toStrictEqual([message('fresh')])
  })

  it('[spec] drops an unfinished line and an unfinished UTF-8 sequence at end()', () => {
    expect(parseStreamsAllWays([bytes('data: a', [0xe2, 0x82]), '\ndata: b\n\n'])).toStrictEqual([message('b')])
  })

  it('[spec] drops a pending CR at end(), so an LF that starts the next stream is a line end', () => {
    expect(parseStreamsAllWays(['data: a\r', '\ndata: b\n\n'])).toStrictEqual([message('b')])
  })

  it('[spec] strips a BOM at the start of each stream, as each is decoded anew', () => {
    expect(parseStreamsAllWays(['\ufeffdata: a\n\n', bytes([0xef, 0xbb, 0xbf], 'data: b\n\n')])).toStrictEqual([message('a'), message('b')])
  })
})

describe('[spec] UTF-8 decoding', () => {
  // 9.2.6: "Streams must be decoded using the UTF-8 decode algorithm."
  it('[spec] decodes multi-byte UTF-8, whatever the chunk boundaries inside a sequence', () => {
    const text = 'data: \u00fcn\u00efc\u00f6d\u00e9 \u2713 \u{1f600} \u4e2d\u6587\n\n'
    expect(parseAllWays(bytes(text))).toStrictEqual([message('\u00fcn\u00efc\u00f6d\u00e9 \u2713 \u{1f600} \u4e2d\u6587')])
  })

  it('[spec] decodes a four-byte sequence fed one byte per chunk', () => {
    expect(traceOf([bytes('data: '), ...[0xf0, 0x9f, 0x98, 0x80].map((b) => Uint8Array.of(b)), bytes('\n\n')])).toStrictEqual([
      message('\u{1f600}'),
    ])
  })

  // web-platform-tests format-utf-8: "data:ok…" sent as UTF-8 under a windows-1252 charset still decodes as UTF-8.
  it('[spec] decodes as UTF-8 whatever the charset (web-platform-tests format-utf-8)', () => {
    expect(parseAllWays(bytes('data:ok', [0xe2, 0x80, 0xa6], '\n\n'))).toStrictEqual([message('ok\u2026')])
  })

  it('[spec] turns invalid sequences into U+FFFD, as the UTF-8 decode algorithm does', () => {
    const cases: [number[], string][] = [
      [[0xff], '\ufffd'], // never a UTF-8 byte
      [[0x80], '\ufffd'], // a lone continuation byte
      [[0xc0, 0xaf], '\ufffd\ufffd'], // an overlong encoding
      [[0xe2, 0x82], '\ufffd'], // a truncated sequence before the line end
      [[0xe2, 0x82, 0x41], '\ufffdA'], // a truncated sequence before ASCII
      [[0xed, 0xa0, 0x80], '\ufffd\ufffd\ufffd'], // an encoded surrogate
      [[0xf4, 0x90, 0x80, 0x80], '\ufffd\ufffd\ufffd\ufffd'], // past U+10FFFF
      [[0xe0, 0x80, 0x80], '\ufffd\ufffd\ufffd'], // an overlong three-byte form
      [[0xf0, 0x9f, 0x98], '\ufffd'], // a four-byte sequence cut short
      [[0xf0, 0x9f, 0x98, 0xe2, 0x9c, 0x93], '\ufffd\u2713'], // cut short, then a complete one
    ]
    for (const [invalid, expected] of cases) {
      expect(parseAllWays(bytes('data: ', invalid, '\n\n')), invalid.join(' ')).toStrictEqual([message(expected)])
    }
  })

  it('[spec] never lets invalid bytes hide a line end', () => {
    expect(parseAllWays(bytes('data: ', [0xe2], '\ndata: ', [0xf0, 0x9f], '\r\n\r\n'))).toStrictEqual([message('\ufffd\n\ufffd')])
  })
})

describe('[spec] byte order mark', () => {
  // 9.2.6: "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any." 9.2.5 (ABNF):
  // "stream = [ bom ] *event".
  it('[spec] drops one BOM at the very start of the stream', () => {
    expect(parseAllWays('\ufeffdata: a\n\n')).toStrictEqual([message('a')])
    expect(parseAllWays(bytes([0xef, 0xbb, 0xbf], 'data: a\n\n'))).toStrictEqual([message('a')])
    expect(parseAllWays('\ufeff\n')).toStrictEqual([])
  })

  // web-platform-tests format-bom-2: "%EF%BB%BF%EF%BB%BFdata:1 … data:2 … data:3" fires 2 (and 3), never 1.
  it('[spec] keeps a second BOM, which then makes the first line an unknown field', () => {
    expect(parseAllWays('\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3')).toStrictEqual([message('2')])
  })

  it('[spec] keeps a BOM that is not at the very start of the stream', () => {
    expect(parseAllWays('data: \ufeffa\n\n\ufeffdata: b\n\ndata: c\n\n')).toStrictEqual([message('\ufeffa'), message('c')])
    expect(parseAllWays('\n\ufeffdata: b\n\n')).toStrictEqual([])
  })
})

describe('[non-spec] maxBufferBytes', () => {
  it('[non-spec] defaults to 16 MiB', () => {
    expect(DEFAULT_MAX_BUFFER_BYTES).toBe(16 * 1024 * 1024)
    const { parser, trace } = recorder()
    parser.feed(`data: ${'x'.repeat(DEFAULT_MAX_BUFFER_BYTES - 6)}\n\n`)
    expect(trace).toHaveLength(1)
    parser.feed(`data: ${'x'.repeat(DEFAULT_MAX_BUFFER_BYTES)}`)
    expect(trace.slice(1)).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] accepts a line exactly as long as the bound and reports one longer line', () => {
    expect(parseAllWays('data:aaaaa\n\n', { maxBufferBytes: 10 })).toStrictEqual([message('aaaaa')])
    expect(parseAllWays('data: 1\n\ndata:aaaaaa\n\ndata: 2\n\n', { maxBufferBytes: 10 })).toStrictEqual([
      message('1'),
      { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' },
    ])
  })

  it('[non-spec] reports an unterminated line as soon as it outgrows the bound', () => {
    expect(parseAllWays('data: 1\n\n: a long comment without a line end', { maxBufferBytes: 10 })).toStrictEqual([
      message('1'),
      { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' },
    ])
    const { parser, trace } = recorder({ maxBufferBytes: 10 })
    for (let i = 0; i < 10; i++) parser.feed('x')
    expect(trace).toStrictEqual([])
    parser.feed('x')
    expect(trace).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] reports an unterminated line fed as small byte chunks as soon as it outgrows the bound', () => {
    const { parser, trace } = recorder({ maxBufferBytes: 10 })
    for (let i = 0; i < 10; i++) parser.feed(bytes('x'))
    expect(trace).toStrictEqual([])
    parser.feed(bytes('x'))
    expect(trace).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] bounds one event\'s data, joining LFs included', () => {
    expect(parseAllWays('data:aaaaa\ndata:aaaa\n\n', { maxBufferBytes: 10 })).toStrictEqual([message('aaaaa\naaaa')])
    expect(parseAllWays('data:aaaaa\ndata:aaaa\n\ndata:aaaaa\ndata:aaaaa\n\n', { maxBufferBytes: 10 })).toStrictEqual([
      message('aaaaa\naaaa'),
      { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' },
    ])
    expect(parseAllWays('data\n'.repeat(12) + '\n', { maxBufferBytes: 10 })).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
    expect(parseAllWays('data:aaaaa\rdata:aaaaa\r\r', { maxBufferBytes: 10 })).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] measures the bound in UTF-16 code units of decoded text, not bytes', () => {
    // Ten code units, thirty bytes: within the bound.
    expect(parseAllWays(`data:${'\u4e2d'.repeat(5)}\n\n`, { maxBufferBytes: 10 })).toStrictEqual([message('\u4e2d'.repeat(5))])
  })

  it('[non-spec] reports the overflow as a ProtocolError to onError, and never throws', () => {
    const { parser, errors } = recorder({ maxBufferBytes: 4 })
    expect(() => parser.feed('data: too long\n\n')).not.toThrow()
    expect(errors).toHaveLength(1)
    const [error] = errors
    expect(error).toBeInstanceOf(ProtocolError)
    expect(error).toBeInstanceOf(HeraldError)
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
    expect(error?.message).toMatch(/maxBufferBytes \(4\)/)
    const silent = createParser({ onEvent: () => undefined }, { maxBufferBytes: 4 })
    expect(() => silent.feed('data: too long\n\n')).not.toThrow()
  })

  it('[non-spec] counts the bytes of an unfinished UTF-8 sequence towards the bound of the line they end', () => {
    // 'xxxxxxxx' then E0 80 80, three U+FFFD: eleven code units, one past the bound.
    const input = bytes('data: 1\n\nxxxxxxxx', [0xe0, 0x80, 0x80])
    expect(parseAllWays(input, { maxBufferBytes: 10 })).toStrictEqual([message('1'), { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
    const chunks = [bytes('data: 1\n\nxxxxxxxx', [0xe0]), Uint8Array.of(0x80), Uint8Array.of(0x80)]
    expect(traceOf(chunks, { maxBufferBytes: 10 })).toStrictEqual([message('1'), { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] reports nothing after a data overflow, not even the blank line that follows it', () => {
    expect(parseAllWays('id: 1\ndata:aaaaa\ndata:aaaaa\n\ndata: b\n\n', { maxBufferBytes: 10 })).toStrictEqual([
      { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' },
    ])
  })

  it('[non-spec] stays silent after an overflow, through end(), until reset()', () => {
    const { parser, trace } = recorder({ maxBufferBytes: 8 })
    parser.feed('id: 1\ndata: a\n\ndata: overflowing\n\n')
    parser.feed('data: b\n\n')
    parser.feed(bytes('data: c\n\n'))
    parser.end()
    parser.feed('data: d\n\n')
    expect(trace).toStrictEqual([{ lastEventId: '1' }, message('a', { lastEventId: '1', id: '1' }), { error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
    parser.reset()
    parser.feed('data: e\n\n')
    expect(trace.slice(3)).toStrictEqual([message('e')])
  })

  it('[non-spec] drops the event being built when its data overflows', () => {
    const { parser, trace } = recorder({ maxBufferBytes: 8 })
    parser.feed('data:aaa\ndata:aaa\ndata:aaa\n')
    parser.reset()
    parser.feed('\ndata: b\n\n')
    expect(trace).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }, message('b')])
  })

  it('[non-spec] takes null as no bound', () => {
    const big = 'x'.repeat(DEFAULT_MAX_BUFFER_BYTES + 1)
    const { parser, trace } = recorder({ maxBufferBytes: null })
    parser.feed(`data: ${big}\n\n`)
    expect(trace).toHaveLength(1)
    expect(trace[0]).toStrictEqual(message(big))
  })

  it('[non-spec] takes null as no bound for small byte chunks too', () => {
    expect(parseAllWays(`data: ${'\u00e9'.repeat(40)}\n\n`, { maxBufferBytes: null })).toStrictEqual([message('\u00e9'.repeat(40))])
  })

  it('[non-spec] takes 1 as the smallest bound', () => {
    expect(parseAllWays('d\n\ndata\n\n', { maxBufferBytes: 1 })).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
    expect(parseAllWays('\n\n:\n', { maxBufferBytes: 1 })).toStrictEqual([{ comment: '' }])
  })

  it('[non-spec] rejects an invalid maxBufferBytes at construction with ERR_PROTOCOL_INVALID_OPTION', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', {}, true]) {
      expect(() => createParser({ onEvent: () => undefined }, { maxBufferBytes: value as number }), inspect(value)).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_OPTION' }),
      )
    }
    expect(() => createParser({ onEvent: () => undefined }, { maxBufferBytes: '10' as unknown as number })).toThrow(/not "10"/)
    expect(() => createParser({ onEvent: () => undefined }, { maxBufferBytes: {} as unknown as number })).toThrow(/\[object Object\]/)
  })
})

describe('[non-spec] callbacks', () => {
  it('[non-spec] rejects callbacks that are not functions at construction with ERR_PROTOCOL_INVALID_OPTION', () => {
    const cases: unknown[] = [
      undefined,
      null,
      'onEvent',
      {},
      { onEvent: 'log' },
      { onEvent: () => undefined, onRetry: 5 },
      { onEvent: () => undefined, onComment: null },
      { onEvent: () => undefined, onLastEventId: {} },
      { onEvent: () => undefined, onError: true },
    ]
    for (const callbacks of cases) {
      expect(() => createParser(callbacks as ParserCallbacks), inspect(callbacks)).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_OPTION' }),
      )
    }
  })
})

describe('[non-spec] chunks', () => {
  it('[non-spec] throws ERR_PROTOCOL_INVALID_CHUNK for a chunk that is neither a Uint8Array nor a string', () => {
    const { parser, trace } = recorder()
    for (const chunk of [123, null, undefined, new ArrayBuffer(2), [100, 97], new DataView(new ArrayBuffer(1)), { length: 0 }]) {
      expect(() => parser.feed(chunk as unknown as string), Object.prototype.toString.call(chunk)).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL_INVALID_CHUNK' }),
      )
    }
    expect(() => parser.feed(null as unknown as string)).toThrow(/not null/)
    expect(() => parser.feed(123 as unknown as string)).toThrow(/not number/)
    // The parser is unharmed by a rejected chunk.
    parser.feed('data: still fine\n\n')
    expect(trace).toStrictEqual([message('still fine')])
  })

  it('[non-spec] takes any Uint8Array, Node Buffers and views into larger buffers included', () => {
    const backing = bytes('xxdata: a\n\nyy')
    expect(traceOf([backing.subarray(2, 12)])).toStrictEqual([message('a')])
    expect(traceOf([Buffer.from('data: b\n\n')])).toStrictEqual([message('b')])
  })

  it('[non-spec] mixes byte and string chunks in one stream', () => {
    expect(traceOf([bytes('data: a'), 'b', bytes('c\n'), '\n'])).toStrictEqual([message('abc')])
    expect(traceOf([bytes('data: \u00e9'), '\u00e8\n\n'])).toStrictEqual([message('\u00e9\u00e8')])
    // A CR ending a byte chunk and an LF starting a string chunk are one CRLF.
    expect(traceOf([bytes('data: a\r'), '\n\r', bytes('\n')])).toStrictEqual([message('a')])
  })

  it('[non-spec] turns a UTF-8 sequence left unfinished before a string chunk into U+FFFD', () => {
    expect(traceOf([bytes('data: ', [0xe2, 0x82]), 'x\n\n'])).toStrictEqual([message('\ufffdx')])
    expect(traceOf([bytes('data: ', [0xf0]), '', 'x\n\n'])).toStrictEqual([message('\ufffdx')])
  })

  it('[non-spec] drops a BOM only at the start, whether the stream starts with bytes or a string', () => {
    expect(traceOf([bytes([0xef, 0xbb]), bytes([0xbf], 'data: a\n\n')])).toStrictEqual([message('a')])
    expect(traceOf(['', '\ufeffdata: a\n\n'])).toStrictEqual([message('a')])
    expect(traceOf([bytes('data: a\n\n'), '\ufeffdata: b\n\n'])).toStrictEqual([message('a')])
  })

  it('[non-spec] joins small byte chunks without a line end to a large chunk that follows', () => {
    const large = 'y'.repeat(5000)
    const small = [bytes('data: '), bytes('\u00e9'.repeat(3)), bytes('x')]
    expect(traceOf([...small, bytes(`${large}\n\n`)])).toStrictEqual([message(`\u00e9\u00e9\u00e9x${large}`)])
    expect(traceOf([...small, bytes(large), bytes('\n\n')])).toStrictEqual([message(`\u00e9\u00e9\u00e9x${large}`)])
    expect(traceOf([...small, bytes('z\n\n')])).toStrictEqual([message('\u00e9\u00e9\u00e9xz')])
    expect(traceOf([...small, 'z\n\n'])).toStrictEqual([message('\u00e9\u00e9\u00e9xz')])
  })

  it('[non-spec] reports an overflow held in small byte chunks when a string chunk follows', () => {
    const trace = traceOf([bytes('data: '), bytes('x'.repeat(20)), bytes('x'), '\n\ndata: b\n\n'], { maxBufferBytes: 16 })
    expect(trace).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] finds a lone CR line end in a byte chunk of any size', () => {
    for (const size of [10, 100, 1000]) {
      const line = `data: ${'c'.repeat(size)}`
      expect(traceOf([bytes(`${line}\r\r`)]), String(size)).toStrictEqual([message('c'.repeat(size))])
      expect(traceOf([bytes('data: '), bytes(`${'c'.repeat(size)}\r`), bytes('\r')]), String(size)).toStrictEqual([message('c'.repeat(size))])
    }
  })

  it('[non-spec] reports an overflow held in small byte chunks when a large chunk follows', () => {
    const trace = traceOf([bytes('data: '), bytes('x'.repeat(20)), bytes(`${'y'.repeat(5000)}\n\ndata: b\n\n`)], { maxBufferBytes: 16 })
    expect(trace).toStrictEqual([{ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' }])
  })

  it('[non-spec] decodes long byte chunks and short ones alike', () => {
    const long = `data: ${'a'.repeat(300)}\u00e9\n\n`
    expect(traceOf([bytes(long)])).toStrictEqual([message(`${'a'.repeat(300)}\u00e9`)])
    expect(traceOf([bytes(`data: ${'a'.repeat(300)}\n\n`)])).toStrictEqual([message('a'.repeat(300))])
  })
})

describe('[non-spec] reset()', () => {
  it('[non-spec] forgets the pending line, data, event type, a pending CR and the last event ID', () => {
    const { parser, trace } = recorder()
    parser.feed('id: 1\ndata: a\n\nevent: t\ndata: b\ndata: par')
    parser.reset()
    parser.feed('tial\n\n')
    parser.feed('data: c\r')
    parser.reset()
    parser.feed('\ndata: d\n\n')
    expect(trace).toStrictEqual([{ lastEventId: '1' }, message('a', { lastEventId: '1', id: '1' }), message('d')])
  })

  it('[non-spec] treats the next chunk as the start of a stream: a BOM is dropped again', () => {
    const { parser, trace } = recorder()
    parser.feed('data: a\n\n')
    parser.reset()
    parser.feed('\ufeffdata: b\n\n')
    parser.end()
    parser.feed(bytes([0xef, 0xbb, 0xbf], 'data: c\n\n'))
    expect(trace).toStrictEqual([message('a'), message('b'), message('c')])
  })

  it('[non-spec] forgets an unfinished UTF-8 sequence', () => {
    const { parser, trace } = recorder()
    parser.feed(bytes('data: ', [0xe2]))
    parser.reset()
    parser.feed(bytes([0x82, 0xac], 'data: x\n\n'))
    // The continuation bytes, alone, are invalid: they make an unknown field name, and the line is ignored.
    parser.feed(bytes('data: y\n\n'))
    expect(trace).toStrictEqual([message('y')])
  })

  it('[non-spec] works without optional callbacks', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed('retry: 5\nid: 1\n\n: c\ndata: a\n\n')
    const bounded = createParser({ onEvent: (e) => events.push(e) }, { maxBufferBytes: 6 })
    bounded.feed('data: long enough\n\n')
    bounded.reset()
    bounded.feed('id\ndata:b\n\n')
    expect(events).toStrictEqual([
      { type: 'message', data: 'a', lastEventId: '1', id: undefined },
      { type: 'message', data: 'b', lastEventId: '', id: '' },
    ])
  })
})
