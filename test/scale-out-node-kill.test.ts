import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { EventSource } from '../src/client/index.js'
import { ensureBuilt } from './cli-process.js'
import {
  checkDelivery,
  holdEngine,
  EXACTLY_ONCE_IN_ORDER,
  HubCluster,
  publishAgent,
  publisherToken,
  publishUpdate,
  scaleOutEngines,
  startTcpBalancer,
  uniqueTopic,
  type TcpBalancer,
} from './helpers/hub-cluster.js'
import { waitFor } from './helpers/wait-for.js'

// A hub node dies with SIGKILL (no drain, no goodbye) while its subscribers are connected and a publisher keeps
// publishing through another node. The subscribers reach the nodes through a load balancer; Herald's EventSource
// reconnects through it, lands on a surviving node and resumes with Last-Event-ID.

const ENGINES = await scaleOutEngines()
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await publisherToken()
}, 180_000)

/** A subscriber through the balancer: every update id it received, and how many times its stream opened. */
interface Subscriber {
  readonly source: EventSource
  readonly ids: string[]
  readonly gaps: string[]
  opens: number
}

describe.each(ENGINES)('a hub node killed with kill -9 on $name', (engine) => {
  describe.skipIf(!engine.available)('with the engine', () => {
    const cluster = new HubCluster(engine)
    const subscribers: Subscriber[] = []
    const balancers: TcpBalancer[] = []

    holdEngine(engine)
    afterEach(async () => {
      for (const { source } of subscribers.splice(0)) source.close()
      await Promise.all(balancers.splice(0).map((balancer) => balancer.close()))
      await cluster.stopAll()
      await engine.reset()
    })

    function subscribe(url: string): Subscriber {
      const source = new EventSource(url, { backoff: { initialMs: 50, maxMs: 250 } })
      const subscriber: Subscriber = { source, ids: [], gaps: [], opens: 0 }
      source.addEventListener('open', () => subscriber.opens++)
      source.addEventListener('message', (event) => subscriber.ids.push(event.lastEventId))
      source.addEventListener('herald-gap', (event) => subscriber.gaps.push(event.data))
      subscribers.push(subscriber)
      return subscriber
    }

    it('moves the subscribers of the killed node to another node, which resumes each with every update once, in order', async () => {
      const [doomed, survivor, publisher] = await Promise.all([cluster.start(), cluster.start(), cluster.start()])
      // The balancer sends every connection to the first node that accepts it: all to `doomed` while it lives.
      const balancer = await startTcpBalancer([doomed, survivor].map((node) => ({ host: '127.0.0.1', port: node.port })))
      balancers.push(balancer)
      const topic = uniqueTopic('feed')
      const url = `http://127.0.0.1:${balancer.port}/.well-known/mercure?topic=${encodeURIComponent(topic)}`
      const moving = Array.from({ length: 4 }, () => subscribe(url))
      // A subscriber on the surviving node all along, for comparison.
      subscribe(`${survivor.hubUrl}?topic=${encodeURIComponent(topic)}`)
      await waitFor(() => subscribers.every((s) => s.opens === 1), 'every subscriber connected', 10_000)
      expect(balancer.connections).toEqual([4, 0])

      const agent = publishAgent(1)
      const acknowledged: string[] = []
      try {
        for (let i = 0; i < 200; i++) {
          const result = await publishUpdate(publisher.hubUrl, { token, topic, data: `update ${i}`, agent })
          expect(result.status, result.body).toBe(200)
          acknowledged.push(result.body)
          if (i === 60) {
            expect(moving.every((s) => s.ids.length > 0)).toBe(true)
            doomed.child.kill('SIGKILL')
          }
        }
      } finally {
        agent.destroy()
      }
      expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' })

      const last = acknowledged.at(-1)!
      await waitFor(() => subscribers.every((s) => s.ids.includes(last)), 'every subscriber to receive the last update', 20_000)
      // Each moving subscriber reconnected once, through the balancer, to the surviving node.
      expect(moving.map((s) => s.opens)).toEqual([2, 2, 2, 2])
      expect(balancer.connections[1]).toBe(4)
      expect(subscribers.map((s) => ({ gaps: s.gaps, ...checkDelivery(s.ids, acknowledged) }))).toEqual(subscribers.map(() => ({ gaps: [], ...EXACTLY_ONCE_IN_ORDER })))
    }, 60_000)
  })
})
