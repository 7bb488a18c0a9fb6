/**
 * The load coordinator: forks the subscriber workers, drives the phases of a run (connect, settle, hold,
 * warm-up, publish, drain), samples the server's /proc counters between phases and merges the workers'
 * reports into the result parts of `report/run-result.ts`.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { Histogram } from '../histogram.js'
import { machineBusyUs } from '../machine-cpu.js'
import { monotonicUs } from '../monotonic-clock.js'
import { ProcMeter, type ProcSample } from '../proc-meter.js'
import type { ProgressLine } from '../progress-line.js'
import type {
  ClientResult,
  ConnectionResult,
  DeliveryResult,
  PublishPhaseCpu,
  PublishResult,
  ServerResult,
} from '../report/run-result.js'
import type { Scenario } from '../scenarios.js'
import type { RunningSystem } from '../system.js'
import { formatPayload } from './payload.js'
import { DEFAULT_PUBLISH_IN_FLIGHT, PublishClient, publishMessages } from './publisher.js'
import { planSources, type SourcePortMode } from './source-plan.js'
import type { ParentMessage, WorkerMessage, WorkerProgress, WorkerReport, WorkerStart } from './worker-messages.js'

/** Background CPU share (of all cores) during publishing above which a run gets a note. @defaultValue 0.1 */
export const BACKGROUND_NOTE_SHARE = 0.1

/** Tunables of a run; every field has a default in {@link DEFAULT_LOAD_TIMINGS}. */
export interface LoadTimings {
  /** Subscribe attempts in flight at once, over all workers. */
  readonly connectConcurrency: number
  /** Time allowed for one subscribe (connect to response head). */
  readonly connectTimeoutMs: number
  /** Upper bound of the whole connect phase. */
  readonly connectPhaseMaxMs: number
  /** Pause after the last connect, before measuring memory and warming up. */
  readonly settleMs: number
  /** Warm-up messages are repeated every this often until every stream has seen one. */
  readonly warmupIntervalMs: number
  /** Upper bound of the warm-up; streams still not ready are reported as `notReady`. */
  readonly warmupTimeoutMs: number
  /** After the last acknowledgement, stop waiting when nothing arrived for this long. */
  readonly drainIdleMs: number
  /** After the last acknowledgement, stop waiting after this long in any case. */
  readonly drainMaxMs: number
  /** Publish requests in flight at once in rate mode. */
  readonly publishInFlight: number
  /** Worker progress report interval. */
  readonly progressIntervalMs: number
}

/** Defaults for {@link LoadTimings}. */
export const DEFAULT_LOAD_TIMINGS: LoadTimings = {
  connectConcurrency: 200,
  connectTimeoutMs: 30_000,
  connectPhaseMaxMs: 300_000,
  settleMs: 1_000,
  warmupIntervalMs: 1_000,
  warmupTimeoutMs: 30_000,
  drainIdleMs: 3_000,
  drainMaxMs: 60_000,
  publishInFlight: DEFAULT_PUBLISH_IN_FLIGHT,
  progressIntervalMs: 200,
}

/** Everything a run needs. */
export interface LoadRunOptions {
  readonly system: RunningSystem
  readonly scenario: Scenario
  /** Topic names, one per scenario topic (unique per run, so runs never share channels). */
  readonly topics: readonly string[]
  /** Path of the compiled `load-worker` program. */
  readonly workerProgram: string
  /** Worker processes asked for (raised when the subscribers need more). */
  readonly workers: number
  readonly portMode: SourcePortMode
  /** RLIMIT_NOFILE the workers inherit. */
  readonly fdLimit: number
  readonly timings: LoadTimings
  /** Meter over the system's processes; the run starts and stops its peak tracking. */
  readonly meter: ProcMeter
  readonly progress: ProgressLine
  /** Prefix of progress lines, e.g. `[nchan A]`. */
  readonly label: string
  readonly signal: AbortSignal
}

/** The measured parts of a run. */
export interface LoadOutcome {
  readonly connections: ConnectionResult
  readonly publish: PublishResult
  readonly delivery: DeliveryResult
  readonly server: ServerResult
  readonly client: ClientResult
  readonly cpuPublishPhase: PublishPhaseCpu
  readonly notes: readonly string[]
}

