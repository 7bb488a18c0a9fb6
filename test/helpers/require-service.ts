/**
 * Decides whether tests that need an outside service (Redis, NATS, Chromium, …) run. When the service is missing
 * the tests are skipped with a printed notice, except under `CI=true`, where a missing service is an error.
 *
 * @example
 * ```ts
 * const hasChromium = requireService('Chromium', existsSync(CHROMIUM_PATH), `no browser at ${CHROMIUM_PATH}`)
 * describe.skipIf(!hasChromium)('in Chromium', () => { … })
 * ```
 */
export function requireService(name: string, available: boolean, detail: string): boolean {
  if (available) return true
  if (process.env.CI === 'true') throw new Error(`${name} is required in CI but unavailable: ${detail}`)
  console.warn(`[skip] ${name} unavailable (${detail}); its tests are skipped`)
  return false
}
