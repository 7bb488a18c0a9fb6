import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startProgram, type RunningProgram } from './helpers/child-process.js'
import { ensureBuild, ROOT } from './helpers/ensure-build.js'
import { openEventStream } from './helpers/event-stream-client.js'
import { getFreePort } from './helpers/free-port.js'

describe('examples/clock', () => {
  let program: RunningProgram
  let base: string

  beforeAll(async () => {
    await ensureBuild(['dist/server/index.js', 'dist/server/adapters/node.js'])
    const port = await getFreePort()
    base = `http://127.0.0.1:${port}`
    program = await startProgram([join(ROOT, 'examples/clock/server.mjs')], {
      cwd: ROOT,
      env: { PORT: String(port) },
      ready: /Herald clock on http:\/\/localhost:\d+/,
    })
  }, 120_000)

  afterAll(async () => {
    expect(await program.stop()).toBe(0)
  })

  it('serves the page with a native EventSource', async () => {
    const response = await fetch(`${base}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const html = await response.text()
    expect(html).toContain("new EventSource('/sse')")
    expect(html).toContain('lastEventId')
    expect((await fetch(`${base}/nope`)).status).toBe(404)
  })

  it('pushes the time every second with ids, and replays what a resuming client missed', async () => {
    const first = await openEventStream(`${base}/sse`)
    expect(first.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    const [a, b] = await first.waitForEvents(2, 5000)
    first.close()
    expect(first.retries).toEqual([1000])
    const ticks = [a!, b!].map((event) => JSON.parse(event.data) as { time: string; tick: number })
    expect(ticks[1]!.tick).toBe(ticks[0]!.tick + 1)
    expect(Number.isNaN(Date.parse(ticks[0]!.time))).toBe(false)
    expect(a!.lastEventId).not.toBe('')
    expect(b!.lastEventId).not.toBe(a!.lastEventId)

    const resumed = await openEventStream(`${base}/sse`, { headers: { 'last-event-id': a!.lastEventId } })
    const [again] = await resumed.waitForEvents(1, 5000)
    resumed.close()
    expect(again).toMatchObject({ data: b!.data, lastEventId: b!.lastEventId })
  })
})