interface WorkerHandle {
  readonly child: ChildProcess
  progress: WorkerProgress | null
  report: WorkerReport | null
  failure: string | null
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error('aborted'))
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new Error('aborted'))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })

const seconds = (us: number): number => us / 1e6

/** Count of `seq` in 1…messages with `(seq − 1) % topics === t`. */
function messagesForTopic(t: number, messages: number, topics: number): number {
  return t >= messages ? 0 : Math.floor((messages - 1 - t) / topics) + 1
}

/**
 * One run of the load generator against one started system.
 *
 * @example
 * const load = new LoadRun(options)
 * try {
 *   const outcome = await load.run()
 * } finally {
 *   await system.stop()   // the server closes the streams first: no TIME_WAIT on the client side
 *   await load.close()
 * }
 */
export class LoadRun {
  private readonly workers: WorkerHandle[] = []
  private readonly notes: string[] = []
  /** The load generator's own processes: the workers and this (publishing) process, without descendants. */
  private readonly clientMeter = new ProcMeter(
    () => [process.pid, ...this.workers.map((w) => w.child.pid ?? 0).filter((pid) => pid > 0)],
    { descendants: false },
  )

  constructor(private readonly options: LoadRunOptions) {}

  /** Runs every phase and returns the measurements. */
  async run(): Promise<LoadOutcome> {
    const { scenario, timings, meter, system, signal } = this.options
    const plan = planSources({
      subscribers: scenario.subscribers,
      requestedWorkers: this.options.workers,
      fdLimit: this.options.fdLimit,
      portMode: this.options.portMode,
      addressOctet: 1 + Math.floor(Math.random() * 254),
    })
    const maxConcurrency = Math.min(
      timings.connectConcurrency,
      system.limits?.maxConnectConcurrency ?? Number.POSITIVE_INFINITY,
    )
    const perWorkerConcurrency = Math.max(1, Math.floor(maxConcurrency / plan.workers))
    const topics = this.options.topics.map((name, t) => ({
      url: system.subscribeUrl(name),
      ...(system.subscribeUrls ? { urls: system.subscribeUrls(name) } : {}),
      expected: messagesForTopic(t, scenario.messages, this.options.topics.length),
    }))

    meter.startPeakTracking()
    const before = meter.sample()

    // Connect.
    const connectStartUs = monotonicUs()
    for (let w = 0; w < plan.workers; w++) {
      const start: WorkerStart = {
        type: 'start',
        workerIndex: w,
        workerCount: plan.workers,
        subscribers: scenario.subscribers,
        topics,
        headers: system.subscribeHeaders ?? {},
        addresses: plan.addresses,
        portBase: plan.portBase,
        connectConcurrency: perWorkerConcurrency,
        connectTimeoutMs: timings.connectTimeoutMs,
        progressIntervalMs: timings.progressIntervalMs,
      }
      this.spawnWorker(start)
    }
    const connectDone = await this.waitFor(
      () => this.workers.every((w) => w.progress?.connectDone === true),
      timings.connectPhaseMaxMs,
      () => {
        const t = this.totals()
        return `connect ${t.established.toLocaleString('en')}/${scenario.subscribers.toLocaleString('en')} (${t.failed} failed)`
      },
    )
    const connectSeconds = seconds(monotonicUs() - connectStartUs)
    if (!connectDone) this.notes.push(`connect phase cut off after ${timings.connectPhaseMaxMs} ms`)

    await sleep(timings.settleMs, signal)
    const connected = meter.sample()

    // Hold: idle with every stream open.
    let afterHold = connected
    if (scenario.holdMs > 0) {
      this.options.progress.update(`${this.options.label} holding ${scenario.holdMs / 1000} s idle`, true)
      await sleep(scenario.holdMs, signal)
      afterHold = meter.sample()
    }

    const client = new PublishClient(system.publish, { maxSockets: Math.max(1, timings.publishInFlight) })
    try {
      const notReady = await this.warmUp(client)

      // Publish, then drain.
      const beforePublish = meter.sample()
      const byRootBefore = meter.usageByRoot()
      const clientBefore = this.clientMeter.sample()
      const machineBefore = machineBusyUs()
      const publishStartUs = monotonicUs()
      const publish = await publishMessages(
        client,
        {
          topics: this.options.topics,
          messages: scenario.messages,
          ratePerSecond: scenario.ratePerSecond,
          payloadBytes: scenario.payloadBytes,
          maxInFlight: timings.publishInFlight,
        },
        signal,
        (acked) => {
          const t = this.totals()
          this.options.progress.update(
            `${this.options.label} publish ${acked}/${scenario.messages} acked, ${t.delivered.toLocaleString('en')} delivered`,
          )
        },
      )
      await this.drain()
      const afterPublish = meter.sample()
      const byRootAfter = meter.usageByRoot()
      const serverSeconds = seconds(afterPublish.cpuUs - beforePublish.cpuUs)
      const clientSeconds = seconds(this.clientMeter.sample().cpuUs - clientBefore.cpuUs)
      const machineBusySeconds = seconds(machineBusyUs() - machineBefore)
      const cpuPublishPhase: PublishPhaseCpu = {
        wallSeconds: seconds(monotonicUs() - publishStartUs),
        machineBusySeconds,
        serverSeconds,
        clientSeconds,
        otherSeconds: Math.max(0, machineBusySeconds - serverSeconds - clientSeconds),
      }
      const otherShare = cpuPublishPhase.otherSeconds / (cpuPublishPhase.wallSeconds * availableParallelism())
      if (otherShare > BACKGROUND_NOTE_SHARE) {
        this.notes.push(`other processes used ${(otherShare * 100).toFixed(0)} % of the machine's CPU while publishing`)
      }

      const reports = await this.collect()
      meter.stop()
      const cpuPublishSecondsByRoot = [...byRootAfter].map(([pid, after]) => ({
        pid,
        seconds: seconds(after.cpuUs - (byRootBefore.get(pid)?.cpuUs ?? after.cpuUs)),
      }))
      const writeCallsPublishByRoot = [...byRootAfter].flatMap(([pid, after]) => {
        const before = byRootBefore.get(pid)?.writeCalls ?? null
        return after.writeCalls === null || before === null ? [] : [{ pid, calls: after.writeCalls - before }]
      })
      const contextSwitchesPublishByRoot = [...byRootAfter].flatMap(([pid, after]) => {
        const before = byRootBefore.get(pid)?.contextSwitches ?? null
        if (after.contextSwitches === null || before === null) return []
        const { voluntary, involuntary } = after.contextSwitches
        return [{ pid, voluntary: voluntary - before.voluntary, involuntary: involuntary - before.involuntary }]
      })
      const parts = {
        ...{ plan, reports, publish, notReady, connectSeconds, before, connected, afterHold, beforePublish, afterPublish },
        ...{ cpuPublishSecondsByRoot, writeCallsPublishByRoot, contextSwitchesPublishByRoot },
      }
      return { ...this.assemble(parts), cpuPublishPhase }
    } finally {
      client.close()
      meter.stop()
    }
  }

