#!/usr/bin/env node
// Fuzzes the protocol parser (the built dist/protocol): random bytes, random mutations of valid streams and valid
// streams, each fed whole, one byte at a time, in random byte chunks and (unbounded) as random string chunks. Checks
// that nothing throws, that every feeding gives the same callbacks as the whole buffer, and that a valid encoded
// stream reads back as the events it encodes. Inputs are derived from (seed, index), so one failure can be replayed.
//
// Usage: npm run fuzz [-- --count 1000000] [--seed 42] [--only 1234] [--max-failures 5]
// Prints one result line; exits 1 when any input fails.
import { createParser, encode } from '../dist/protocol/index.js'

const args = parseArgs(process.argv.slice(2))
const count = args.count ?? 1_000_000
const seed = args.seed ?? (Date.now() % 0x7fffffff)
const maxFailures = args['max-failures'] ?? 5

const encoder = new TextEncoder()
const keepBom = new TextDecoder('utf-8', { ignoreBOM: true })

/** Byte fragments that matter to the format; random inputs are mostly made of these. */
const FRAGMENTS = [
  'data', 'data:', 'data: ', 'id', 'id:', 'id: ', 'event', 'event:', 'event: ', 'retry:', 'retry: ', ':', ': ', ' ',
  '\n', '\r', '\r\n', '\n\n', '\r\r', '0', '7', '42', '-1', '1.5', 'x', 'message', '\0', '\ufeff', '\u00e9', '\u2713',
  '\u{1f600}', '\u4e2d',
].map((s) => encoder.encode(s))
/** Partial and invalid UTF-8 sequences. */
const BAD_UTF8 = [[0xe2], [0xe2, 0x82], [0xf0, 0x9f], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0x80], [0xef, 0xbb]].map(
  (b) => Uint8Array.from(b),
)
/** Characters for event data, ids and types. */
const CHARS = ['a', 'b', ' ', ':', '\0', '\n', '\r', '\r\n', '\u00e9', '\u2713', '\u{1f600}', '\ufeff', 'data: x', 'id']

