import { existsSync } from 'node:fs'
import { chromium, type Browser, type LaunchOptions } from 'playwright-core'
import { requireService } from './require-service.js'

/** Where the browser is: `CHROMIUM_PATH`, else `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The flags every browser test runs Chromium with (headless, sandbox off for containers, no background traffic). */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Whether browser tests can run: `true` when Chromium is installed; otherwise prints a notice and returns `false`,
 * or throws under `CI=true`. Call it once per file, at collection time.
 *
 * @example
 * ```ts
 * describe.skipIf(!hasChromium())('EventSource in Chromium', () => { … })
 * ```
 */
export function hasChromium(): boolean {
  return requireService('Chromium', existsSync(CHROMIUM_PATH), `no executable at ${CHROMIUM_PATH}`)
}

/**
 * Launches headless Chromium through playwright-core with {@link CHROMIUM_FLAGS}. Close it in `afterAll`.
 *
 * @example
 * ```ts
 * let browser: Browser
 * beforeAll(async () => { browser = await launchChromium() })
 * afterAll(async () => { await browser.close() })
 * ```
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    ...options,
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_FLAGS, ...(options.args ?? [])],
  })
}
