import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import { MemoryHistory } from '../history/memory-history.js'
import { historyConformance, sampleUpdate } from '../history/testing/history-suite.js'
import { createClusterRelay, type ClusterRelay } from './cluster-relay.js'
import { IpcBroker } from './ipc-broker.js'
import { createChannelPair, isIpcMessage, type IpcChannel, type IpcMessage } from './ipc-channel.js'
import { DEFAULT_IPC_CALL_TIMEOUT_MS, IpcHistory } from './ipc-history.js'

/** Connects a new worker-side channel to the relay, as `cluster.fork()` would. */
function connect(relay: ClusterRelay) {
  const [worker, primary] = createChannelPair()
  relay.attach(primary)
  return worker
}

historyConformance(
  'IpcHistory (primary keeps a MemoryHistory)',
  () => {
    let relay: ClusterRelay | undefined
    let primaryHistory: MemoryHistory | undefined
    return {
      open({ now, maxEntries, maxAgeMs }) {
        if (relay === undefined) {
          primaryHistory = new MemoryHistory({ now, maxEntries, maxAgeMs })
          relay = createClusterRelay({ history: primaryHistory })
        }
        return new IpcHistory({ channel: connect(relay) })
      },
      destroy: () => primaryHistory?.close(),
    }
  },
  { concurrentInstances: true },
)

brokerConformance(
  'IpcBroker (primary relays)',
  () => {
    const relay = createClusterRelay()
    return { open: ({ onError }) => new IpcBroker({ channel: connect(relay), onError }) }
  },
  { sharedAcrossInstances: true },
)

