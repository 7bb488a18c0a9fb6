import { afterEach, describe, expect, it } from 'vitest'
import { openEventStream, type EventStreamClient } from '../../test/helpers/event-stream-client.js'
import { loadConfig } from '../hub/index.js'
import type { DashboardSnapshot } from './demos/dashboard-publisher.js'
import { startWorker, type RunningWorker } from './start-worker.js'

const logged: string[] = []
const logger = { warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) }
let worker: RunningWorker | undefined
const streams: EventStreamClient[] = []

afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await worker?.close()
  worker = undefined
})

async function start(argv: string[]): Promise<RunningWorker> {
  const { config } = loadConfig({ argv: ['--host', '127.0.0.1', '--port', '0', '--history', 'memory', ...argv], env: {} })
  worker = await startWorker({ config, logger })
  return worker
}

async function listen(url: string): Promise<EventStreamClient> {
  const stream = await openEventStream(url)
  streams.push(stream)
  return stream
}

describe('startWorker', () => {
  it('serves the hub with the demos: clock ticks, dashboard snapshots of its own figures', async () => {
    const { address } = await start(['--mode', 'development'])
    const stream = await listen(`${address.url}/.well-known/mercure?topic=clock&topic=dashboard`)
    await stream.waitFor(() => stream.events.some((e) => e.data.includes('"worker"')) && stream.events.some((e) => e.data.includes('epochMs')), 'a tick and a snapshot')
    const snapshot = JSON.parse(stream.events.find((e) => e.data.includes('"worker"'))!.data) as DashboardSnapshot
    expect(snapshot).toMatchObject({ worker: 1, pid: process.pid, connections: 1, subscriptions: 2 })
    expect((await fetch(`${address.url}/demo-config.json`)).status).toBe(200)
    expect(logged).toEqual([])
  })

  it('stops and starts the clock on request', async () => {
    const running = await start(['--mode', 'development'])
    running.setClock(false)
    const stream = await listen(`${running.address.url}/.well-known/mercure?topic=clock&topic=dashboard`)
    // Two dashboard snapshots, a second apart, and no tick in between.
    await stream.waitFor(() => stream.events.filter((e) => e.data.includes('"worker"')).length >= 2, 'two snapshots', 5000)
    expect(stream.events.filter((e) => e.data.includes('epochMs'))).toEqual([])
    running.setClock(true)
    await stream.waitFor(() => stream.events.some((e) => e.data.includes('epochMs')), 'a tick', 5000)
  })

  it('serves no demos when they are off, and frees the port on close', async () => {
    const running = await start(['--publisher-jwt-key', 'x'.repeat(32), '--subscriber-jwt-key', 'y'.repeat(32)])
    expect((await fetch(`${running.address.url}/`)).status).toBe(404)
    expect((await fetch(`${running.address.url}/healthz`)).status).toBe(200)
    await running.close()
    await expect(fetch(`${running.address.url}/healthz`)).rejects.toThrow()
  })
})
