import { HubError } from '../errors.js'
import type { HubCore } from '../hub-core.js'
import { subscriptionDocument } from '../hub-core.js'
import type { HubRequest } from '../hub-request.js'
import { corsHeaders, isPreflight, preflightResponse } from './cors.js'
import { problemResponse, type HubResponse } from './problem.js'
import { HUB_PATH, parseBatchEntry, parsePublishForm, toHubUpdate } from './publish-request.js'

/** Settings of the HTTP layer. */
export interface HttpSettings {
  readonly maxBodyBytes: number
  readonly corsOrigins: readonly string[]
  readonly metrics: boolean
  /** The most updates one batch request may carry. */
  readonly maxBatchSize: number
}

const FORM = 'application/x-www-form-urlencoded'
const JSON_TYPE = 'application/json'
const decoder = new TextDecoder()

/**
 * Routes one request to the hub: `GET /.well-known/mercure` subscribes (the response is a stream: `undefined` is
 * returned once it is open), `POST /.well-known/mercure` publishes, `POST /.well-known/mercure/batch` publishes
 * many, `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]` is the subscriptions API, and `/healthz`,
 * `/readyz`, `/metrics` serve operations. Every error is an `application/problem+json` response with a code.
 * Returns `null` for paths the hub does not serve, so an embedding server can handle them.
 */
export async function handleRequest(core: HubCore, settings: HttpSettings, request: HubRequest): Promise<HubResponse | undefined | null> {
  const path = request.url.pathname
  const cors = corsHeaders(request.headers.get('origin'), settings.corsOrigins)
  const withCors = (response: HubResponse): HubResponse => {
    Object.assign(response.headers, cors)
    if (response.status >= 400) {
      const code = (JSON.parse(response.body) as { code?: string }).code ?? 'unknown'
      core.metrics.rejected.inc({ code })
    }
    return response
  }
  try {
    if (path === HUB_PATH || path.startsWith(`${HUB_PATH}/`)) {
      if (isPreflight(request.method, request.headers)) return preflightResponse(request.headers.get('origin'), settings.corsOrigins)
      if (path === HUB_PATH) {
        if (request.method === 'GET' || request.method === 'HEAD') {
          await core.subscribe(request, cors)
          return undefined
        }
        if (request.method === 'POST') return withCors(await publish(core, settings, request))
        return withCors(methodNotAllowed('GET, POST, OPTIONS'))
      }
      if (path === `${HUB_PATH}/batch`) {
        if (request.method !== 'POST') return withCors(methodNotAllowed('POST, OPTIONS'))
        return withCors(await publishBatch(core, settings, request))
      }
      if (path === `${HUB_PATH}/subscriptions` || path.startsWith(`${HUB_PATH}/subscriptions/`)) {
        if (!core.settings.subscriptions) throw new HubError('ERR_HUB_HTTP_NOT_FOUND', 'the subscriptions API is not enabled')
        if (request.method !== 'GET') return withCors(methodNotAllowed('GET, OPTIONS'))
        return withCors(await subscriptionsApi(core, request))
      }
      throw new HubError('ERR_HUB_HTTP_NOT_FOUND', `no hub resource at ${path}`)
    }
    if (path === '/healthz') return text(200, 'ok\n')
    if (path === '/readyz') return core.draining ? text(503, 'draining\n') : text(200, 'ready\n')
    if (path === '/metrics' && settings.metrics) {
      return { status: 200, headers: { 'content-type': core.metrics.registry.contentType }, body: await core.metrics.registry.metrics() }
    }
    return null
  } catch (error) {
    const response = problemResponse(error)
    // Server-side failures (an engine down, a bug) are the operator's to see; client errors are not logged.
    if (response.status >= 500) core.settings.logger.error?.('request failed', { error, path, status: response.status })
    return withCors(response)
  }
}

async function publish(core: HubCore, settings: HttpSettings, request: HubRequest): Promise<HubResponse> {
  if (!isContentType(request.headers, FORM)) {
    throw new HubError('ERR_HUB_HTTP_UNSUPPORTED_MEDIA_TYPE', `publish with Content-Type: ${FORM}`)
  }
  const body = decoder.decode(await request.body(settings.maxBodyBytes))
  const update = toHubUpdate(parsePublishForm(body), new URL(HUB_PATH, request.url))
  await core.settings.authorizer.authorizePublish(request, update.topics)
  const id = await core.publish(update)
  return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: id }
}

/**
 * Herald's batch endpoint: `{"updates": [ {topic, data, private, id, type, retry}, … ]}` in, one result per update
 * out, in order: `{"id": "…"}` or `{"error": <problem>}`. Each update is authorised on its own; one refused update
 * does not stop the others.
 */
