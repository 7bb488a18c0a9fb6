import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import type { Session } from '../session.js'
import type { EventMap } from '../sse-event.js'
import { sse, type NodeSseOptions } from './node.js'

/** Options of the {@link heraldSse} plugin (defaults for every `reply.sse()`), and of `reply.sse()` itself. */
export type FastifySseOptions = NodeSseOptions

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Opens an SSE session on this reply. Fastify stops managing the reply (`reply.hijack()`); headers set earlier
     * with `reply.header()` are kept, the SSE headers winning. Options override the plugin's.
     */
    sse<Events extends object = EventMap>(options?: FastifySseOptions): Session<Events>
  }
}

const plugin: FastifyPluginCallback<FastifySseOptions> = (fastify, defaults, done) => {
  fastify.decorateReply('sse', function sseReply<Events extends object = EventMap>(
    this: FastifyReply,
    options: FastifySseOptions = {},
  ): Session<Events> {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(this.getHeaders())) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value)
    }
    this.hijack()
    return sse<Events>(this.request.raw, this.raw, {
      ...defaults,
      ...options,
      headers: { ...headers, ...defaults.headers, ...options.headers },
    })
  })
  done()
}

/**
 * The Fastify plugin that decorates replies with `reply.sse()`. Registered with `fastify-plugin`, so the decorator
 * is visible to every route of the instance it is registered on.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { heraldSse } from 'herald-sse/server/fastify'
 * const app = Fastify()
 * await app.register(heraldSse, { keepAliveMs: 20_000 })
 * app.get('/events', (request, reply) => { channel.add(reply.sse()) })
 * ```
 */
export const heraldSse = fastifyPlugin(plugin, { name: 'herald-sse', fastify: '5.x' })

export default heraldSse
