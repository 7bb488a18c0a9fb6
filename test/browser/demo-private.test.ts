import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { signToken } from '../../src/hub/auth/sign-token.js'
import { DEVELOPMENT_JWT_KEY } from '../../src/hub/index.js'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer } from './demo-fixture.js'

/** Opens a native EventSource in the page on `query`, recording every message in `window.received`. */
async function listen(page: Page, query: string): Promise<void> {
  await page.evaluate(async (q) => {
    const w = window as unknown as { received: string[] }
    w.received = []
    const source = new EventSource(`/.well-known/mercure?${q}`)
    source.onmessage = (event) => w.received.push(event.data as string)
    await new Promise((resolve, reject) => {
      source.onopen = resolve
      source.onerror = () => reject(new Error(`the hub refused ${q}`))
    })
  }, query)
}

const received = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { received: string[] }).received)

describe.skipIf(!hasChromium())('demos in Chromium: private updates', () => {
  const demo = useDemoServer()

  it('reach a page holding a subscriber token (cookie or query parameter), and not an anonymous page', async () => {
    const token = await signToken({ key: DEVELOPMENT_JWT_KEY, subscribe: ['https://example.com/accounts/{id}'] })
    const withCookie = await demo.newContext()
    await withCookie.addCookies([{ name: 'mercureAuthorization', value: token, domain: '127.0.0.1', path: '/.well-known/mercure', httpOnly: true, sameSite: 'Strict' }])
    const cookiePage = await demo.open('/', withCookie)
    const queryPage = await demo.open('/')
    const anonymousPage = await demo.open('/')
    const topic = `topic=${encodeURIComponent('https://example.com/accounts/{id}')}`
    await Promise.all([listen(cookiePage, topic), listen(queryPage, `${topic}&authorization=${token}`), listen(anonymousPage, topic)])

    const publisher = await signToken({ key: DEVELOPMENT_JWT_KEY, publish: ['*'] })
    for (const [data, isPrivate] of [['balance: 42', true], ['maintenance tonight', false]] as const) {
      const body = new URLSearchParams({ topic: 'https://example.com/accounts/7', data })
      if (isPrivate) body.set('private', 'on')
      const response = await fetch(demo.server.hubUrl, { method: 'POST', headers: { authorization: `Bearer ${publisher}` }, body })
      expect(response.status).toBe(200)
    }

    const waitFor = (page: Page, count: number) =>
      page.waitForFunction((n) => (window as unknown as { received: string[] }).received.length >= n, count, { timeout: 10_000 })
    await Promise.all([waitFor(cookiePage, 2), waitFor(queryPage, 2), waitFor(anonymousPage, 1)])
    expect(await received(cookiePage)).toEqual(['balance: 42', 'maintenance tonight'])
    expect(await received(queryPage)).toEqual(['balance: 42', 'maintenance tonight'])
    // The public update was published after the private one: had the anonymous page been sent the private update, it
    // would have arrived first.
    expect(await received(anonymousPage)).toEqual(['maintenance tonight'])
  })
})
