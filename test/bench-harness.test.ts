import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { Histogram } from '../bench/harness/histogram.js'
import { createChunkedDecoder } from '../bench/harness/loadgen/chunked-decoder.js'
import { Delivery, DeliveryWindow } from '../bench/harness/loadgen/delivery-window.js'
import { ProcMeter, type RootUsage } from '../bench/harness/proc-meter.js'
import { createMarkerScanner } from '../bench/harness/loadgen/marker-scanner.js'
import { formatPayload } from '../bench/harness/loadgen/payload.js'
import { planSources } from '../bench/harness/loadgen/source-plan.js'
import { parseRunResult, type RunResult } from '../bench/harness/report/run-result.js'
import { renderScaleOutTable } from '../bench/harness/report/scale-out-table.js'
import { renderBarChart } from '../bench/harness/report/svg-bar-chart.js'
import { REPORT_END, REPORT_START, writeReport } from '../bench/harness/report/write-report.js'

const root = join(import.meta.dirname, '..')
const run = promisify(execFile)

/** Chunked-encodes each part as one chunk, then the last-chunk. */
function chunked(parts: readonly string[]): Buffer {
  return Buffer.from(parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n')
}

describe('marker scan over a chunked SSE body', () => {
  const events = [
    `id: 1795522953:0\ndata: ${formatPayload(1, 0, 1_000_001, 64)}\n\n`,
    `: keep-alive\n\ndata: "${formatPayload(2, 1, 1_000_002, 40)}"\n\n`,
    `retry: 2000\nevent: x\ndata: HB.9x not a marker H\ndata: ${formatPayload(3, 2, 1_000_003, 10)}\n\n`,
  ]
  const body = chunked(events)
  const expected = [
    [1, 0, 1_000_001],
    [2, 1, 1_000_002],
    [3, 2, 1_000_003],
  ]

  function decode(pieces: readonly Buffer[]): { markers: number[][]; status: string } {
    const markers: number[][] = []
    const scanner = createMarkerScanner((seq, floor, sentUs) => markers.push([seq, floor, sentUs]))
    const decoder = createChunkedDecoder((bytes, start, end) => scanner.push(bytes, start, end))
    let status = 'more'
    for (const piece of pieces) status = decoder.push(piece, 0, piece.length)
    return { markers, status }
  }

  it('finds every marker whatever the split into three reads', () => {
    for (let i = 0; i <= body.length; i++) {
      for (let j = i; j <= body.length; j += 7) {
        const result = decode([body.subarray(0, i), body.subarray(i, j), body.subarray(j)])
        expect(result.markers, `split at ${i}/${j}`).toEqual(expected)
        expect(result.status).toBe('done')
      }
    }
  })

  it('finds every marker when fed one byte at a time', () => {
    const pieces = [...body].map((byte) => Buffer.from([byte]))
    expect(decode(pieces)).toEqual({ markers: expected, status: 'done' })
  })

  it('reports broken chunk framing', () => {
    expect(decode([Buffer.from('zz\r\nabc')]).status).toBe('invalid')
    expect(decode([Buffer.from('3\r\nabcXY')]).status).toBe('invalid')
  })
})

describe('delivery window', () => {
  it('counts new, duplicate, unexpected and provably out-of-order messages', () => {
    // Topic 1 of 2: its messages are 2, 4, 6, 8 (4 of 8 published).
    const window = new DeliveryWindow(1, 2, 4)
    expect(window.accept(2, 1)).toBe(Delivery.New)
    expect(window.accept(2, 1)).toBe(Delivery.Duplicate)
    expect(window.accept(3, 2)).toBe(Delivery.Unexpected) // topic 0's message
    expect(window.accept(10, 9)).toBe(Delivery.Unexpected) // beyond the 4 expected
    expect(window.accept(6, 3)).toBe(Delivery.New) // 4 was still in flight when 6 was sent: no promise
    expect(window.accept(4, 3)).toBe(Delivery.New)
    expect(window.accept(8, 7)).toBe(Delivery.New)
    expect(window.unique).toBe(4)
  })

  it('flags a message that arrives after one sent only once it was acknowledged', () => {
    const window = new DeliveryWindow(0, 1, 10)
    expect(window.accept(3, 2)).toBe(Delivery.New) // sent after 1 and 2 were acknowledged
    expect(window.accept(2, 1)).toBe(Delivery.OutOfOrder)
    expect(window.accept(1, 0)).toBe(Delivery.OutOfOrder)
    expect(window.accept(1, 0)).toBe(Delivery.Duplicate)
  })
})

describe('histogram', () => {
  it('reports percentiles within the bucket resolution and survives a snapshot round trip', () => {
    const h = new Histogram()
    for (let v = 1; v <= 100_000; v++) h.record(v)
    const copy = Histogram.fromSnapshot(JSON.parse(JSON.stringify(h.snapshot())) as ReturnType<Histogram['snapshot']>)
    for (const [p, exact] of [
      [50, 50_000],
      [90, 90_000],
      [99, 99_000],
    ] as const) {
      expect(Math.abs((copy.percentile(p) ?? 0) - exact) / exact).toBeLessThan(1 / 64)
    }
    expect(copy.percentile(100)).toBe(100_000)
    expect(copy.latencySummary().count).toBe(100_000)
    expect(new Histogram().latencySummary().p99Ms).toBeNull()
  })
})

describe('source plan', () => {
  it('keeps every worker under its socket budget and every address under 10,000 subscribers', () => {
    const plan = planSources({ subscribers: 50_000, requestedWorkers: 2, fdLimit: 20_000, portMode: 'auto', addressOctet: 7 })
    expect(plan.workers).toBe(3)
    expect(plan.addresses).toEqual(['127.0.7.1', '127.0.7.2', '127.0.7.3', '127.0.7.4', '127.0.7.5'])
    expect(plan.portBase).toBe(20_000)
    const small = planSources({ subscribers: 20, requestedWorkers: 2, fdLimit: 20_000, portMode: 'auto', addressOctet: 7 })
    expect(small).toMatchObject({ workers: 2, portBase: null })
  })
})

describe('svg chart', () => {
  it('writes a standalone SVG with one bar per value and escaped labels', () => {
    const svg = renderBarChart({
      title: 'A & B',
      unit: 'ms',
      scale: 'log',
      groups: ['S', 'A'],
      series: [
        { name: 'x<y', color: '#000', values: [12, 3400] },
        { name: 'z', color: '#111', values: [5, null] },
      ],
      format: String,
    })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg).toContain('A &#38; B')
    expect(svg).toContain('x&#60;y')
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3)
    expect(svg).toContain('>n/a<')
  })
})

