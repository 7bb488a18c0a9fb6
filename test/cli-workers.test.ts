import { createServer } from 'node:net'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/hub/auth/sign-token.js'
import { DEVELOPMENT_JWT_KEY } from '../src/hub/index.js'
import { ensureBuilt, runHerald, startServe, tempDir, type HeraldServer } from './cli-process.js'
import { openEventStream, type EventStreamClient } from './helpers/event-stream-client.js'

const dir = tempDir('herald-workers-')
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

async function serve(args: string[]): Promise<HeraldServer> {
  const server = await startServe(['--mode', 'development', '--workers', '2', ...args])
  servers.push(server)
  return server
}

/** Publishes over a new connection each time, so that the cluster spreads publishes over the workers. */
function publish(server: HeraldServer, topic: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams({ topic, data }).toString()
    const req = request(
      server.hubUrl,
      { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (c: string) => (text += c))
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`publish answered ${res.statusCode}: ${text}`))))
      },
    )
    req.once('error', reject)
    req.end(body)
  })
}

async function subscribe(server: HeraldServer, query: string, headers: Record<string, string> = {}): Promise<EventStreamClient> {
  const stream = await openEventStream(`${server.hubUrl}?${query}`, { headers })
  streams.push(stream)
  expect(stream.status).toBe(200)
  return stream
}

interface Snapshot {
  worker: number
  pid: number
  connections: number
}

describe('herald serve --workers 2', () => {
  it('spreads subscribers over the workers and delivers every update to every subscriber once, one clock for the group', async () => {
    const server = await serve(['--history', `sqlite:${join(dir.path, 'fanout.db')}`])
    expect(server.stdout).toContain('(development mode, 2 workers)')
    const subscribers = await Promise.all(Array.from({ length: 6 }, () => subscribe(server, 'topic=jobs')))
    const dashboard = await subscribe(server, 'topic=dashboard&topic=clock')

    // Both workers hold subscribers: their own dashboard figures say so.
    await dashboard.waitFor(() => {
      const latest = new Map<number, Snapshot>()
      for (const e of dashboard.events) if (e.data.includes('"worker"')) latest.set((JSON.parse(e.data) as Snapshot).worker, JSON.parse(e.data) as Snapshot)
      return latest.size === 2 && [...latest.values()].every((s) => s.connections >= 1)
    }, 'both workers reporting subscribers', 15_000)
    const pids = new Set(dashboard.events.filter((e) => e.data.includes('"worker"')).map((e) => (JSON.parse(e.data) as Snapshot).pid))
    expect(pids.size).toBe(2)
    expect(pids.has(server.child.pid!)).toBe(false)

    const ids: string[] = []
    for (let i = 0; i < 30; i++) ids.push(await publish(server, 'jobs', `job ${i}`))
    for (const stream of subscribers) {
      await stream.waitForEvents(ids.length, 10_000)
      expect(stream.events.map((e) => e.id).sort()).toEqual([...ids].sort())
    }

    // One worker publishes the clock: one tick per second, not one per worker.
    await dashboard.waitFor(() => dashboard.events.filter((e) => e.data.includes('epochMs')).length >= 3, 'three clock ticks', 10_000)
    const ticks = dashboard.events.filter((e) => e.data.includes('epochMs')).map((e) => (JSON.parse(e.data) as { epochMs: number }).epochMs)
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBeGreaterThanOrEqual(900)

    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(server.stderr).toContain('herald: stopped')
  })

  it('keeps a process-private history in the primary, so any worker resumes any subscriber', async () => {
    const server = await serve(['--history', 'memory', '--no-demos'])
    const ids: string[] = []
    for (let i = 0; i < 10; i++) ids.push(await publish(server, 'log', `line ${i}`))
    // New connections land on either worker; each replays the same shared history.
    for (let i = 0; i < 4; i++) {
      const stream = await subscribe(server, 'topic=log', { 'last-event-id': ids[3]! })
      await stream.waitForEvents(6)
      expect(stream.events.map((e) => e.id)).toEqual(ids.slice(4))
    }
  })

  it('starts a worker again when one dies, and keeps serving', async () => {
    const server = await serve(['--history', `sqlite:${join(dir.path, 'restart.db')}`, '--no-demos'])
    const workers = await workerPids(server.child.pid!)
    expect(workers).toHaveLength(2)
    process.kill(workers[0]!, 'SIGKILL')
    await waitUntil(() => server.stderr.includes('starting another'), 'the primary to start a worker again')
    await waitUntil(async () => (await workerPids(server.child.pid!)).length === 2, 'two workers again')
    const stream = await subscribe(server, 'topic=after')
    const id = await publish(server, 'after', 'still serving')
    await stream.waitForEvents(1)
    expect(stream.events[0]!.id).toBe(id)
  })

  it('exits with ERR_CLI_WORKER_FAILED when the workers cannot start', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const result = await runHerald(['serve', '--mode', 'development', '--workers', '2', '--host', '127.0.0.1', '--port', String(port), '--history', 'memory'], { cwd: dir.path })
      expect(result.status).toBe(1)
      expect(result.stderr).toContain('EADDRINUSE')
      expect(result.stderr).toContain('ERR_CLI_WORKER_FAILED')
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })
})

/** The pids of the primary's children (the workers), from /proc. */
async function workerPids(primary: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises')
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      // Field 4 (after the parenthesised name) is the parent pid.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (parent === primary) pids.push(Number(entry))
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids
}

async function waitUntil(condition: () => boolean | Promise<boolean>, description: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
