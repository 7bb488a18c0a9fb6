import { describe, expect, it } from 'vitest'
import { brokerConformance } from '../broker/testing/broker-suite.js'
import { MemoryHistory } from '../history/memory-history.js'
import { historyConformance, sampleUpdate } from '../history/testing/history-suite.js'
import { createClusterRelay, type ClusterRelay } from './cluster-relay.js'
import { IpcBroker } from './ipc-broker.js'
import { createChannelPair } from './ipc-channel.js'
import { IpcHistory } from './ipc-history.js'

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