/**
 * Runs `script` in a child Node process, which must wait for a line on stdin, do its work, then write `done` to
 * stdout; returns the meter's reading of the child before and after the work.
 */
async function usageAroundChild(script: string): Promise<{ before: RootUsage | undefined; after: RootUsage | undefined }> {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await new Promise((resolve) => child.once('spawn', resolve))
    const pid = child.pid ?? 0
    const meter = new ProcMeter(() => [pid])
    // Give the child time to start up (what it does while loading is not what is counted).
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = meter.usageByRoot().get(pid)
    child.stdin.write('go\n')
    while (!output.endsWith('done')) await new Promise((resolve) => setTimeout(resolve, 10))
    return { before, after: meter.usageByRoot().get(pid) }
  } finally {
    child.kill()
  }
}

describe('proc meter', () => {
  it("counts a process's write system calls, by root", async () => {
    // The child writes 200 times to its stdout pipe once told to, then says it is done.
    const { before, after } = await usageAroundChild(
      "process.stdin.once('data', () => { for (let i = 0; i < 200; i++) require('fs').writeSync(1, 'x'); require('fs').writeSync(1, 'done') })",
    )
    const writes = (after?.writeCalls ?? -1) - (before?.writeCalls ?? -1)
    expect(before?.writeCalls).toBeGreaterThanOrEqual(0)
    // 201 writes of its own; a runtime thread may add a few.
    expect(writes).toBeGreaterThanOrEqual(201)
    expect(writes).toBeLessThan(260)
  })

  it("counts a process's sleeps and wake-ups, by root", async () => {
    // Once told to, the child sleeps 40 times on a timer of its own, one after the other, then says it is done.
    const { before, after } = await usageAroundChild(
      [
        "process.stdin.once('data', async () => {",
        '  for (let i = 0; i < 40; i++) await new Promise((resolve) => setTimeout(resolve, 5))',
        "  require('fs').writeSync(1, 'done')",
        '})',
      ].join('\n'),
    )
    expect(typeof before?.contextSwitches?.voluntary).toBe('number')
    expect(typeof after?.contextSwitches?.involuntary).toBe('number')
    // Each 5 ms sleep ends the thread's turn on the CPU: at least one voluntary switch each.
    const slept = (after?.contextSwitches?.voluntary ?? 0) - (before?.contextSwitches?.voluntary ?? 0)
    expect(slept).toBeGreaterThanOrEqual(40)
  })

  it('reports no counts for a process that is gone', () => {
    // Above the kernel's largest process id (pid_max is at most 2^22).
    const pid = 2 ** 22 + 1
    const meter = new ProcMeter(() => [pid])
    expect(meter.usageByRoot().get(pid)).toEqual({ cpuUs: 0, writeCalls: null, contextSwitches: null })
  })
})

