import { HubError } from '../errors.js'

/** The code of the `HubError` that `fn` throws, or `undefined` when it returns. Any other error is rethrown. */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof HubError) return error.code
    throw error
  }
  return undefined
}

/** The code of the `HubError` that `promise` rejects with, or `'resolved'`. Any other rejection is rethrown. */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    if (error instanceof HubError) return error.code
    throw error
  }
  return 'resolved'
}