async function publishBatch(core: HubCore, settings: HttpSettings, request: HubRequest): Promise<HubResponse> {
  if (!isContentType(request.headers, JSON_TYPE)) {
    throw new HubError('ERR_HUB_HTTP_UNSUPPORTED_MEDIA_TYPE', `batch publish with Content-Type: ${JSON_TYPE}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(await request.body(settings.maxBodyBytes)))
  } catch (error) {
    if (error instanceof HubError) throw error
    throw new HubError('ERR_HUB_HTTP_UPDATE_INVALID', 'the batch body is not valid JSON')
  }
  const updates = (parsed as { updates?: unknown } | null)?.updates
  if (!Array.isArray(updates)) throw new HubError('ERR_HUB_HTTP_UPDATE_INVALID', 'the batch body must be {"updates": [...]}')
  if (updates.length > settings.maxBatchSize) {
    throw new HubError('ERR_HUB_HTTP_UPDATE_INVALID', `a batch holds at most ${settings.maxBatchSize} updates`)
  }
  const hubUrl = new URL(HUB_PATH, request.url)
  const results = await Promise.all(
    updates.map(async (entry: unknown) => {
      try {
        const update = toHubUpdate(parseBatchEntry(entry), hubUrl)
        await core.settings.authorizer.authorizePublish(request, update.topics)
        return { id: await core.publish(update) }
      } catch (error) {
        return { error: JSON.parse(problemResponse(error).body) as unknown }
      }
    }),
  )
  return { status: 200, headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }, body: JSON.stringify({ results }) }
}

const DEFAULT_PAGE_SIZE = 100
const MAX_PAGE_SIZE = 1000

/**
 * The Mercure subscriptions API: the collection, the subscriptions to one topic selector, or one subscription,
 * as JSON-LD. The token's subscribe selectors must match the requested path. Pages with `?limit=` (default 100, at
 * most 1000) and `?cursor=` (from the `next` link of the previous page).
 */
async function subscriptionsApi(core: HubCore, request: HubRequest): Promise<HubResponse> {
  const path = request.url.pathname
  await core.settings.authorizer.authorizeSubscriptionsApi(request, path)
  const rest = path.slice(`${HUB_PATH}/subscriptions`.length).split('/').filter((s) => s !== '')
  if (rest.length > 2) throw new HubError('ERR_HUB_HTTP_NOT_FOUND', `no hub resource at ${path}`)
  const [topic, subscriber] = rest.map((s) => decodeURIComponent(s))
  const headers = { 'content-type': 'application/ld+json', 'cache-control': 'must-revalidate' }
  const all = [...core.registry.subscriptions()].filter((s) => (topic === undefined || s.topic === topic) && (subscriber === undefined || s.subscriber === subscriber))
  const docs = all.map((s) => subscriptionDocument({ kind: 'topic', value: s.topic }, s.subscriber, s.payload, true))
  if (subscriber !== undefined) {
    const doc = docs[0]
    if (doc === undefined) throw new HubError('ERR_HUB_HTTP_NOT_FOUND', 'no such subscription')
    return { status: 200, headers, body: JSON.stringify({ '@context': 'https://mercure.rocks/', ...doc, lastEventID: core.lastEventId }) }
  }
  const limitParam = Number(request.url.searchParams.get('limit') ?? DEFAULT_PAGE_SIZE)
  const limit = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE
  const cursor = Number(request.url.searchParams.get('cursor') ?? 0)
  const start = Number.isInteger(cursor) && cursor >= 0 ? cursor : 0
  const page = docs.slice(start, start + limit)
  const body: Record<string, unknown> = {
    '@context': 'https://mercure.rocks/',
    id: path,
    type: 'Subscriptions',
    lastEventID: core.lastEventId,
    subscriptions: page,
    totalItems: docs.length,
  }
  if (start + limit < docs.length) body.next = `${path}?limit=${limit}&cursor=${start + limit}`
  return { status: 200, headers, body: JSON.stringify(body) }
}

function isContentType(headers: Headers, type: string): boolean {
  const value = headers.get('content-type')
  return value !== null && value.split(';')[0]?.trim().toLowerCase() === type
}

function methodNotAllowed(allow: string): HubResponse {
  const response = problemResponse(new HubError('ERR_HUB_HTTP_METHOD_NOT_ALLOWED', `use ${allow}`))
  response.headers.allow = allow
  return response
}

function text(status: number, body: string): HubResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body }
}