const noLatency = { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 }

/** A complete run result of `system` on scenario A, with the figures the scale-out table reads. */
function resultOf(
  system: string,
  figures: { cpuUsPerDelivery: number; p50Ms: number; switches?: number; subscribers?: number; startedAt?: string },
): RunResult {
  const subscribers = figures.subscribers ?? 1000
  const delivered = subscribers * 1000
  return {
    schema: 'herald-bench-hub/1',
    startedAt: figures.startedAt ?? '2026-12-05T00:00:00.000Z',
    system: { name: system, version: 'test' },
    scenario: {
      id: 'A',
      title: subscribers === 1000 ? 'A 1k × 1000 @100/s' : `A custom ${subscribers} × 1000 @100/s`,
      standard: subscribers === 1000,
      ...{ subscribers, messages: 1000, ratePerSecond: 100, topics: 1, payloadBytes: 64, holdMs: 0 },
    },
    machine: { cpus: 2, cpuModel: 'test', memoryMB: 1024, kernel: 'test', node: 'v20', fdLimit: 20000, loadAverage1m: 0 },
    connections: {
      ...{ requested: subscribers, established: subscribers, failed: 0, failuresByReason: {}, connectSeconds: 1 },
      ...{ connectLatency: noLatency, notReady: 0, dropped: 0, dropsByReason: {} },
    },
    publish: {
      ...{ sent: 1000, acked: 1000, errors: 0, errorsByOutcome: {}, seconds: 10, achievedRatePerSecond: 100 },
      ...{ ackLatency: noLatency, sendLag: noLatency },
    },
    delivery: {
      ...{ expected: delivered, delivered, lost: 0, duplicates: 0, outOfOrder: 0, unexpected: 0 },
      ...{ deliveriesPerSecond: delivered / 10, latency: { ...noLatency, p50Ms: figures.p50Ms }, latencyHistogram: new Histogram().snapshot() },
    },
    server: {
      ...{ rootPids: [1], processes: 1, cpuConnectSeconds: 1, cpuHoldSeconds: 0 },
      cpuPublishSeconds: (figures.cpuUsPerDelivery * delivered) / 1e6,
      cpuUsPerDelivery: figures.cpuUsPerDelivery,
      ...(figures.switches === undefined
        ? {}
        : { contextSwitchesPublishByRoot: [{ pid: 1, voluntary: figures.switches, involuntary: 0 }] }),
      ...{ rssBeforeKB: 1, rssConnectedKB: 1, rssPeakKB: 1, rssAfterKB: 1, rssPerConnectionKB: 1 },
    },
    client: { workers: 2, sourceAddresses: [], explicitSourcePorts: false, portFallbacks: 0, cpuSeconds: 1, rssPeakKB: 1 },
    cpuPublishPhase: { wallSeconds: 10, machineBusySeconds: 10, serverSeconds: 5, clientSeconds: 1, otherSeconds: 0 },
    notes: [],
  }
}

