// A pause that ends early when a command stops. Internal to the CLI: not re-exported from index.ts.

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects), leaving no timer or listener behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
