#!/usr/bin/env node
// What splitting a fan-out over two processes costs with node:http alone, no Herald code: the part of the hub's
// two-node figures that any Node server on the machine pays (docs/scale-out.md). It models scenario A of the hub benchmark (bench/harness, `--scenarios A`):
// 100 updates a second, each encoded once, reaching every open SSE response; each response is written at most once per
// 40 ms (the hub's default `writeIntervalMs`), so a write carries the four or so events that came since the last one,
// joined into one chunk; the responses' write times are spread over the 40 ms and a timer runs every millisecond to
// write the responses due (as the hub's write pacer does). Set-ups, each for the same time:
//   - one process with 1,000 responses;
//   - two processes with 500 each, at the same time (two hub nodes sharing A's subscribers);
//   - one process with 500.
// The readers are one other process (as the load generator is). Reported: CPU per write of the writing processes
// (user + system, summed), medians of alternating runs, divided by one process's with 1,000; the readers' CPU per
// write; and context switches per write of the writers (Linux only). Writes are counted, not assumed.
// Usage: node bench/split.bench.mjs [--quick] [--json out.json]
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createConnection } from 'node:net'
import { randomUUID } from 'node:crypto'
import { contextSwitches, difference, median } from './process-counts.mjs'

const quick = process.argv.includes('--quick')
const RUNS = quick ? 1 : 5
const WARM_UP_MS = quick ? 300 : 1_000
const MEASURE_MS = quick ? 2_000 : 8_000
const UPDATE_EVERY_MS = 10
const WRITE_INTERVAL_MS = 40
const SET_UPS = [
  { name: 'one process, 1,000 responses', processes: [1_000] },
  { name: 'two processes, 500 responses each', processes: [500, 500] },
  { name: 'one process, 500 responses', processes: [500] },
]

const role = process.argv[2]
if (role === '--writer' || role === '--reader') {
  // A child ends with its parent.
  process.once('disconnect', () => process.exit(0))
  if (role === '--writer') writerProcess(Number(process.argv[3]))
  else readerProcess()
} else await main()

/**
 * Serves `count` SSE responses; on 'go', writes them as described above for WARM_UP_MS, then counts CPU, writes and
 * context switches for MEASURE_MS and sends them to the parent.
 */
function writerProcess(count) {
  /** @type {import('node:http').ServerResponse[]} */
  const responses = []
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    response.flushHeaders()
    responses.push(response)
    if (responses.length === count) process.send?.({ ready: true })
  })
  server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }))
  process.once('message', async () => {
    // The events of the last 64 updates, each encoded once; a response keeps the number of the next one it needs.
    const ring = new Array(64)
    let published = 0
    const next = new Array(count).fill(0)
    const publish = () => {
      const data = JSON.stringify({ update: published, text: 'lorem ipsum dolor sit amet', at: Date.now() })
      ring[published % ring.length] = Buffer.from(`id: urn:uuid:${randomUUID()}\nevent: message\ndata: ${data}\n\n`)
      published++
    }
    let writes = 0
    const writeDue = (tick) => {
      for (let i = tick % WRITE_INTERVAL_MS; i < count; i += WRITE_INTERVAL_MS) {
        if (next[i] === published) continue
        const chunks = []
        for (let n = next[i]; n < published; n++) chunks.push(ring[n % ring.length])
        next[i] = published
        responses[i].write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
        writes++
      }
    }
    const start = performance.now()
    let tick = 0
    // Each timer runs every millisecond that has passed since the last one (a late timer catches up, as the pacer does).
    const runUntil = async (endMs) => {
      while (tick < endMs) {
        const now = Math.min(endMs, Math.floor(performance.now() - start) + 1)
        for (; tick < now; tick++) {
          if (tick % UPDATE_EVERY_MS === 0) publish()
          writeDue(tick)
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + tick - performance.now())))
      }
    }
    await runUntil(WARM_UP_MS)
    writes = 0
    const cpuBefore = process.cpuUsage()
    const switchesBefore = contextSwitches(process.pid)
    await runUntil(WARM_UP_MS + MEASURE_MS)
    const cpu = process.cpuUsage(cpuBefore)
    const switches = difference(contextSwitches(process.pid), switchesBefore)
    process.send?.({ cpuUs: cpu.user + cpu.system, userUs: cpu.user, writes, switches })
    for (const response of responses) response.end()
    server.close()
    setTimeout(() => process.exit(0), 100).unref()
  })
}

/**
 * Opens the SSE requests it is told to and reads what comes; answers 'usage' with its CPU time. Ended by a signal.
 */