describe('IpcBroker through the relay', () => {
  /** A worker-side channel that also records what the primary sends it. */
  function recorded(relay: ClusterRelay): { channel: IpcChannel; received: IpcMessage[] } {
    const channel = connect(relay)
    const received: IpcMessage[] = []
    channel.onMessage((m) => received.push(m))
    return { channel, received }
  }

  it("answers each publish with one message, the publisher's copy, which resolves the publish after its listeners ran", async () => {
    const relay = createClusterRelay()
    const a = recorded(relay)
    const b = recorded(relay)
    const brokerA = new IpcBroker({ channel: a.channel })
    const brokerB = new IpcBroker({ channel: b.channel })
    const seenA: unknown[] = []
    const seenB: unknown[] = []
    await brokerA.subscribe((m) => void seenA.push(m))
    await brokerB.subscribe((m) => void seenB.push(m))
    for (let n = 0; n < 3; n++) {
      await brokerA.publish(sampleMessage(n + 1))
      // Resolved only once this worker's own listener had the message.
      expect(seenA).toHaveLength(n + 1)
    }
    await vi.waitFor(() => expect(seenB).toHaveLength(3))
    expect(a.received.map((m) => m.herald)).toEqual(['broker-message', 'broker-message', 'broker-message'])
    expect(a.received.map((m) => (m.herald === 'broker-message' ? m.ack : undefined))).toEqual([1, 2, 3])
    expect(b.received.map((m) => (m.herald === 'broker-message' ? m.ack : 'other'))).toEqual([undefined, undefined, undefined])
    await Promise.all([brokerA.close(), brokerB.close()])
  })

  it('keeps a publish pending while the primary has not relayed it, and rejects it with ERR_HUB_BROKER_CLOSED on close', async () => {
    const [worker] = createChannelPair() // no relay on the other end
    const broker = new IpcBroker({ channel: worker })
    const pending = broker.publish(sampleMessage(1))
    let settled = false
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(settled).toBe(false)
    await broker.close()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_CLOSED' })
  })

  it('rejects a publish the primary did not relay within callTimeoutMs with ERR_HUB_BROKER_UNAVAILABLE, and settles nothing when the relay comes later', async () => {
    const [worker, primary] = createChannelPair()
    const publishes: IpcMessage[] = []
    primary.onMessage((m) => {
      publishes.push(m)
      // A primary stuck on the first publish only: it relays the others at once.
      if (m.herald === 'broker-publish' && m.id !== 1) primary.send({ herald: 'broker-message', message: m.message, ack: m.id })
    })
    const broker = new IpcBroker({ channel: worker, callTimeoutMs: 50 })
    const seen: unknown[] = []
    await broker.subscribe((m) => void seen.push(m))
    const late = broker.publish(sampleMessage(1))
    await expect(late).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE', message: expect.stringContaining('50 ms') })
    // The primary relays it after all: the listeners get it, and the publish it acknowledges is gone.
    const [first] = publishes
    expect(first).toMatchObject({ herald: 'broker-publish', id: 1 })
    primary.send({ herald: 'broker-message', message: sampleMessage(1), ack: 1 })
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    // The next publish, relayed in time, resolves once its copy reached the listeners.
    await broker.publish(sampleMessage(2))
    expect(seen).toHaveLength(2)
    await broker.close()
  })

  it('validates callTimeoutMs with ERR_HUB_INVALID_OPTION', () => {
    const [worker] = createChannelPair()
    for (const callTimeoutMs of [0, 1.5, -1, Number.NaN]) {
      expect(() => new IpcBroker({ channel: worker, callTimeoutMs })).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
    }
  })

  it('validates onError, and rejects a listener or an onMissed that is not a function, with ERR_HUB_INVALID_OPTION', async () => {
    const [worker] = createChannelPair()
    expect(() => new IpcBroker({ channel: worker, onError: 'log' as unknown as () => void })).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
    const broker = new IpcBroker({ channel: worker })
    await expect(broker.subscribe('listener' as unknown as () => void)).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    await expect(broker.subscribe(() => undefined, { onMissed: 1 as unknown as () => void })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    await broker.close()
  })
})

describe('IpcHistory', () => {
  it('filters remote pages with the local match function and stops at the limit without skipping', async () => {
    const relay = createClusterRelay({ history: new MemoryHistory() })
    const history = new IpcHistory({ channel: connect(relay) })
    for (let n = 0; n < 30; n++) await history.append(sampleUpdate(n))
    const even = (u: { data: string }) => (JSON.parse(u.data) as { n: number }).n % 2 === 0
    const seen: number[] = []
    let from: Parameters<IpcHistory['readAfter']>[0] = 'earliest'
    for (let guard = 0; guard < 100; guard++) {
      const page = await history.readAfter(from, { match: even, limit: 4, scanLimit: 7 })
      seen.push(...page.messages.map((m) => (JSON.parse(m.update.data) as { n: number }).n))
      if (page.done) break
      from = page.next!
    }
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i * 2))
    await history.close()
  })

  it('reports the primary having no history as a coded error', async () => {
    const history = new IpcHistory({ channel: connect(createClusterRelay()) })
    await expect(history.size()).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    await history.close()
  })
})

