import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer, waitUntilLive } from './demo-fixture.js'

interface ShownTask {
  title: string
  done: boolean
}

const tasks = (page: Page): Promise<ShownTask[]> =>
  page.$$eval('#tasks li', (items) => items.map((li) => ({ title: li.querySelector('.title')?.textContent ?? '', done: li.classList.contains('done') })))

async function waitForTasks(page: Page, expected: ShownTask[]): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const shown = [...document.querySelectorAll('#tasks li')].map((li) => ({ title: li.querySelector('.title')?.textContent ?? '', done: li.classList.contains('done') }))
      return JSON.stringify(shown) === JSON.stringify(want)
    },
    expected,
    { timeout: 10_000 },
  ).catch(async (error: unknown) => {
    throw new Error(`expected ${JSON.stringify(expected)}, the page shows ${JSON.stringify(await tasks(page))}`, { cause: error })
  })
}

async function add(page: Page, title: string): Promise<void> {
  await page.fill('#title', title)
  await page.click('#add button[type="submit"]')
}

const row = (page: Page, title: string) => page.locator('#tasks li', { has: page.locator('.title', { hasText: title }) })

describe.skipIf(!hasChromium())('demos in Chromium: real-time task list', () => {
  const demo = useDemoServer()

  it('creates, edits, completes and deletes tasks on every open page at once, and resumes after a reload with lastEventID', async () => {
    const one = await demo.open('/tasks.html')
    const two = await demo.open('/tasks.html')
    await Promise.all([waitUntilLive(one), waitUntilLive(two)])

    await add(one, 'write the docs')
    await add(one, 'ship it')
    for (const page of [one, two]) await waitForTasks(page, [{ title: 'write the docs', done: false }, { title: 'ship it', done: false }])

    // Complete on page two: page one sees it.
    await row(two, 'write the docs').locator('input[type="checkbox"]').check()
    for (const page of [one, two]) await waitForTasks(page, [{ title: 'write the docs', done: true }, { title: 'ship it', done: false }])

    // Edit on page one: page two sees it.
    await row(one, 'ship it').locator('button.edit').click()
    await one.fill('#tasks li input[type="text"]', 'ship version 1')
    await one.press('#tasks li input[type="text"]', 'Enter')
    for (const page of [one, two]) await waitForTasks(page, [{ title: 'write the docs', done: true }, { title: 'ship version 1', done: false }])

    // Delete on page two.
    await row(two, 'write the docs').locator('button.delete').click()
    for (const page of [one, two]) await waitForTasks(page, [{ title: 'ship version 1', done: false }])
    expect(await one.textContent('#counts')).toBe('1 open, 0 done')

    // Page two goes away; two changes happen meanwhile; it comes back and resumes after the last update it applied.
    const stored = await two.evaluate(() => JSON.parse(localStorage.getItem('herald-demo-tasks') ?? 'null') as { lastEventId: string })
    expect(stored.lastEventId).toMatch(/^urn:uuid:/)
    await two.goto('about:blank')
    await add(one, 'celebrate')
    await row(one, 'ship version 1').locator('input[type="checkbox"]').check()
    await waitForTasks(one, [{ title: 'ship version 1', done: true }, { title: 'celebrate', done: false }])

    const subscribed = two.waitForRequest((request) => request.url().includes('/.well-known/mercure?'))
    await two.goto(`${demo.server.url}/tasks.html`)
    const url = new URL((await subscribed).url())
    expect(url.searchParams.getAll('topic')).toEqual(['tasks'])
    expect(url.searchParams.get('lastEventID')).toBe(stored.lastEventId)
    await waitForTasks(two, [{ title: 'ship version 1', done: true }, { title: 'celebrate', done: false }])
    // Only the two missed updates were sent, not the whole history.
    expect(await two.textContent('#received')).toBe('2')
    expect(await two.textContent('#resumed-from')).toBe(stored.lastEventId)
  })
})
