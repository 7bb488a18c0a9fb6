#!/usr/bin/env node
// What a wake-up costs on this machine: one byte sent back and forth over a Unix socket, N round trips, with both ends
// in one Node process (which never has to sleep: the reply is there when it looks) and with the echo in a second
// process (each side sleeps until the other writes, so every round trip is two wake-ups and two context switches).
// Both do the same reads, writes and callbacks; the difference in CPU per round trip is what sleeping, waking and
// switching between processes costs here. Hub nodes pay it for every message that crosses from one process to
// another (a node and its engine, two nodes), and a quieter process pays it more often for the same work.
// CPU is process.cpuUsage() of both processes; context switches are read from /proc (Linux only, else omitted).
// Usage: node bench/wakeup.bench.mjs [--quick] [--json out.json]
import { fork } from 'node:child_process'
import { rmSync, writeFileSync, mkdtempSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contextSwitches, difference, median } from './process-counts.mjs'

const quick = process.argv.includes('--quick')
const ROUND_TRIPS = quick ? 2_000 : 20_000
const RUNS = quick ? 1 : 5

if (process.argv[2] === '--echo') echoProcess(process.argv[3])
else await main()

/** Echoes every byte on `socketPath`; on 'usage' from the parent, answers with its CPU time and context switches. */
function echoProcess(socketPath) {
  const server = createServer((socket) => socket.on('data', (chunk) => socket.write(chunk)))
  server.listen(socketPath, () => process.send?.({ listening: true }))
  process.on('message', (message) => {
    if (message === 'usage') process.send?.({ cpu: process.cpuUsage(), switches: contextSwitches(process.pid) })
    if (message === 'stop') server.close(() => process.exit(0))
  })
}

/** An echo server in this process, on its own socket. */
async function localEcho(socketPath) {
  const server = createServer((socket) => socket.on('data', (chunk) => socket.write(chunk)))
  await new Promise((resolve) => server.listen(socketPath, resolve))
  return { close: () => new Promise((resolve) => server.close(resolve)) }
}

/** An echo server in a child process. */
async function remoteEcho(socketPath) {
  const child = fork(new URL(import.meta.url).pathname, ['--echo', socketPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`echo process exited with ${code}`)))
  })
  const ask = () =>
    new Promise((resolve) => {
      child.once('message', resolve)
      child.send('usage')
    })
  return {
    usage: ask,
    close: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit')
        child.once('exit', resolve)
        child.send('stop')
      }),
  }
}

/** Sends one byte, waits for it to come back, `count` times; resolves once the last came back. */
async function pingPong(socketPath, count) {
  const socket = createConnection(socketPath)
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.setNoDelay?.(true)
  const byte = Buffer.from('x')
  // A warm-up, so that the callbacks are compiled before anything is counted.
  await trips(socket, byte, 500)
  const cpuBefore = process.cpuUsage()
  const switchesBefore = contextSwitches(process.pid)
  const started = process.hrtime.bigint()
  await trips(socket, byte, count)
  const wallNs = Number(process.hrtime.bigint() - started)
  const cpu = process.cpuUsage(cpuBefore)
  const switchesAfter = contextSwitches(process.pid)
  socket.destroy()
  return { wallNs, cpuUs: cpu.user + cpu.system, switches: difference(switchesAfter, switchesBefore) }
}

function trips(socket, byte, count) {
  return new Promise((resolve) => {
    let left = count
    const onData = () => {
      if (--left === 0) {
        socket.off('data', onData)
        resolve()
      } else socket.write(byte)
    }
    socket.on('data', onData)
    socket.write(byte)
  })
}

async function measure(kind, directory, run) {
  const socketPath = join(directory, `${kind}-${run}.sock`)
  if (kind === 'one process') {
    const echo = await localEcho(socketPath)
    const result = await pingPong(socketPath, ROUND_TRIPS)
    await echo.close()
    return result
  }
  const echo = await remoteEcho(socketPath)
  const before = await echo.usage()
  const result = await pingPong(socketPath, ROUND_TRIPS)
  const after = await echo.usage()
  await echo.close()
  const echoCpuUs = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system)
  const echoSwitches = difference(after.switches, before.switches)
  return {
    wallNs: result.wallNs,
    // The two usage questions each cost the echo process a message of its own: negligible against N round trips.
    cpuUs: result.cpuUs + echoCpuUs,
    switches: result.switches === null || echoSwitches === null ? null : result.switches + echoSwitches,
  }
}

async function main() {
  const directory = mkdtempSync(join(tmpdir(), 'herald-wakeup-'))
  const samples = { 'one process': [], 'two processes': [] }
  try {
    // Alternating, so that a change in the machine's load shows in both.
    for (let run = 0; run < RUNS; run++) {
      for (const kind of Object.keys(samples)) samples[kind].push(await measure(kind, directory, run))
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
  const rows = Object.entries(samples).map(([kind, runs]) => ({
    kind,
    cpuUsPerRoundTrip: median(runs.map((r) => r.cpuUs / ROUND_TRIPS)),
    wallUsPerRoundTrip: median(runs.map((r) => r.wallNs / 1000 / ROUND_TRIPS)),
    switchesPerRoundTrip: runs.every((r) => r.switches !== null) ? median(runs.map((r) => r.switches / ROUND_TRIPS)) : null,
    runs: runs.map((r) => r.cpuUs / ROUND_TRIPS),
  }))
  const [local, remote] = rows
  const extraCpu = remote.cpuUsPerRoundTrip - local.cpuUsPerRoundTrip
  const extraSwitches = remote.switchesPerRoundTrip === null || local.switchesPerRoundTrip === null ? null : remote.switchesPerRoundTrip - local.switchesPerRoundTrip
  console.log(`${ROUND_TRIPS} round trips of one byte over a Unix socket, medians of ${RUNS} alternating runs (Node ${process.version})`)
  console.log('| echo in | CPU µs per round trip (both processes) | wall µs per round trip | context switches per round trip |')
  console.log('| --- | --- | --- | --- |')
  for (const row of rows) {
    const switches = row.switchesPerRoundTrip === null ? 'n/a' : row.switchesPerRoundTrip.toFixed(2)
    console.log(`| ${row.kind} | ${row.cpuUsPerRoundTrip.toFixed(1)} | ${row.wallUsPerRoundTrip.toFixed(1)} | ${switches} |`)
  }
  const perSwitch = extraSwitches !== null && extraSwitches > 0 ? ` = ${(extraCpu / extraSwitches).toFixed(1)} µs per context switch` : ''
  console.log(`crossing to another process costs ${extraCpu.toFixed(1)} µs of CPU more per round trip${perSwitch}`)
  const jsonAt = process.argv.indexOf('--json')
  if (jsonAt !== -1) {
    const out = process.argv[jsonAt + 1]
    writeFileSync(out, `${JSON.stringify({ roundTrips: ROUND_TRIPS, runs: RUNS, node: process.version, rows, extraCpuUsPerRoundTrip: extraCpu }, null, 2)}\n`)
  }
}
