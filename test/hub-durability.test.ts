import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/hub/auth/sign-token.js'
import { DEVELOPMENT_JWT_KEY } from '../src/hub/index.js'
import { ensureBuilt, startServe, tempDir, type HeraldServer } from './cli-process.js'
import { openEventStream, type EventStreamClient } from './helpers/event-stream-client.js'

const dir = tempDir('herald-durability-')
const servers: HeraldServer[] = []
const streams: EventStreamClient[] = []
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await signToken({ key: DEVELOPMENT_JWT_KEY, publish: ['*'] })
}, 180_000)
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close()
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')))
})
afterAll(() => dir.cleanup())

async function serve(file: string): Promise<HeraldServer> {
  const server = await startServe(['--mode', 'development', '--no-demos', '--history', `sqlite:${file}`, '--heartbeat-ms', '0'])
  servers.push(server)
  return server
}

async function publish(server: HeraldServer, data: string): Promise<string> {
  const response = await fetch(server.hubUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ topic: 'durable', data }),
  })
  expect(response.status).toBe(200)
  return response.text()
}

async function subscribe(server: HeraldServer, lastEventId: string): Promise<EventStreamClient> {
  const stream = await openEventStream(`${server.hubUrl}?topic=durable`, { headers: { 'last-event-id': lastEventId } })
  streams.push(stream)
  expect(stream.status).toBe(200)
  return stream
}

/** Publishes a sentinel and waits for it: everything the hub had to send before it has arrived. */
async function settle(server: HeraldServer, stream: EventStreamClient): Promise<string[]> {
  await publish(server, 'sentinel')
  await stream.waitFor(() => stream.events.some((e) => e.data === 'sentinel'), 'the sentinel', 10_000)
  return stream.events.filter((e) => e.data !== 'sentinel').map((e) => e.id ?? '')
}

describe('hub durability: kill -9 and restart on the same SQLite file', () => {
  it('replays every acknowledged update from earliest, in order, exactly once', async () => {
    const file = join(dir.path, 'sequential.db')
    const first = await serve(file)
    const ids: string[] = []
    for (let i = 0; i < 200; i++) ids.push(await publish(first, `update ${i}`))
    expect(await first.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' })

    const second = await serve(file)
    const stream = await subscribe(second, 'earliest')
    const replayed = await settle(second, stream)
    expect(replayed).toEqual(ids)
    expect(stream.events.slice(0, ids.length).map((e) => e.data)).toEqual(ids.map((_, i) => `update ${i}`))

    // Resuming from the middle gives exactly the rest.
    const middle = await subscribe(second, ids[99]!)
    const rest = await settle(second, middle)
    expect(rest).toEqual(ids.slice(100))
  })

  it('keeps every update acknowledged before a kill in the middle of a burst, with no duplicate', async () => {
    const file = join(dir.path, 'burst.db')
    const first = await serve(file)
    const acknowledged: string[] = []
    let stop = false
    // Four publishers at once, until the kill cuts them off.
    const publishers = [0, 1, 2, 3].map(async (p) => {
      for (let i = 0; !stop; i++) {
        try {
          acknowledged.push(await publish(first, `p${p}-${i}`))
        } catch {
          return
        }
      }
    })
    while (acknowledged.length < 150) await new Promise((resolve) => setTimeout(resolve, 5))
    await first.stop('SIGKILL')
    stop = true
    await Promise.all(publishers)

    const second = await serve(file)
    const stream = await subscribe(second, 'earliest')
    const replayed = await settle(second, stream)
    expect(new Set(replayed).size).toBe(replayed.length)
    const kept = new Set(replayed)
    expect(acknowledged.filter((id) => !kept.has(id))).toEqual([])
    // Each publisher's updates come back in the order it published them.
    const data = stream.events.map((e) => e.data)
    for (const p of [0, 1, 2, 3]) {
      const sequence = data.filter((d) => d.startsWith(`p${p}-`)).map((d) => Number(d.split('-')[1]))
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b))
    }
  })
})