  /** Ends the workers (their sockets close with them). Safe to call more than once. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        const { child } = worker
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        if (child.connected) this.sendTo(worker, { type: 'close' })
        else child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }),
    )
  }

  private spawnWorker(start: WorkerStart): void {
    const child = fork(this.options.workerProgram, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
    const handle: WorkerHandle = { child, progress: null, report: null, failure: null }
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') handle.progress = message
      else if (message.type === 'report') handle.report = message
      else handle.failure = message.message
    })
    child.on('exit', (code, signal) => {
      if (handle.report === null && handle.failure === null) handle.failure = `worker exited (${signal ?? code})`
    })
    this.workers.push(handle)
    this.sendTo(handle, start)
  }

  private sendTo(worker: WorkerHandle, message: ParentMessage): void {
    if (worker.child.connected) worker.child.send(message)
  }

  private totals(): { established: number; failed: number; ready: number; delivered: number; outstanding: number } {
    let established = 0
    let failed = 0
    let ready = 0
    let delivered = 0
    let outstanding = 0
    for (const { progress } of this.workers) {
      established += progress?.established ?? 0
      failed += progress?.failed ?? 0
      ready += progress?.ready ?? 0
      delivered += progress?.delivered ?? 0
      outstanding += progress?.outstanding ?? 0
    }
    return { established, failed, ready, delivered, outstanding }
  }

  /**
   * Polls `done` every 50 ms until it holds (true) or `timeoutMs` passed (false); throws when a worker
   * failed or the run was aborted. `status` feeds the progress line.
   */
  private async waitFor(done: () => boolean, timeoutMs: number, status: () => string): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const failure = this.workers.find((w) => w.failure !== null && w.report === null)
      if (failure) throw new Error(`load worker failed: ${failure.failure ?? ''}`)
      if (done()) return true
      if (Date.now() >= deadline) return false
      this.options.progress.update(`${this.options.label} ${status()}`)
      await sleep(50, this.options.signal)
    }
  }

  /**
   * Publishes a warm-up message (number 0) to every topic until every open stream has seen one: proof that
   * each subscription is live on the server before anything is measured. Returns the streams not ready.
   */
  private async warmUp(client: PublishClient): Promise<number> {
    const { timings, scenario } = this.options
    const deadline = Date.now() + timings.warmupTimeoutMs
    const allReady = (): boolean => {
      const t = this.totals()
      return t.ready >= t.established
    }
    while (Date.now() < deadline) {
      for (const topic of this.options.topics) {
        const ack = await client.send(topic, formatPayload(0, 0, monotonicUs(), scenario.payloadBytes))
        if (!ack.ok) this.notes.push(`warm-up publish answered ${ack.outcome}`)
      }
      const remaining = Math.max(0, deadline - Date.now())
      if (await this.waitFor(allReady, Math.min(timings.warmupIntervalMs, remaining), () => this.warmStatus())) return 0
    }
    const t = this.totals()
    const notReady = Math.max(0, t.established - t.ready)
    if (notReady > 0) this.notes.push(`${notReady} stream${notReady === 1 ? '' : 's'} had no warm-up message after ${timings.warmupTimeoutMs} ms`)
    return notReady
  }

  private warmStatus(): string {
    const t = this.totals()
    return `warm-up ${t.ready.toLocaleString('en')}/${t.established.toLocaleString('en')} streams live`
  }

  /** Waits for every open stream to have everything, or for deliveries to stop. */
  private async drain(): Promise<void> {
    const { timings } = this.options
    let lastDelivered = -1
    let lastChangeMs = Date.now()
    const finished = await this.waitFor(
      () => {
        const t = this.totals()
        if (t.delivered !== lastDelivered) {
          lastDelivered = t.delivered
          lastChangeMs = Date.now()
        }
        return t.outstanding <= 0 || Date.now() - lastChangeMs >= timings.drainIdleMs
      },
      timings.drainMaxMs,
      () => `drain ${this.totals().delivered.toLocaleString('en')} delivered, ${this.totals().outstanding.toLocaleString('en')} outstanding`,
    )
    if (!finished) this.notes.push(`deliveries still arriving ${timings.drainMaxMs} ms after the last acknowledgement`)
  }

  private async collect(): Promise<WorkerReport[]> {
    for (const worker of this.workers) this.sendTo(worker, { type: 'collect' })
    const ok = await this.waitFor(() => this.workers.every((w) => w.report !== null), 30_000, () => 'collecting reports')
    if (!ok) throw new Error('load workers did not report within 30 s')
    return this.workers.map((w) => w.report).filter((r): r is WorkerReport => r !== null)
  }

  private assemble(parts: {
    plan: ReturnType<typeof planSources>
    reports: WorkerReport[]
    publish: Awaited<ReturnType<typeof publishMessages>>
    notReady: number
    connectSeconds: number
    before: ProcSample
    connected: ProcSample
    afterHold: ProcSample
    beforePublish: ProcSample
    afterPublish: ProcSample
    cpuPublishSecondsByRoot: readonly { readonly pid: number; readonly seconds: number }[]
    writeCallsPublishByRoot: readonly { readonly pid: number; readonly calls: number }[]
    contextSwitchesPublishByRoot: NonNullable<ServerResult['contextSwitchesPublishByRoot']>
  }): Omit<LoadOutcome, 'cpuPublishPhase'> {
    const { plan, reports, publish, before, connected, afterHold, beforePublish, afterPublish } = parts
    const { scenario, meter, system } = this.options
    const latency = new Histogram()
    const connectLatency = new Histogram()
    const sum = (pick: (r: WorkerReport) => number): number => reports.reduce((acc, r) => acc + pick(r), 0)
    const merge = (pick: (r: WorkerReport) => Readonly<Record<string, number>>): Record<string, number> => {
      const out: Record<string, number> = {}
      for (const r of reports) for (const [k, v] of Object.entries(pick(r))) out[k] = (out[k] ?? 0) + v
      return out
    }
    let lastDeliveryUs: number | null = null
    for (const r of reports) {
      latency.merge(r.latency)
      connectLatency.merge(r.connectLatency)
      if (r.lastDeliveryUs !== null && (lastDeliveryUs === null || r.lastDeliveryUs > lastDeliveryUs)) lastDeliveryUs = r.lastDeliveryUs
    }
    const established = sum((r) => r.established)
    const delivered = sum((r) => r.delivered)
    const expected = sum((r) => r.expected)
    const deliverySpanS = lastDeliveryUs === null ? 0 : seconds(lastDeliveryUs - publish.firstSendUs)
    const publishSpanS = seconds(publish.lastAckUs - publish.firstSendUs)
    const cpuPublishSeconds = seconds(afterPublish.cpuUs - beforePublish.cpuUs)
    const ackLatency = new Histogram()
    ackLatency.merge(publish.ackLatency)
    const sendLag = new Histogram()
    sendLag.merge(publish.sendLag)

    return {
      connections: {
        requested: scenario.subscribers,
        established,
        failed: sum((r) => r.failed),
        failuresByReason: merge((r) => r.failuresByReason),
        connectSeconds: parts.connectSeconds,
        connectLatency: connectLatency.latencySummary(),
        notReady: parts.notReady,
        dropped: sum((r) => r.dropped),
        dropsByReason: merge((r) => r.dropsByReason),
      },
      publish: {
        sent: publish.sent,
        acked: publish.acked,
        errors: publish.errors,
        errorsByOutcome: publish.errorsByOutcome,
        seconds: publishSpanS,
        achievedRatePerSecond: publishSpanS > 0 ? publish.sent / publishSpanS : 0,
        ackLatency: ackLatency.latencySummary(),
        sendLag: sendLag.latencySummary(),
      },
      delivery: {
        expected,
        delivered,
        lost: Math.max(0, expected - delivered),
        duplicates: sum((r) => r.duplicates),
        outOfOrder: sum((r) => r.outOfOrder),
        unexpected: sum((r) => r.unexpected),
        deliveriesPerSecond: deliverySpanS > 0 ? delivered / deliverySpanS : 0,
        latency: latency.latencySummary(),
        latencyHistogram: latency.snapshot(),
      },
      server: {
        rootPids: [...system.pids()],
        processes: afterPublish.processes,
        cpuConnectSeconds: seconds(connected.cpuUs - before.cpuUs),
        cpuHoldSeconds: seconds(afterHold.cpuUs - connected.cpuUs),
        cpuPublishSeconds,
        cpuPublishSecondsByRoot: parts.cpuPublishSecondsByRoot,
        writeCallsPublishByRoot: parts.writeCallsPublishByRoot,
        contextSwitchesPublishByRoot: parts.contextSwitchesPublishByRoot,
        cpuUsPerDelivery: delivered > 0 ? (cpuPublishSeconds * 1e6) / delivered : null,
        rssBeforeKB: before.rssKB,
        rssConnectedKB: connected.rssKB,
        rssPeakKB: meter.peakRssKB,
        rssAfterKB: afterPublish.rssKB,
        rssPerConnectionKB: established > 0 ? (connected.rssKB - before.rssKB) / established : null,
      },
      client: {
        workers: plan.workers,
        sourceAddresses: plan.addresses,
        explicitSourcePorts: plan.portBase !== null,
        portFallbacks: sum((r) => r.portFallbacks),
        cpuSeconds: seconds(sum((r) => r.cpuUs)),
        rssPeakKB: sum((r) => r.maxRssKB),
      },
      notes: this.notes,
    }
  }
}
