import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { GAP_EVENT } from '../../src/server/index.js'
import { hasChromium, launchChromium } from '../helpers/chromium.js'
import { startSseTestServer, type SseTestServer } from '../helpers/sse-test-server.js'
import { waitFor } from '../helpers/wait-for.js'

type Received = [type: string, data: string, lastEventId: string]

/** Opens a native EventSource in the page, recording every message, 'custom' and gap event in `window.received`. */
async function openEventSource(page: Page, path: string): Promise<void> {
  await page.evaluate(
    ({ path, gap }) => {
      const w = window as unknown as { received: Received[]; opens: number; source: EventSource }
      w.received = []
      w.opens = 0
      const source = new EventSource(path)
      w.source = source
      source.onopen = () => w.opens++
      source.onmessage = (e) => w.received.push(['message', e.data as string, e.lastEventId])
      source.addEventListener('custom', (e) => w.received.push(['custom', e.data as string, e.lastEventId]))
      source.addEventListener(gap, (e) => w.received.push([gap, e.data as string, e.lastEventId]))
    },
    { path, gap: GAP_EVENT },
  )
}

const received = (page: Page): Promise<Received[]> => page.evaluate(() => (window as unknown as { received: Received[] }).received)

async function waitForReceived(page: Page, count: number): Promise<Received[]> {
  await page.waitForFunction((n) => (window as unknown as { received: unknown[] }).received.length >= n, count, { timeout: 10_000 })
  return received(page)
}

describe.skipIf(!hasChromium())('native EventSource in Chromium against herald-sse/server', () => {
  let browser: Browser
  let page: Page | undefined
  let server: SseTestServer | undefined
  let publisher: ReturnType<typeof setInterval> | undefined

  beforeAll(async () => {
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser.close()
  })

  afterEach(async () => {
    clearInterval(publisher)
    await page?.close()
    await server?.close()
    page = undefined
    server = undefined
  })

  async function open(serverOptions: Parameters<typeof startSseTestServer>[0] = {}): Promise<Page> {
    server = await startSseTestServer(serverOptions)
    page = await browser.newPage()
    await page.goto(server.url)
    return page
  }

  it('receives messages, and a custom event type through addEventListener', async () => {
    const page = await open({
      onSession(session) {
        session.send({ data: 'hello' })
        session.send({ event: 'custom', id: 'c1', data: { x: 1 } })
        session.send({ data: 'multi\nline' })
      },
    })
    await openEventSource(page, '/sse')
    expect(await waitForReceived(page, 3)).toEqual([
      ['message', 'hello', ''],
      ['custom', '{"x":1}', 'c1'],
      ['message', 'multi\nline', 'c1'],
    ])
  })

  it.each(['closes the stream', 'drops the connection'] as const)(
    'resumes with Last-Event-ID and misses nothing when the server %s',
    async (how) => {
      const page = await open({ session: { retry: 50 } })
      await openEventSource(page, '/sse')
      await waitFor(() => server!.channel.size === 1, 'the first connection')
      let n = 0
      publisher = setInterval(() => server!.channel.broadcast({ data: String(n++) }), 10)
      const before = await waitForReceived(page, 5)
      for (let round = 0; round < 2; round++) {
        const count = (await received(page)).length
        if (how === 'closes the stream') for (const session of server!.sessions) session.close()
        else server!.destroyConnections()
        await waitFor(() => server!.sessions.length === round + 2, 'the browser to reconnect', 10_000)
        await waitForReceived(page, count + 10)
      }
      clearInterval(publisher)
      const all = await received(page)
      // Every number, once, in order, across two reconnections.
      expect(all.map(([, data]) => Number(data))).toEqual(Array.from({ length: all.length }, (_, i) => i))
      expect(all.every(([type]) => type === 'message')).toBe(true)
      expect(before[0]![2]).not.toBe('')
      expect(server!.resumeHeaders[0]).toBeNull()
      // Each reconnection sent the id of an event the browser had received.
      const ids = new Set(all.map(([, , id]) => id))
      expect(server!.resumeHeaders.slice(1).every((id) => id !== null && ids.has(id))).toBe(true)
      expect(await page.evaluate(() => (window as unknown as { opens: number }).opens)).toBe(3)
    },
  )

  it('receives the gap event when it resumes from an id the server does not know', async () => {
    const page = await open()
    server!.channel.broadcast({ data: 'kept' })
    await openEventSource(page, '/sse?lastEventId=from-another-life')
    const [gap, kept] = await waitForReceived(page, 2)
    expect(gap![0]).toBe(GAP_EVENT)
    expect(JSON.parse(gap![1])).toMatchObject({ lastEventId: 'from-another-life', reason: 'unknown' })
    expect(kept!.slice(0, 2)).toEqual(['message', 'kept'])
  })
})
