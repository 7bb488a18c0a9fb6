#!/usr/bin/env node
// Parser throughput: Herald's createParser against eventsource-parser, fed the same bytes in the same run.
// Both decode UTF-8 themselves (eventsource-parser through a streaming TextDecoder, as its own stream wrapper does).
// Usage: npm run bench:parse [-- --json out.json]
import { writeFileSync } from 'node:fs'
import { createParser as createEsParser } from 'eventsource-parser'
import { createParser } from '../dist/protocol/index.js'

const encoder = new TextEncoder()

// A typical stream: ids, an event type, JSON data, a keep-alive comment now and then. `unicode` puts a few
// non-ASCII characters in every event, which makes UTF-8 decoding (the same native decoder for both) most of the cost.
function typicalStream(bytes, unicode) {
  const text = unicode ? 'The quick brown fox jumps over the lazy dog, ünïcödé ✓' : 'The quick brown fox jumps over the lazy dog, plain ASCII'
  let out = ''
  for (let i = 0; out.length < bytes; i++) {
    const payload = JSON.stringify({ id: i, user: `user-${i % 97}`, text, at: 1732500000000 + i })
    out += `id: ${i}\nevent: update\ndata: ${payload}\n\n`
    if (i % 50 === 0) out += ': keep-alive\n\n'
  }
  return encoder.encode(out)
}

function chunk(bytes, size) {
  const chunks = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return chunks
}

const scenarios = [
  { name: '1 KiB reads', chunks: chunk(typicalStream(8 << 20, false), 1024) },
  { name: '16-byte reads', chunks: chunk(typicalStream(2 << 20, false), 16) },
  { name: '1 KiB reads, unicode', chunks: chunk(typicalStream(8 << 20, true), 1024) },
  { name: '16-byte reads, unicode', chunks: chunk(typicalStream(2 << 20, true), 16) },
  { name: 'many tiny events', chunks: chunk(encoder.encode('data: x\n\n'.repeat(600_000)), 64 * 1024) },
  { name: 'one 8 MiB event', chunks: chunk(encoder.encode(`data: ${'x'.repeat(8 << 20)}\n\n`), 64 * 1024) },
]

const parsers = {
  herald(chunks) {
    let events = 0
    const parser = createParser({ onEvent: () => void events++ }, { maxBufferBytes: null })
    for (const c of chunks) parser.feed(c)
    parser.end()
    return events
  },
  'eventsource-parser'(chunks) {
    let events = 0
    const decoder = new TextDecoder()
    const parser = createEsParser({ onEvent: () => void events++ })
    for (const c of chunks) parser.feed(decoder.decode(c, { stream: true }))
    return events
  },
}

function measure(fn, chunks, minMs = 700) {
  const times = []
  let events = 0
  const deadline = performance.now() + minMs
  do {
    const t0 = performance.now()
    events = fn(chunks)
    times.push(performance.now() - t0)
  } while (performance.now() < deadline || times.length < 5)
  times.sort((a, b) => a - b)
  return { ms: times[Math.floor(times.length / 2)], events, runs: times.length }
}

const results = []
for (const s of scenarios) {
  const bytes = s.chunks.reduce((n, c) => n + c.length, 0)
  // Warm up both, then measure in alternating rounds so that drift on a shared machine hits both alike.
  for (const fn of Object.values(parsers)) fn(s.chunks)
  const rows = {}
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of Object.entries(parsers)) {
      const m = measure(fn, s.chunks)
      if (!rows[name] || m.ms < rows[name].ms) rows[name] = m
    }
  }
  const h = rows.herald
  const e = rows['eventsource-parser']
  if (h.events !== e.events) throw new Error(`${s.name}: parsers disagree on the event count (${h.events} vs ${e.events})`)
  const mbps = (m) => bytes / 1e6 / (m.ms / 1000)
  const row = {
    scenario: s.name,
    bytes,
    events: h.events,
    heraldMBps: mbps(h),
    esParserMBps: mbps(e),
    heraldEventsPerSec: h.events / (h.ms / 1000),
    esParserEventsPerSec: e.events / (e.ms / 1000),
    ratio: e.ms / h.ms,
  }
  results.push(row)
  console.log(
    `${s.name.padEnd(24)} herald ${row.heraldMBps.toFixed(1).padStart(7)} MB/s ${Math.round(row.heraldEventsPerSec).toLocaleString('en').padStart(11)} ev/s | ` +
      `eventsource-parser ${row.esParserMBps.toFixed(1).padStart(7)} MB/s ${Math.round(row.esParserEventsPerSec).toLocaleString('en').padStart(11)} ev/s | ratio ${row.ratio.toFixed(2)}x`,
  )
}
const jsonAt = process.argv.indexOf('--json')
if (jsonAt !== -1) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ node: process.version, results }, null, 2))