describe('scale-out table', () => {
  const results = [
    // One memory node: 5.0 and 5.4 µs (median 5.2), p50 23 ms.
    resultOf('herald-hub', { cpuUsPerDelivery: 5.0, p50Ms: 22, switches: 10_000 }),
    resultOf('herald-hub', { cpuUsPerDelivery: 5.4, p50Ms: 24, switches: 14_000 }),
    resultOf('herald-hub-redis-1', { cpuUsPerDelivery: 5.8, p50Ms: 24 }),
    resultOf('herald-hub-redis-2', { cpuUsPerDelivery: 6.76, p50Ms: 25, switches: 17_000 }),
    resultOf('herald-hub-nats-1', { cpuUsPerDelivery: 6.5, p50Ms: 24.5 }),
    resultOf('herald-hub-nats-2', { cpuUsPerDelivery: 7.8, p50Ms: 25.5 }),
    // Another shape and a system outside the table: neither mixes into the rows above.
    resultOf('herald-hub', { cpuUsPerDelivery: 9, p50Ms: 30, subscribers: 500 }),
    resultOf('naive', { cpuUsPerDelivery: 1, p50Ms: 1 }),
  ]

  it('divides two nodes by one memory node and by one node on the same engine, and judges the targets', () => {
    const table = renderScaleOutTable(results) ?? ''
    const rows = table.split('\n').filter((row) => row.startsWith('| A 1k'))
    expect(rows).toEqual([
      '| A 1k × 1000 @100/s | herald-hub | 2 | 5.20 | 1 |  |  | 23.0 |  | 0.0120 |',
      '| A 1k × 1000 @100/s | herald-hub-redis-1 | 1 | 5.80 | 1.12× |  |  | 24.0 | +1.0 ms | - |',
      // 6.76 / 5.2 = 1.30 and 6.76 / 5.8 = 1.17: both within 1.3×; p50 2.0 ms above: within 2 ms. Run by run: two memory
      // runs against one two-node run pair up with nothing.
      '| A 1k × 1000 @100/s | herald-hub-redis-2 | 1 | 6.76 | 1.30× ✓ | 1.17× ✓ | -; 1.17× | 25.0 | +2.0 ms ✓ | 0.0170 |',
      '| A 1k × 1000 @100/s | herald-hub-nats-1 | 1 | 6.50 | 1.25× |  |  | 24.5 | +1.5 ms | - |',
      // 7.8 / 5.2 = 1.50 and 7.8 / 6.5 = 1.20; p50 2.5 ms above.
      '| A 1k × 1000 @100/s | herald-hub-nats-2 | 1 | 7.80 | 1.50× ✗ | 1.20× ✓ | -; 1.20× | 25.5 | +2.5 ms ✗ | - |',
    ])
    expect(table).not.toContain('500 ×')
    expect(table).not.toContain('naive')
    expect(table).toContain('Targets: two nodes at most 1.3×')
  })

  it('gives the range of the ratios round by round, pairing the runs of each set-up in start order', () => {
    // Three rounds, listed out of order; round 2 was slow for every set-up.
    const rounds = [
      { at: '2026-12-05T00:02:00.000Z', memory: 8, one: 10, two: 11 },
      { at: '2026-12-05T00:01:00.000Z', memory: 4, one: 5, two: 6 },
      { at: '2026-12-05T00:03:00.000Z', memory: 4, one: 5, two: 7 },
    ]
    const paired = rounds.flatMap(({ at, memory, one, two }) => [
      resultOf('herald-hub', { cpuUsPerDelivery: memory, p50Ms: 20, startedAt: at }),
      resultOf('herald-hub-nats-1', { cpuUsPerDelivery: one, p50Ms: 20, startedAt: at }),
      resultOf('herald-hub-nats-2', { cpuUsPerDelivery: two, p50Ms: 20, startedAt: at }),
    ])
    const row = (renderScaleOutTable(paired) ?? '').split('\n').find((line) => line.includes('| herald-hub-nats-2 |'))
    // Per round ÷ memory: 6/4 = 1.50, 11/8 = 1.38, 7/4 = 1.75; ÷ one NATS node: 1.20, 1.10, 1.40. The medians alone
    // (7 ÷ 4 = 1.75 and 7 ÷ 5 = 1.40) would hide round 2's pair.
    expect(row).toBe('| A 1k × 1000 @100/s | herald-hub-nats-2 | 3 | 7.00 | 1.75× ✗ | 1.40× ✗ | 1.38–1.75×; 1.10–1.40× | 20.0 | +0.0 ms ✓ | - |')
  })

  it('has nothing to show without a two-node run, or without a memory node', () => {
    expect(renderScaleOutTable(results.filter((r) => !r.system.name.endsWith('-2')))).toBeNull()
    expect(renderScaleOutTable(results.filter((r) => r.system.name !== 'herald-hub'))).toBeNull()
  })
})

