/**
 * Subscriber worker process: opens its share of the SSE subscribers, counts and times every delivery,
 * and reports to the coordinator over IPC (`worker-messages.ts`). Started by `run-load.ts` with fork().
 */
import { Histogram } from '../histogram.js'
import { monotonicUs } from '../monotonic-clock.js'
import { Delivery, DeliveryWindow } from './delivery-window.js'
import { encodeSubscribeRequest, openSseSubscriber, type SseSubscriber } from './sse-subscriber.js'
import type { ParentMessage, WorkerMessage, WorkerProgress, WorkerStart } from './worker-messages.js'

interface Stream {
  readonly topic: number
  readonly window: DeliveryWindow
  readonly expected: number
  subscriber: SseSubscriber | null
  open: boolean
  ready: boolean
}

function send(message: WorkerMessage): void {
  process.send?.(message)
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

function runWorker(config: WorkerStart): { collect(): void; close(): void } {
  const topics = config.topics.map((topic) => {
    const targets = (topic.urls && topic.urls.length > 0 ? topic.urls : [topic.url]).map((href) => {
      const url = new URL(href)
      return { host: url.hostname, port: Number(url.port || 80), request: encodeSubscribeRequest(url, config.headers) }
    })
    return { targets, expected: topic.expected }
  })
  const latency = new Histogram()
  const connectLatency = new Histogram()
  const failuresByReason: Record<string, number> = {}
  const dropsByReason: Record<string, number> = {}
  const streams: Stream[] = []
  let attempted = 0
  let established = 0
  let failed = 0
  let ready = 0
  let delivered = 0
  let outstanding = 0
  let expectedTotal = 0
  let dropped = 0
  let duplicates = 0
  let outOfOrder = 0
  let unexpected = 0
  let portFallbacks = 0
  let firstDeliveryUs: number | null = null
  let lastDeliveryUs: number | null = null
  let inFlight = 0
  let frozen = false
  let changed = true

  const indices: number[] = []
  for (let i = config.workerIndex; i < config.subscribers; i += config.workerCount) indices.push(i)
  let next = 0

  const open = (index: number, explicitPort: boolean): void => {
    const topicIndex = index % topics.length
    const topic = topics[topicIndex]
    if (!topic) throw new Error(`no topic ${topicIndex}`)
    const target = topic.targets[Math.floor(index / topics.length) % topic.targets.length]
    if (!target) throw new Error(`no subscribe URL for topic ${topicIndex}`)
    const addressCount = config.addresses.length
    const localAddress = config.addresses[index % addressCount]
    const localPort =
      explicitPort && config.portBase !== null ? config.portBase + Math.floor(index / addressCount) : 0
    const stream: Stream = {
      topic: topicIndex,
      window: new DeliveryWindow(topicIndex, topics.length, topic.expected),
      expected: topic.expected,
      subscriber: null,
      open: false,
      ready: false,
    }
    const startedUs = monotonicUs()
    inFlight++
    streams.push(stream)
    stream.subscriber = openSseSubscriber(
      {
        host: target.host,
        port: target.port,
        request: target.request,
        ...(localAddress === undefined ? {} : { localAddress }),
        localPort,
        connectTimeoutMs: config.connectTimeoutMs,
      },
      {
        onOpen() {
          inFlight--
          stream.open = true
          established++
          outstanding += stream.expected
          expectedTotal += stream.expected
          connectLatency.record(monotonicUs() - startedUs)
          changed = true
          pump()
        },
        onMarker(seq, floor, sentUs, receivedUs) {
          if (frozen) return
          if (seq === 0) {
            // Warm-up message: proves the subscription is live before measuring.
            if (!stream.ready) {
              stream.ready = true
              ready++
              changed = true
            }
            return
          }
          const outcome = stream.window.accept(seq, floor)
          if (outcome === Delivery.Duplicate) {
            duplicates++
            return
          }
          if (outcome === Delivery.Unexpected) {
            unexpected++
            return
          }
          if (outcome === Delivery.OutOfOrder) outOfOrder++
          delivered++
          outstanding--
          latency.record(receivedUs - sentUs)
          if (firstDeliveryUs === null) firstDeliveryUs = receivedUs
          lastDeliveryUs = receivedUs
          changed = true
        },
        onFail(reason) {
          inFlight--
          stream.subscriber = null
          if (reason === 'error-EADDRINUSE' && explicitPort) {
            // The planned source port is taken (by an unrelated socket): let the kernel choose one.
            portFallbacks++
            open(index, false)
            return
          }
          failed++
          bump(failuresByReason, reason)
          changed = true
          pump()
        },
        onEnd(reason) {
          stream.open = false
          if (frozen) return
          dropped++
          outstanding -= stream.expected - stream.window.unique
          bump(dropsByReason, reason)
          changed = true
        },
      },
    )
  }

  const pump = (): void => {
    while (inFlight < config.connectConcurrency && next < indices.length) {
      attempted++
      open(indices[next++] ?? 0, config.portBase !== null)
    }
  }

  const progress = (): WorkerProgress => ({
    type: 'progress',
    connectDone: attempted === indices.length && inFlight === 0,
    attempted,
    established,
    failed,
    ready,
    delivered,
    outstanding,
    dropped,
  })

  const ticker = setInterval(() => {
    if (!changed || frozen) return
    changed = false
    send(progress())
  }, config.progressIntervalMs)

  pump()
  if (indices.length === 0) send(progress())

  return {
    collect() {
      frozen = true
      clearInterval(ticker)
      const usage = process.resourceUsage()
      send({
        type: 'report',
        established,
        failed,
        failuresByReason,
        ready,
        dropped,
        dropsByReason,
        expected: expectedTotal,
        delivered,
        duplicates,
        outOfOrder,
        unexpected,
        portFallbacks,
        latency: latency.snapshot(),
        connectLatency: connectLatency.snapshot(),
        firstDeliveryUs,
        lastDeliveryUs,
        cpuUs: usage.userCPUTime + usage.systemCPUTime,
        maxRssKB: usage.maxRSS,
      })
    },
    close() {
      frozen = true
      clearInterval(ticker)
      for (const stream of streams) stream.subscriber?.close()
      next = indices.length
    },
  }
}

let worker: ReturnType<typeof runWorker> | null = null

process.on('message', (message: ParentMessage) => {
  try {
    if (message.type === 'start') {
      if (worker) throw new Error('worker already started')
      worker = runWorker(message)
    } else if (message.type === 'collect') {
      worker?.collect()
    } else {
      worker?.close()
      process.disconnect()
    }
  } catch (error) {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  }
})

// The coordinator went away (normal close, or it died): release every socket and leave.
process.on('disconnect', () => {
  worker?.close()
  setImmediate(() => process.exit(0))
})
