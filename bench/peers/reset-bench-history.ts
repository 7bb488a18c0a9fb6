/**
 * Empties the history a Redis or NATS bench system uses, before the system starts: every run then appends to an
 * empty history, whatever the runs before it left. Without it the bench history grows run after run until it reaches
 * its bound, and from then on every append also evicts the oldest entry, so that later runs cost the engine more than
 * earlier ones of the same build.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createClient } from 'redis'

/** Deletes the keys under the URL's `keyPrefix` (Redis), or the URL's `stream` (NATS); a missing one is fine. */
export async function resetBenchHistory(engine: 'redis' | 'nats', url: string): Promise<void> {
  const mark = url.indexOf('?')
  const server = mark === -1 ? url : url.slice(0, mark)
  const names = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1))
  if (engine === 'redis') {
    const prefix = names.get('keyPrefix')
    if (prefix === null) throw new Error(`the bench Redis URL names no keyPrefix to reset: ${server}`)
    const client = createClient({ url: server })
    client.on('error', () => undefined)
    await client.connect()
    try {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
        if (keys.length > 0) await client.del(keys)
      }
    } finally {
      client.destroy()
    }
    return
  }
  const stream = names.get('stream')
  if (stream === null) throw new Error(`the bench NATS URL names no stream to reset: ${server}`)
  const nc = await connect({ servers: server })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(stream).catch((error: unknown) => {
      if (!/stream not found/i.test(String(error))) throw error
    })
  } finally {
    await nc.close()
  }
}
