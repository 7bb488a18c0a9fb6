import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { answer, tokenize } from '../../src/cli/demos/token-streamer.js'
import { hasChromium } from '../helpers/chromium.js'
import { useDemoServer } from './demo-fixture.js'

/** Records every length the answer text takes, as the page renders it. */
async function recordLengths(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { lengths: number[] }
    w.lengths = []
    const target = document.querySelector('#answer-text')!
    new MutationObserver(() => w.lengths.push(target.textContent.length)).observe(target, { childList: true, characterData: true, subtree: true })
  })
}

async function ask(page: Page, prompt: string): Promise<void> {
  await page.fill('#prompt', prompt)
  await page.click('#ask button[type="submit"]')
}

const waitForDone = (page: Page) => page.waitForSelector('#answer[data-state="done"]', { timeout: 20_000 })

describe.skipIf(!hasChromium())('demos in Chromium: LLM-style token stream', () => {
  const demo = useDemoServer()

  it('renders the answer token by token as the server publishes it', async () => {
    const page = await demo.open('/tokens.html')
    await recordLengths(page)
    const prompt = 'How does Herald push updates?'
    await ask(page, prompt)
    await waitForDone(page)
    const expected = answer(prompt)
    expect(await page.textContent('#answer-text')).toBe(expected)
    expect(await page.textContent('#question')).toBe(`Q: ${prompt}`)
    expect(await page.textContent('#token-count')).toBe(String(tokenize(expected).length))
    // The text grew in many steps, not all at once.
    const lengths = await page.evaluate(() => (window as unknown as { lengths: number[] }).lengths)
    const distinct = new Set(lengths.filter((n) => n > 0 && n < expected.length))
    expect(distinct.size).toBeGreaterThan(10)
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b))
  })

  it('resumes after a reload in the middle of an answer with nothing lost or repeated', async () => {
    const page = await demo.open('/tokens.html')
    const prompt = 'Reload me halfway'
    await ask(page, prompt)
    await page.waitForFunction(() => Number(document.querySelector('#token-count')?.textContent) >= 5, undefined, { timeout: 10_000 })
    const resumed = page.waitForRequest((request) => request.url().includes('/.well-known/mercure?'))
    await page.reload()
    // The page subscribed again after the last token it had shown, before the answer was complete.
    expect(new URL((await resumed).url()).searchParams.get('lastEventID')).toMatch(/^urn:uuid:/)
    await waitForDone(page)
    expect(await page.textContent('#answer-text')).toBe(answer(prompt))
    expect(await page.textContent('#token-count')).toBe(String(tokenize(answer(prompt)).length))
  })
})
