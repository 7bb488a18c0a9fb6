import { describe, expect, it } from 'vitest'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer, waitUntilLive } from './demo-fixture.js'

describe.skipIf(!hasChromium())('demos in Chromium: index and clock', () => {
  const demo = useDemoServer()

  it('the index links every demo, and every demo page loads without errors', async () => {
    const page = await demo.open('/')
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await waitUntilLive(page)
    const links = await page.$$eval('ul.demos a', (anchors) => anchors.map((a) => a.getAttribute('href')))
    expect(links).toEqual(['clock.html', 'chat.html', 'tasks.html', 'tokens.html', 'dashboard.html'])
    for (const link of links) {
      const response = await page.goto(`${demo.server.url}/${link}`)
      expect(response?.status(), link!).toBe(200)
      // Each page is up once its stream is live; the token page opens one only when asked.
      if (link === 'tokens.html') await page.waitForSelector('#prompt:not([disabled])')
      else await waitUntilLive(page)
    }
    expect(errors).toEqual([])
  })

  it('renders the time the server publishes every second on the clock topic', async () => {
    const page = await demo.open('/clock.html')
    await waitUntilLive(page)
    await page.waitForFunction(() => Number(document.querySelector('#ticks')?.textContent) >= 1, undefined, { timeout: 10_000 })
    const first = await page.$eval('#clock', (el) => (el as HTMLElement).dataset.time)
    await page.waitForFunction(() => Number(document.querySelector('#ticks')?.textContent) >= 2, undefined, { timeout: 10_000 })
    const second = await page.$eval('#clock', (el) => (el as HTMLElement).dataset.time)
    expect(Date.parse(second!)).toBeGreaterThan(Date.parse(first!))
    expect(await page.textContent('#clock')).toMatch(/^\d{2}:\d{2}:\d{2}$/)
    expect(await page.textContent('#last-id')).toMatch(/^urn:uuid:/)
  })
})