/** mulberry32: a small PRNG, seeded per input so that input `i` of seed `s` can be replayed alone. */
function prng(a) {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function inputRandom(s, i) {
  return prng(Math.imul(s ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35))
}

const int = (random, n) => Math.floor(random() * n)
const pick = (random, list) => list[int(random, list.length)]

function concat(parts) {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function randomText(random, max) {
  let s = ''
  for (let n = int(random, max + 1); n > 0; n--) s += random() < 0.7 ? pick(random, CHARS) : String.fromCodePoint(int(random, 0xd800))
  return s
}

function randomEvent(random) {
  const event = { data: randomText(random, 12) }
  if (random() < 0.4) event.event = randomText(random, 6).replace(/[\r\n]/g, '')
  if (random() < 0.5) event.id = randomText(random, 6).replace(/[\r\n\0]/g, '')
  if (random() < 0.2) event.retry = int(random, 100_000)
  if (random() < 0.2) event.comment = randomText(random, 8)
  return event
}

/** Random bytes, mostly fragments of the format, with invalid UTF-8 and arbitrary bytes mixed in. */
function randomBytes(random) {
  const parts = []
  for (let n = int(random, 24); n > 0; n--) {
    const r = random()
    parts.push(r < 0.75 ? pick(random, FRAGMENTS) : r < 0.85 ? pick(random, BAD_UTF8) : Uint8Array.of(int(random, 256)))
  }
  return concat(parts)
}

/** A valid stream with random edits: flipped, inserted, deleted and duplicated bytes, extra line ends. */
function mutate(random, bytes) {
  let b = Array.from(bytes)
  for (let n = 1 + int(random, 4); n > 0; n--) {
    const at = int(random, b.length + 1)
    const op = int(random, 5)
    if (op === 0 && b.length > 0) b[Math.min(at, b.length - 1)] ^= 1 << int(random, 8)
    else if (op === 1) b.splice(at, 0, int(random, 256))
    else if (op === 2) b.splice(at, 1 + int(random, 4))
    else if (op === 3) b.splice(at, 0, ...b.slice(int(random, b.length + 1), at + int(random, 8)))
    else b.splice(at, 0, ...pick(random, FRAGMENTS))
  }
  return Uint8Array.from(b)
}

/** Feeds `chunks` to a fresh parser and records every callback as one string each. */
function trace(chunks, options) {
  const out = []
  const parser = createParser(
    {
      onEvent: (e) => out.push(`event ${JSON.stringify([e.type, e.data, e.lastEventId, e.id ?? null])}`),
      onRetry: (ms) => out.push(`retry ${ms}`),
      onComment: (text) => out.push(`comment ${JSON.stringify(text)}`),
      onLastEventId: (id) => out.push(`lastEventId ${JSON.stringify(id)}`),
      onError: (error) => out.push(`error ${error.code}`),
    },
    options,
  )
  for (const chunk of chunks) parser.feed(chunk)
  parser.end()
  return out
}

function randomCuts(random, length) {
  const cuts = []
  for (let at = int(random, 8); at < length; at += 1 + int(random, 16)) cuts.push(at)
  return cuts
}

function cut(input, cuts) {
  const chunks = []
  let from = 0
  for (const to of cuts) {
    chunks.push(input.slice(from, to))
    from = to
  }
  chunks.push(input.slice(from))
  return chunks
}

function sameTrace(a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Runs input `i`; returns undefined when it passes, or a description of the failure. */
function check(i) {
  const random = inputRandom(seed, i)
  const kind = ['random bytes', 'mutated stream', 'valid stream'][i % 3]
  let events
  let bytes
  if (kind === 'random bytes') {
    bytes = randomBytes(random)
  } else {
    events = Array.from({ length: 1 + int(random, 4) }, () => randomEvent(random))
    bytes = encoder.encode(events.map(encode).join(''))
    if (kind === 'mutated stream') bytes = mutate(random, bytes)
  }
  // One input in five runs with a small bound, to exercise the overflow paths.
  const bounded = kind !== 'valid stream' && random() < 0.2
  const options = bounded ? { maxBufferBytes: 1 + int(random, 32) } : {}
  const failure = (what, extra = {}) => ({ index: i, kind, what, options, input: Buffer.from(bytes).toString('hex'), ...extra })
  try {
    const whole = trace([bytes], options)
    const byByte = trace(Array.from(bytes, (_, k) => bytes.subarray(k, k + 1)), options)
    if (!sameTrace(whole, byByte)) return failure('one byte at a time differs from the whole buffer', { whole, other: byByte })
    const cuts = randomCuts(random, bytes.length)
    const chunked = trace(cut(bytes, cuts), options)
    if (!sameTrace(whole, chunked)) return failure('random byte chunks differ from the whole buffer', { cuts, whole, other: chunked })
    if (!bounded) {
      // String chunks only without a bound: a decoded string ends an unfinished UTF-8 sequence with U+FFFD, which
      // could count towards the bound of a pending line that the byte feed discards at end() without decoding.
      const text = keepBom.decode(bytes)
      const stringCuts = randomCuts(random, text.length)
      const strings = trace(cut(text, stringCuts), options)
      if (!sameTrace(whole, strings)) return failure('random string chunks differ from the whole buffer', { cuts: stringCuts, whole, other: strings })
    }
    if (kind === 'valid stream') {
      let lastEventId = ''
      const expected = events.map((e) => {
        if (e.id !== undefined) lastEventId = e.id
        const type = e.event === undefined || e.event === '' ? 'message' : e.event
        return `event ${JSON.stringify([type, e.data.replace(/\r\n?/g, '\n'), lastEventId, e.id ?? null])}`
      })
      const got = whole.filter((entry) => entry.startsWith('event '))
      if (!sameTrace(expected, got)) return failure('a valid encoded stream does not read back as its events', { expected, got })
    }
  } catch (error) {
    return failure('threw', { error: String(error?.stack ?? error) })
  }
  return undefined
}

function parseArgs(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '')
    const value = Number(argv[i + 1])
    if (!name || !Number.isInteger(value) || value < 0) {
      console.error(`fuzz-parser: bad argument ${argv[i]} ${argv[i + 1] ?? ''}`)
      process.exit(2)
    }
    out[name] = value
  }
  return out
}

const started = performance.now()
const failures = []
let failed = 0
let ran = 0
const indices = args.only === undefined ? { from: 0, to: count } : { from: args.only, to: args.only + 1 }
for (let i = indices.from; i < indices.to; i++) {
  const result = check(i)
  ran++
  if (result !== undefined) {
    failed++
    if (failures.length < maxFailures) failures.push(result)
  }
  if (args.only === undefined && i > 0 && i % 200_000 === 0) console.error(`  ${i} inputs, ${failed} failures, ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
const seconds = (performance.now() - started) / 1000
for (const f of failures) {
  console.error(`\nFAIL input ${f.index} (${f.kind}): ${f.what}`)
  console.error(JSON.stringify(f, null, 2))
  console.error(`replay: node bench/fuzz-parser.mjs --seed ${seed} --only ${f.index}`)
}
console.log(`fuzz-parser: ${ran} inputs, ${failed} failures, ${seconds.toFixed(1)} s (${Math.round(ran / seconds)} inputs/s, seed ${seed})`)
process.exit(failed === 0 ? 0 : 1)
