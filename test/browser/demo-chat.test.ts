import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer, waitUntilLive } from './demo-fixture.js'

async function send(page: Page, name: string, text: string): Promise<void> {
  await page.fill('#name', name)
  await page.fill('#text', text)
  await page.click('#send button[type="submit"]')
}

async function waitForMessage(page: Page, author: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([a, t]) => [...document.querySelectorAll('#messages li')].some((li) => li.querySelector('.author')?.textContent === a && li.querySelector('.text')?.textContent === t),
    [author, text] as const,
    { timeout: 10_000 },
  )
}

const messages = (page: Page): Promise<string[]> => page.$$eval('#messages li', (items) => items.map((li) => `${li.querySelector('.author')?.textContent}: ${li.querySelector('.text')?.textContent}`))

describe.skipIf(!hasChromium())('demos in Chromium: chat room', () => {
  const demo = useDemoServer()

  it('two pages see each other\'s messages, and a page opened later gets the conversation from history', async () => {
    const ada = await demo.open('/chat.html')
    const bob = await demo.open('/chat.html')
    await Promise.all([waitUntilLive(ada), waitUntilLive(bob)])

    await send(ada, 'ada', 'hello from ada')
    await Promise.all([waitForMessage(ada, 'ada', 'hello from ada'), waitForMessage(bob, 'ada', 'hello from ada')])
    await send(bob, 'bob', 'hi ada, bob here')
    await Promise.all([waitForMessage(ada, 'bob', 'hi ada, bob here'), waitForMessage(bob, 'bob', 'hi ada, bob here')])
    expect(await messages(ada)).toEqual(['ada: hello from ada', 'bob: hi ada, bob here'])
    expect(await messages(bob)).toEqual(await messages(ada))
    // Each page marks its own messages.
    expect(await ada.$$eval('#messages li.mine .text', (els) => els.map((e) => e.textContent))).toEqual(['hello from ada'])

    const late = await demo.open('/chat.html')
    await waitForMessage(late, 'bob', 'hi ada, bob here')
    expect(await messages(late)).toEqual(await messages(ada))
  })

  it('renders what peers send as text, never as markup', async () => {
    const sender = await demo.open('/chat.html')
    const reader = await demo.open('/chat.html')
    await Promise.all([waitUntilLive(sender), waitUntilLive(reader)])
    const markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>'
    await send(sender, '<i>eve</i>', markup)
    await waitForMessage(reader, '<i>eve</i>', markup)
    expect(await reader.$$('#messages img, #messages b, #messages i')).toHaveLength(0)
    expect(await reader.title()).not.toBe('pwned')
  })
})
