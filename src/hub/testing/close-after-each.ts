import { afterEach } from 'vitest'

/** Anything a test opens and must close: an engine, a connection, a proxy. */
export interface Closable {
  close(): void | Promise<void>
}

/** What {@link closeAfterEach} returns: records `resource` to be closed after the test, and returns it. */
export type CloseAfterTest = <T extends Closable>(resource: T) => T

/**
 * Registers an `afterEach` hook that closes, newest first, every resource handed to the returned function during the
 * test, then runs `cleanup` (to delete the test's keys or streams, say). Call it at collection time: at the top of a
 * file it serves every test of the file, in a `describe` the tests of that `describe`.
 *
 * @example
 * ```ts
 * const streams: string[] = []
 * const closing = closeAfterEach(() => deleteStreams(streams.splice(0)))
 * const history = closing(new NatsHistory({ url: NATS_URL, stream }))
 * ```
 */
export function closeAfterEach(cleanup?: () => void | Promise<void>): CloseAfterTest {
  const opened: Closable[] = []
  afterEach(async () => {
    for (const resource of opened.splice(0).reverse()) await resource.close()
    await cleanup?.()
  })
  return (resource) => {
    opened.push(resource)
    return resource
  }
}