describe('npm run bench:hub on the naive server (real processes and sockets)', () => {
  const buildDir = join(root, 'bench', 'out', `.build-test-${process.pid}`)
  const outDir = mkdtempSync(join(tmpdir(), 'herald-bench-test-'))
  afterAll(() => {
    rmSync(buildDir, { recursive: true, force: true })
    rmSync(outDir, { recursive: true, force: true })
  })
  const harness = join(root, 'bench', 'harness', 'run.mjs')
  const harnessOptions = { cwd: root, env: { ...process.env, HERALD_BENCH_BUILD_DIR: buildDir } }
  /** Runs the harness's command line (`npm run bench:hub -- …args`), with this suite's build directory. */
  const runHarness = (args: readonly string[], timeout?: number): ReturnType<typeof run> =>
    run(process.execPath, [harness, ...args], { ...harnessOptions, ...(timeout !== undefined && { timeout }) })

  it('delivers 20 subscribers × 5 messages with nothing lost, in ack-paced and rate modes', async () => {
    const { stdout } = await runHarness(
      [
        ...['--systems', 'naive', '--scenarios', 'S,A', '--quick'],
        ...['--subscribers', '20', '--messages', '5', '--topics', '2'],
        ...['--out', outDir, '--no-report'],
      ],
      60_000,
    )
    const results: RunResult[] = readdirSync(outDir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => parseRunResult(readFileSync(join(outDir, name), 'utf8'), name))
    expect(results.map((r) => r.scenario.id).sort()).toEqual(['A', 'S'])
    for (const r of results) {
      expect(r.system.name).toBe('naive')
      expect(r.scenario.standard).toBe(false)
      expect(r.connections).toMatchObject({ requested: 20, established: 20, failed: 0, notReady: 0, dropped: 0 })
      // Topic 0 gets messages 1, 3, 5 and topic 1 gets 2, 4; ten subscribers each.
      expect(r.delivery).toMatchObject({ expected: 50, delivered: 50, lost: 0, duplicates: 0, outOfOrder: 0, unexpected: 0 })
      expect(r.delivery.latency.count).toBe(50)
      expect(r.publish).toMatchObject({ sent: 5, acked: 5, errors: 0 })
      expect(r.server.rootPids).toHaveLength(1)
      // Split by root process: one entry per root, together the publish phase's CPU (each read a moment apart).
      const byRoot = r.server.cpuPublishSecondsByRoot ?? []
      expect(byRoot.map((entry) => entry.pid)).toEqual(r.server.rootPids)
      const summed = byRoot.reduce((total, entry) => total + entry.seconds, 0)
      expect(Math.abs(summed - r.server.cpuPublishSeconds)).toBeLessThanOrEqual(0.05)
      // The server wrote the 50 deliveries to its subscribers' sockets, in at least one write system call.
      const writes = r.server.writeCallsPublishByRoot ?? []
      expect(writes.map((entry) => entry.pid)).toEqual(r.server.rootPids)
      expect(writes[0]?.calls).toBeGreaterThan(0)
      // It slept between publishes and was woken for each: voluntary context switches.
      const switches = r.server.contextSwitchesPublishByRoot ?? []
      expect(switches.map((entry) => entry.pid)).toEqual(r.server.rootPids)
      expect(switches[0]?.voluntary).toBeGreaterThan(0)
      expect(r.server.rssConnectedKB).toBeGreaterThan(0)
      expect(r.client.workers).toBe(2)
    }
    expect(stdout).toContain('| naive |')

    // The report rewrites only its own block of the page, and writes the four charts.
    const docsDir = join(outDir, 'docs')
    const page = `# Benchmarks\n\nhand-written intro\n\n${REPORT_START}\nold table\n${REPORT_END}\n\nhand-written outro\n`
    mkdirSync(docsDir)
    writeFileSync(join(docsDir, 'benchmarks.md'), page)
    const files = writeReport(results, docsDir, ['naive'])
    const written = readFileSync(files.markdown, 'utf8')
    expect(written).toMatch(/^# Benchmarks\n\nhand-written intro\n\n<!-- hub-harness:results:start -->/)
    expect(written).toMatch(/<!-- hub-harness:results:end -->\n\nhand-written outro\n$/)
    expect(written).not.toContain('old table')
    expect(written).toContain('| S custom 20 × 5 ack-paced | naive | 20/20 | 50 / 50 (0) |')
    expect(files.charts).toHaveLength(4)
    for (const chart of files.charts) expect(existsSync(chart)).toBe(true)
  })

  it('leaves the report as it was when a standard run is interrupted', async () => {
    const out = mkdtempSync(join(tmpdir(), 'herald-bench-interrupt-'))
    const docsDir = join(out, 'docs')
    mkdirSync(docsDir)
    const page = `# Benchmarks\n\n${REPORT_START}\nold table\n${REPORT_END}\n`
    writeFileSync(join(docsDir, 'benchmarks.md'), page)
    const child = spawn(
      process.execPath,
      [harness, '--systems', 'naive', '--scenarios', 'S,A', '--out', out, '--docs', docsDir, '--quiet-wait-seconds', '0'],
      { ...harnessOptions, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      // Interrupt once the first of the two standard runs wrote its result.
      while (!readdirSync(out).some((name) => name.endsWith('.json'))) await new Promise((resolve) => setTimeout(resolve, 100))
      child.kill('SIGTERM')
      expect(await exited).toBe(130)
      expect(stderr).toContain('report: not written (the run was interrupted; --report forces it)')
      expect(readFileSync(join(docsDir, 'benchmarks.md'), 'utf8')).toBe(page)
      expect(existsSync(join(docsDir, 'bench'))).toBe(false)
    } finally {
      child.kill('SIGKILL')
      rmSync(out, { recursive: true, force: true })
    }
  }, 120_000)

  it('prints the scale-out table of the result files in a directory', async () => {
    const out = mkdtempSync(join(tmpdir(), 'herald-bench-scale-out-'))
    try {
      const nested = join(out, 'round')
      mkdirSync(nested)
      writeFileSync(join(out, 'memory.json'), JSON.stringify(resultOf('herald-hub', { cpuUsPerDelivery: 5, p50Ms: 23 })))
      const twoNodes = resultOf('herald-hub-nats-2', { cpuUsPerDelivery: 7, p50Ms: 24 })
      writeFileSync(join(nested, 'nats-2.json'), JSON.stringify(twoNodes))
      writeFileSync(join(nested, 'notes.txt'), 'not a result')
      writeFileSync(join(nested, 'package.json'), '{ "type": "module" }')
      const { stdout } = await runHarness(['scale-out', out])
      expect(stdout).toContain('| A 1k × 1000 @100/s | herald-hub-nats-2 | 1 | 7.00 | 1.40× ✗ |')
      await expect(
        runHarness(['scale-out', join(out, 'memory.json')]),
      ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('scale-out: no scenario with runs of herald-hub') })
      // A file named directly must be a run result.
      await expect(
        runHarness(['scale-out', join(nested, 'package.json')]),
      ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('not a herald-bench-hub/1 result') })
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it('rejects an unknown system with a usage error', async () => {
    await expect(
      runHarness(['--systems', 'nope']),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('unknown system "nope"') })
  })
})
