/**
 * Rejects with `onTimeout()` unless `promise` settles within `ms`; a rejection of `promise` that is not an `Error`
 * is wrapped in one. `onTimeout` runs when the time is up, before the returned promise rejects.
 *
 * @example
 * ```ts
 * await withTimeout(nc.flush(), 5_000, () => new Error('no answer within 5000 ms'))
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