function readerProcess() {
  process.on('message', async (message) => {
    if (message === 'usage') return process.send?.({ cpu: process.cpuUsage() })
    const request = Buffer.from(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${message.port}\r\nAccept: text/event-stream\r\n\r\n`)
    let received = 0
    for (let i = 0; i < message.count; i++) {
      const socket = createConnection(message.port, '127.0.0.1')
      socket.on('data', (chunk) => (received += chunk.length))
      socket.on('error', () => {})
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      socket.write(request)
    }
    process.send?.({ opened: message.count, received })
  })
  process.send?.({ ready: true })
}

/** Starts a child of this script with `args`, resolved with it and its first message. */
async function startChild(args) {
  const child = fork(new URL(import.meta.url).pathname, [...args, ...(quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return [child, await nextMessage(child)]
}

/** The next message of `child`; rejects if it exits first. */
function nextMessage(child) {
  return new Promise((resolve, reject) => {
    const onExit = (code, signal) => reject(new Error(`${child.spawnargs.slice(2).join(' ')} exited (${code ?? signal})`))
    child.once('exit', onExit)
    child.once('message', (message) => {
      child.off('exit', onExit)
      resolve(message)
    })
  })
}

async function measure(setUp) {
  const [reader] = await startChild(['--reader'])
  const writers = []
  try {
    for (const count of setUp.processes) {
      const [writer, { port }] = await startChild(['--writer', String(count)])
      writers.push(writer)
      const ready = nextMessage(writer)
      reader.send({ port, count })
      await nextMessage(reader)
      await ready
    }
    reader.send('usage')
    const readerBefore = (await nextMessage(reader)).cpu
    const results = writers.map((writer) => nextMessage(writer))
    for (const writer of writers) writer.send('go')
    const done = await Promise.all(results)
    reader.send('usage')
    const readerAfter = (await nextMessage(reader)).cpu
    const writes = done.reduce((sum, r) => sum + r.writes, 0)
    const switches = done.every((r) => r.switches !== null) ? done.reduce((sum, r) => sum + r.switches, 0) : null
    // The reader's CPU counts its warm-up too; divided by the measured writes it is an upper bound.
    const readerCpuUs = readerAfter.user + readerAfter.system - readerBefore.user - readerBefore.system
    return {
      writes,
      cpuUsPerWrite: done.reduce((sum, r) => sum + r.cpuUs, 0) / writes,
      userUsPerWrite: done.reduce((sum, r) => sum + r.userUs, 0) / writes,
      readerCpuUsPerWrite: readerCpuUs / writes,
      switchesPerWrite: switches === null ? null : switches / writes,
    }
  } finally {
    reader.kill()
    for (const writer of writers) writer.kill()
  }
}

async function main() {
  const samples = SET_UPS.map(() => [])
  // Alternating, so that a change in the machine's load shows in every set-up.
  for (let run = 0; run < RUNS; run++) {
    for (const [index, setUp] of SET_UPS.entries()) samples[index].push(await measure(setUp))
  }
  const rows = SET_UPS.map((setUp, index) => {
    const runs = samples[index]
    return {
      setUp: setUp.name,
      processes: setUp.processes,
      writes: median(runs.map((r) => r.writes)),
      cpuUsPerWrite: median(runs.map((r) => r.cpuUsPerWrite)),
      userUsPerWrite: median(runs.map((r) => r.userUsPerWrite)),
      readerCpuUsPerWrite: median(runs.map((r) => r.readerCpuUsPerWrite)),
      switchesPerWrite: runs.every((r) => r.switchesPerWrite !== null) ? median(runs.map((r) => r.switchesPerWrite)) : null,
      runs: runs.map((r) => r.cpuUsPerWrite),
    }
  })
  const base = rows[0].cpuUsPerWrite
  console.log(
    `node:http alone, A's write pattern (an update every ${UPDATE_EVERY_MS} ms, a write per response at most every ${WRITE_INTERVAL_MS} ms), ` +
      `${MEASURE_MS / 1000} s per run, medians of ${RUNS} alternating runs (Node ${process.version})`,
  )
  console.log('| set-up | writes | writers\' CPU µs per write (user) | ÷ one process, 1,000 | readers\' CPU µs per write | writers\' context switches per write |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const row of rows) {
    const switches = row.switchesPerWrite === null ? 'n/a' : row.switchesPerWrite.toFixed(3)
    console.log(
      `| ${row.setUp} | ${row.writes.toLocaleString('en-US')} | ${row.cpuUsPerWrite.toFixed(2)} (${row.userUsPerWrite.toFixed(2)}) | ` +
        `${(row.cpuUsPerWrite / base).toFixed(2)}× | ${row.readerCpuUsPerWrite.toFixed(2)} | ${switches} |`,
    )
  }
  const jsonAt = process.argv.indexOf('--json')
  if (jsonAt !== -1) {
    const out = process.argv[jsonAt + 1]
    writeFileSync(out, `${JSON.stringify({ runs: RUNS, measureMs: MEASURE_MS, node: process.version, rows }, null, 2)}\n`)
  }
}
