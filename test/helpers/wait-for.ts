/**
 * Polls `condition` until it holds, for conditions nothing signals (a session closing on the server, a counter
 * reaching zero). The timeout is a safety net for a hung test, not a speed assertion.
 */
export async function waitFor(condition: () => boolean, description = 'condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
