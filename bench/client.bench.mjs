#!/usr/bin/env node
// Client throughput: Herald's EventSource against the npm `eventsource` package (v4) on the same stream, in the
// same run. A node:http server in a child process streams many events as fast as the socket takes them; this
// process runs one client at a time, alternating, and measures its own CPU time (process.cpuUsage) and wall time
// per run, from the request to the last event. Both clients use the global fetch (undici) and one listener.
// Usage: npm run build && node bench/client.bench.mjs [--quick] [--json out.json]
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { EventSource as NpmEventSource } from 'eventsource'
import { EventSource as HeraldEventSource } from '../dist/client/index.js'

const quick = process.argv.includes('--quick')

if (process.argv[2] === '--serve') serve()
else await main()

/** The server: `GET /?events=N&shape=…` streams N events in 64 KiB writes, honouring backpressure, then ends. */
function serve() {
  const encoder = new TextEncoder()
  const shapes = {
    // A typical update: an id, an event type, one JSON data line.
    typical: (i) => `id: ${i}\nevent: update\ndata: {"id":${i},"user":"user-${i % 97}","text":"The quick brown fox jumps over the lazy dog","at":${1732500000000 + i}}\n\n`,
    // The smallest event: what a ticker or a counter sends.
    tiny: (i) => `id: ${i}\ndata: ${i % 10}\n\n`,
    // A larger payload in several data lines.
    multiline: (i) => `id: ${i}\ndata: {"id":${i},\ndata: "body":"${'x'.repeat(400)}",\ndata: "end":true}\n\n`,
  }
  // Each stream is encoded once, into 64 KiB chunks, and then only written: the server must not be the bottleneck.
  const cache = new Map()
  const chunksOf = (shapeName, total) => {
    const key = `${shapeName}/${total}`
    let chunks = cache.get(key)
    if (chunks === undefined) {
      chunks = []
      const shape = shapes[shapeName]
      for (let i = 0; i < total; ) {
        let text = ''
        while (i < total && text.length < 65536) text += shape(i++)
        chunks.push(encoder.encode(text))
      }
      cache.set(key, chunks)
    }
    return chunks
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    const chunks = chunksOf(url.searchParams.get('shape'), Number(url.searchParams.get('events')))
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    let i = 0
    const write = () => {
      while (i < chunks.length) {
        if (!res.write(chunks[i++])) {
          res.once('drain', write)
          return
        }
      }
      res.end()
    }
    write()
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('disconnect', () => process.exit(0))
}

/** Runs one client until it has received `total` events of type `type`; returns CPU and wall time. */
function run(Client, url, total, type) {
  return new Promise((resolve, reject) => {
    let received = 0
    let checksum = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const source = new Client(url)
    source.addEventListener(type, (event) => {
      checksum += event.data.length
      if (++received === total) {
        const cpu = process.cpuUsage(cpu0)
        const ms = performance.now() - t0
        source.close()
        resolve({ ms, cpuUs: cpu.user + cpu.system, checksum })
      }
    })
    source.addEventListener('error', (event) => {
      if (received < total) {
        source.close()
        reject(new Error(`client error after ${received} events: ${event.error?.code ?? event.message ?? 'unknown'}`))
      }
    })
  })
}

async function main() {
  const child = fork(new URL(import.meta.url).pathname, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const { port } = await new Promise((resolve) => child.once('message', resolve))
  const clients = { herald: HeraldEventSource, eventsource: NpmEventSource }
  const scenarios = [
    { name: 'typical events (~150 B)', shape: 'typical', type: 'update', events: quick ? 50_000 : 300_000 },
    { name: 'tiny events (~15 B)', shape: 'tiny', type: 'message', events: quick ? 100_000 : 1_000_000 },
    { name: 'multi-line events (~460 B)', shape: 'multiline', type: 'message', events: quick ? 20_000 : 100_000 },
  ]
  const rounds = quick ? 3 : 5
  const results = []
  try {
    for (const s of scenarios) {
      const url = `http://127.0.0.1:${port}/?events=${s.events}&shape=${s.shape}`
      // Warm up both clients (JIT, connection pool), then alternate so that drift on a shared machine hits both alike.
      for (const Client of Object.values(clients)) await run(Client, url.replace(/events=\d+/, `events=${Math.min(s.events, 50_000)}`), Math.min(s.events, 50_000), s.type)
      const samples = { herald: [], eventsource: [] }
      for (let round = 0; round < rounds; round++) {
        for (const [name, Client] of Object.entries(clients)) samples[name].push(await run(Client, url, s.events, s.type))
      }
      // The best of the rounds for each measure: noise on a shared machine only ever adds time.
      const least = (list, key) => Math.min(...list.map((sample) => sample[key]))
      if (new Set([...samples.herald, ...samples.eventsource].map((sample) => sample.checksum)).size !== 1) {
        throw new Error(`${s.name}: the clients disagree on the data received`)
      }
      const h = { ms: least(samples.herald, 'ms'), cpuUs: least(samples.herald, 'cpuUs') }
      const e = { ms: least(samples.eventsource, 'ms'), cpuUs: least(samples.eventsource, 'cpuUs') }
      const row = {
        scenario: s.name,
        events: s.events,
        heraldEventsPerSec: s.events / (h.ms / 1000),
        eventsourceEventsPerSec: s.events / (e.ms / 1000),
        heraldCpuNsPerEvent: (h.cpuUs * 1000) / s.events,
        eventsourceCpuNsPerEvent: (e.cpuUs * 1000) / s.events,
        // Events per CPU-second: the throughput each client reaches when it, not the server, is the limit.
        heraldEventsPerCpuSec: s.events / (h.cpuUs / 1e6),
        eventsourceEventsPerCpuSec: s.events / (e.cpuUs / 1e6),
      }
      row.cpuRatio = row.eventsourceCpuNsPerEvent / row.heraldCpuNsPerEvent
      row.wallRatio = row.heraldEventsPerSec / row.eventsourceEventsPerSec
      results.push(row)
      const fmt = (n) => Math.round(n).toLocaleString('en').padStart(11)
      console.log(
        `${s.name.padEnd(28)} herald ${fmt(row.heraldEventsPerSec)} ev/s ${row.heraldCpuNsPerEvent.toFixed(0).padStart(5)} ns CPU/ev | ` +
          `eventsource ${fmt(row.eventsourceEventsPerSec)} ev/s ${row.eventsourceCpuNsPerEvent.toFixed(0).padStart(5)} ns CPU/ev | ` +
          `CPU ratio ${row.cpuRatio.toFixed(2)}x, wall ratio ${row.wallRatio.toFixed(2)}x`,
      )
    }
  } finally {
    child.disconnect()
  }
  const jsonAt = process.argv.indexOf('--json')
  if (jsonAt !== -1) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ node: process.version, results }, null, 2))
}