describe('IpcHistory call timeout', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('rejects each call the primary does not answer within callTimeoutMs with ERR_HUB_HISTORY_UNAVAILABLE, and forgets it', async () => {
    vi.useFakeTimers()
    expect(DEFAULT_IPC_CALL_TIMEOUT_MS).toBe(10_000)
    // A primary end that never answers: alive (the pipe takes messages) but stuck.
    const [worker] = createChannelPair()
    const history = new IpcHistory({ channel: worker, callTimeoutMs: 1_000 })
    const outcomes = Array.from({ length: 100 }, (_, n) => (n % 2 === 0 ? history.size() : history.locate(`id-${n}`)).then(() => 'answered', (error: unknown) => error))
    expect(history.pendingCalls).toBe(100)
    await vi.advanceTimersByTimeAsync(999)
    expect(history.pendingCalls).toBe(100)
    await vi.advanceTimersByTimeAsync(1)
    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome).toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE', message: expect.stringMatching(/did not answer (size|locate) within 1000 ms/) })
    }
    // Nothing is left behind: no pending entry, no timer.
    expect(history.pendingCalls).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    await history.close()
  })

  it('clears the timers of the calls close() rejects', async () => {
    vi.useFakeTimers()
    const [worker] = createChannelPair()
    const history = new IpcHistory({ channel: worker })
    const pending = history.size()
    await history.close()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_CLOSED' })
    expect(history.pendingCalls).toBe(0)
    // Only the in-memory pipe's delivery of the call was left; the call's own timer is gone.
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects at once when the pipe refuses the message', async () => {
    const channel: IpcChannel = {
      send: () => {
        throw new Error('channel closed')
      },
      onMessage: () => () => undefined,
    }
    const history = new IpcHistory({ channel })
    await expect(history.size()).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE', message: expect.stringContaining('cannot reach the primary') })
    expect(history.pendingCalls).toBe(0)
    await history.close()
  })

  it('validates its options with ERR_HUB_INVALID_OPTION', () => {
    const [worker] = createChannelPair()
    for (const options of [{ channel: worker, callTimeoutMs: 0 }, { channel: worker, callTimeoutMs: 1.5 }, { channel: undefined }, undefined]) {
      expect(() => new IpcHistory(options as unknown as ConstructorParameters<typeof IpcHistory>[0]), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  describe('over a real child-process IPC channel', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-ipc-'))
    const children: ChildProcess[] = []
    afterAll(() => {
      for (const child of children) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    })

    /**
     * Forks a stand-in for the primary: it answers `size` at once (42) and `append` after `stuckMs`, then tells the
     * test with a `late-answer-sent` message. The IPC pipe keeps message order, so by the time the test sees that
     * message the worker side has received the late answer.
     */
    function forkSlowPrimary(stuckMs: number): { child: ChildProcess; channel: IpcChannel; lateAnswerSent: (id: number) => Promise<void> } {
      const script = join(dir, 'slow-primary.mjs')
      writeFileSync(
        script,
        `process.on('message', (m) => {
  if (m?.herald !== 'history-call') return
  if (m.method === 'size') return process.send({ herald: 'history-result', id: m.id, ok: true, value: 42 })
  setTimeout(() => {
    process.send({ herald: 'history-result', id: m.id, ok: true, value: { epoch: 'late', offset: '1' } })
    process.send({ herald: 'late-answer-sent', id: m.id })
  }, ${stuckMs})
})
process.send({ herald: 'ready' })
`,
      )
      const child = fork(script, [], { serialization: 'json', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      children.push(child)
      const channel: IpcChannel = {
        send: (message) => void child.send(message),
        onMessage(listener) {
          const handler = (value: unknown): void => {
            if (isIpcMessage(value)) listener(value)
          }
          child.on('message', handler)
          return () => child.off('message', handler)
        },
      }
      const lateAnswerSent = (id: number) =>
        new Promise<void>((resolve) => {
          const handler = (value: unknown): void => {
            const message = value as { herald?: string; id?: number }
            if (message.herald === 'late-answer-sent' && message.id === id) {
              child.off('message', handler)
              resolve()
            }
          }
          child.on('message', handler)
        })
      return { child, channel, lateAnswerSent }
    }

    it('times out a call the primary is stuck on, ignores its late answer, and goes on with the next calls', async () => {
      const { child, channel, lateAnswerSent } = forkSlowPrimary(600)
      await new Promise<void>((resolve) => child.once('message', () => resolve()))
      const history = new IpcHistory({ channel, callTimeoutMs: 150 })
      try {
        expect(await history.size()).toBe(42)
        const lateAnswer = lateAnswerSent(2)
        const started = Date.now()
        await expect(history.append(sampleUpdate(1))).rejects.toMatchObject({
          code: 'ERR_HUB_HISTORY_UNAVAILABLE',
          message: 'IpcHistory: the primary process did not answer append within 150 ms',
        })
        expect(Date.now() - started).toBeGreaterThanOrEqual(140)
        expect(Date.now() - started).toBeLessThan(600)
        expect(history.pendingCalls).toBe(0)

        // The answer to the timed-out call arrives, is dropped, and settles nothing else.
        await lateAnswer
        expect(history.pendingCalls).toBe(0)
        expect(await history.size()).toBe(42)
        expect(history.pendingCalls).toBe(0)
      } finally {
        await history.close()
      }
    })
  })
})
