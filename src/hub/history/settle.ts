// Internal helper of the synchronous engines. Not re-exported from index.ts.

/**
 * Runs `run` at once and returns its result as a promise; a throw becomes a rejection. Unlike `Promise.resolve().then`
 * it does not defer the work, so calls started together run in call order, each to completion.
 */
export function settle<T>(run: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(run()))
}
