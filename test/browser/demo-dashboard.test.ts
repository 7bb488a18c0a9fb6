import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { openEventStream, type EventStreamClient } from '../helpers/event-stream-client.js'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer, waitUntilLive } from './demo-fixture.js'

const waitForText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent === t, [selector, text] as const, { timeout: 15_000 })

describe.skipIf(!hasChromium())('demos in Chromium: live dashboard', () => {
  const demo = useDemoServer()

  it('shows the hub\'s own connections and rates, updated every second over SSE', async () => {
    const page = await demo.open('/dashboard.html')
    await waitUntilLive(page)
    // The page itself is the only subscriber.
    await waitForText(page, '#connections', '1')

    const extra: EventStreamClient[] = []
    try {
      for (const topic of ['a', 'b', 'c']) extra.push(await openEventStream(`${demo.server.hubUrl}?topic=${topic}`))
      await waitForText(page, '#connections', '4')
      await waitForText(page, '#topics', '4')
    } finally {
      for (const stream of extra) stream.close()
    }
    await waitForText(page, '#connections', '1')

    // The clock and the dashboard publish every second, and the page receives the dashboard's updates.
    await page.waitForFunction(() => Number(document.querySelector('#publishes-rate')?.textContent) > 0, undefined, { timeout: 10_000 })
    await page.waitForFunction(() => Number(document.querySelector('#deliveries-rate')?.textContent) > 0, undefined, { timeout: 10_000 })
    expect(Number((await page.textContent('#history-size'))?.replace(/\D/g, ''))).toBeGreaterThan(0)
    const rows = await page.$$eval('#workers tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
    expect(rows).toHaveLength(1)
    expect(rows[0]![0]).toBe('1')
    expect(Number(rows[0]![1])).toBe(demo.server.child.pid)
    expect(await page.getAttribute('#spark-line', 'points')).not.toBe('')
  })
})
