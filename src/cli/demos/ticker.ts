/** A running publisher; `stop()` cancels the next tick and waits for a publish under way. */
export interface RunningPublisher {
  stop(): Promise<void>
}

/**
 * Calls `tick` at every multiple of `intervalMs` on the wall clock, never two at once (a tick due while the previous
 * one runs is skipped).
 */
export function startTicker(intervalMs: number, tick: () => Promise<void>, onError: (error: unknown) => void = () => undefined): RunningPublisher {
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  let stopped = false
  const schedule = (): void => {
    if (stopped) return
    timer = setTimeout(fire, intervalMs - (Date.now() % intervalMs))
  }
  const fire = (): void => {
    if (running === undefined) {
      running = tick()
        .catch(onError)
        .finally(() => (running = undefined))
    }
    schedule()
  }
  schedule()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
