/**
 * The publishing side of a run: sends M messages at a fixed rate (or each after the previous one was
 * acknowledged), stamping every payload with its number, the acknowledged floor and the send time.
 */
import http from 'node:http'
import { Histogram, type HistogramSnapshot } from '../histogram.js'
import { monotonicUs } from '../monotonic-clock.js'
import type { PublishTarget } from '../system.js'
import { formatPayload } from './payload.js'

/** Time allowed for one publish request. @defaultValue 10,000 ms */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000
/** Publish requests in flight at once in rate mode. @defaultValue 8 */
export const DEFAULT_PUBLISH_IN_FLIGHT = 8

/** Result of one publish request. */
export interface PublishAck {
  readonly ok: boolean
  /** HTTP status, or a reason such as `timeout` / `error-ECONNRESET`. */
  readonly outcome: string
}

/**
 * A keep-alive HTTP client for one system's publish endpoint.
 *
 * @example
 * const client = new PublishClient(system.publish, { maxSockets: 8 })
 * await client.send('topic-0', 'hello')
 * client.close()
 */
export class PublishClient {
  private readonly agent: http.Agent

  constructor(
    private readonly target: PublishTarget,
    private readonly options: { readonly maxSockets: number; readonly timeoutMs?: number },
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets })
  }

  /**
   * Publishes `data` to `topic`; never rejects. A request that fails with a reset on a reused keep-alive
   * socket is sent once more on a fresh one: the server closed that idle socket just as the request was
   * written (the race Node's documentation describes for `request.reusedSocket`), so the message never
   * reached it.
   */
  send(topic: string, data: string): Promise<PublishAck> {
    const request = this.target.request(topic, data)
    const body = Buffer.from(request.body)
    const attempt = (retry: boolean): Promise<PublishAck> =>
      new Promise((resolve) => {
        let settled = false
        const settle = (ack: PublishAck): void => {
          if (settled) return
          settled = true
          resolve(ack)
        }
        const req = http.request(
          {
            host: this.target.host,
            port: this.target.port,
            method: request.method,
            path: request.path,
            agent: this.agent,
            headers: { ...request.headers, 'Content-Length': String(body.length) },
          },
          (res) => {
            res.resume()
            res.on('end', () => {
              const status = res.statusCode ?? 0
              settle({ ok: status >= 200 && status < 300, outcome: String(status) })
            })
            res.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, outcome: `error-${error.code ?? 'unknown'}` }))
          },
        )
        req.setTimeout(this.options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS, () => {
          settle({ ok: false, outcome: 'timeout' })
          req.destroy()
        })
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (!settled && retry && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
            settled = true
            resolve(attempt(false))
            return
          }
          settle({ ok: false, outcome: `error-${error.code ?? 'unknown'}` })
        })
        req.end(body)
      })
    return attempt(true)
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.agent.destroy()
  }
}

/** What to publish. */
export interface PublishPlan {
  readonly topics: readonly string[]
  /** Message `seq` (1…messages) goes to `topics[(seq − 1) % topics.length]`. */
  readonly messages: number
  /** Messages per second over all topics; 0 = the next message is sent when the previous one is acknowledged. */
  readonly ratePerSecond: number
  readonly payloadBytes: number
  /** Requests in flight at once in rate mode (1 in ack-paced mode). */
  readonly maxInFlight: number
}

/** What happened while publishing. */
export interface PublishReport {
  readonly sent: number
  readonly acked: number
  readonly errors: number
  readonly errorsByOutcome: Readonly<Record<string, number>>
  /** CLOCK_MONOTONIC µs of the first send and of the last acknowledgement. */
  readonly firstSendUs: number
  readonly lastAckUs: number
  /** Send to acknowledgement, µs. */
  readonly ackLatency: HistogramSnapshot
  /** How late sends started behind their schedule (rate mode), µs: a publisher or server backlog. */
  readonly sendLag: HistogramSnapshot
}

/**
 * Publishes every message of `plan`; resolves after the last acknowledgement (or error).
 *
 * @param onAck - Called after each acknowledgement with the number acknowledged so far (for progress).
 */
export async function publishMessages(
  client: PublishClient,
  plan: PublishPlan,
  signal: AbortSignal,
  onAck?: (acked: number) => void,
): Promise<PublishReport> {
  const { topics, messages, ratePerSecond, payloadBytes } = plan
  const maxInFlight = ratePerSecond > 0 ? Math.max(1, plan.maxInFlight) : 1
  const intervalUs = ratePerSecond > 0 ? 1e6 / ratePerSecond : 0
  // done[seq] = 1 once seq is acknowledged (or failed); floor = highest seq with all of 1…seq done.
  const done = new Uint8Array(messages + 2)
  const ackLatency = new Histogram()
  const sendLag = new Histogram()
  const errorsByOutcome: Record<string, number> = {}
  let floor = 0
  let nextSeq = 1
  let inFlight = 0
  let acked = 0
  let errors = 0
  let lastAckUs = 0
  let wake: (() => void) | null = null
  const startUs = monotonicUs()

  const sendOne = (seq: number, dueUs: number): void => {
    const topic = topics[(seq - 1) % topics.length] ?? ''
    const sentUs = monotonicUs()
    if (ratePerSecond > 0) sendLag.record(sentUs - dueUs)
    inFlight++
    void client.send(topic, formatPayload(seq, floor, sentUs, payloadBytes)).then((ack) => {
      inFlight--
      lastAckUs = monotonicUs()
      ackLatency.record(lastAckUs - sentUs)
      if (ack.ok) acked++
      else {
        errors++
        errorsByOutcome[ack.outcome] = (errorsByOutcome[ack.outcome] ?? 0) + 1
      }
      done[seq] = 1
      while (done[floor + 1] === 1) floor++
      onAck?.(acked + errors)
      wake?.()
    })
  }

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = null
        resolve()
      }, ms)
      wake = () => {
        clearTimeout(timer)
        wake = null
        resolve()
      }
    })

  while (nextSeq <= messages && !signal.aborted) {
    const dueUs = startUs + (nextSeq - 1) * intervalUs
    const now = monotonicUs()
    if (inFlight >= maxInFlight) {
      await sleep(60_000) // woken by the next acknowledgement; each request has its own timeout
      continue
    }
    if (dueUs > now) {
      await sleep(Math.max(1, (dueUs - now) / 1000))
      continue
    }
    sendOne(nextSeq, dueUs)
    nextSeq++
  }
  while (inFlight > 0) await sleep(60_000)

  return {
    sent: nextSeq - 1,
    acked,
    errors,
    errorsByOutcome,
    firstSendUs: startUs,
    lastAckUs,
    ackLatency: ackLatency.snapshot(),
    sendLag: sendLag.snapshot(),
  }
}
