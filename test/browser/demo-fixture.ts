import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { ensureBuilt, startServe, tempDir, type HeraldServer } from '../cli-process.js'
import { launchChromium } from '../helpers/chromium.js'

/** What a demo test file gets: the `herald serve --mode development` under test and a browser. */
export interface DemoFixture {
  readonly server: HeraldServer
  readonly browser: Browser
  /** Opens `path` of the demo server in a new browser context (its own cookies and localStorage). */
  open(path: string, context?: BrowserContext): Promise<Page>
  /** A new browser context, closed after the test. */
  newContext(): Promise<BrowserContext>
}

/**
 * Registers hooks that build the CLI, start `herald serve --mode development` (history in a temporary SQLite file)
 * and Chromium for the file's tests, and close every context after each test.
 */
export function useDemoServer(): DemoFixture {
  const dir = tempDir('herald-demo-')
  let server: HeraldServer | undefined
  let browser: Browser | undefined
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    await ensureBuilt()
    ;[server, browser] = await Promise.all([startServe(['--mode', 'development', '--history', `sqlite:${join(dir.path, 'demo.db')}`], { cwd: dir.path }), launchChromium()])
  }, 180_000)
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()))
  })
  afterAll(async () => {
    await Promise.all([browser?.close(), server?.stop()])
    dir.cleanup()
  })

  const fixture: DemoFixture = {
    get server() {
      if (server === undefined) throw new Error('the demo server is not started')
      return server
    },
    get browser() {
      if (browser === undefined) throw new Error('the browser is not started')
      return browser
    },
    async newContext() {
      const context = await fixture.browser.newContext()
      contexts.push(context)
      return context
    },
    async open(path, context) {
      const page = await (context ?? (await fixture.newContext())).newPage()
      await page.goto(`${fixture.server.url}${path}`)
      return page
    },
  }
  return fixture
}

/** Waits until the page's connection status (`.status` element `#status`) shows a live stream. */
export async function waitUntilLive(page: Page): Promise<void> {
  await page.waitForSelector('#status[data-state="open"]', { timeout: 10_000 })
}
