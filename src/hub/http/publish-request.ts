import { HubError } from '../errors.js'
import type { HubUpdate } from '../update.js'

/** The reserved namespace of the hub's own resources (subscription events, the subscriptions API). */
export const HUB_PATH = '/.well-known/mercure'

/** The fields of one update as a publisher sends them, before validation. */
export interface PublishFields {
  topics: string[]
  data: string | undefined
  private: boolean
  id: string | undefined
  type: string | undefined
  retry: string | number | undefined
}

/**
 * Reads a Mercure publish form (`application/x-www-form-urlencoded`): `topic` (repeatable; the first is canonical),
 * `data`, `private` (present means private, whatever its value), `id`, `type`, `retry`. Unknown fields are ignored,
 * as the protocol allows; of a field given twice (other than `topic`), the first counts.
 */
export function parsePublishForm(body: string): PublishFields {
  const form = new URLSearchParams(body)
  return {
    topics: form.getAll('topic'),
    data: form.get('data') ?? undefined,
    private: form.has('private'),
    id: form.get('id') ?? undefined,
    type: form.get('type') ?? undefined,
    retry: form.get('retry') ?? undefined,
  }
}

/**
 * Reads one entry of a batch publish (`{ "topic": "…" | ["…"], "data"?, "private"?, "id"?, "type"?, "retry"? }`).
 * Throws `ERR_HUB_HTTP_UPDATE_INVALID` for an entry of the wrong shape.
 */
export function parseBatchEntry(entry: unknown): PublishFields {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) invalid('each update must be a JSON object')
  const e = entry as Record<string, unknown>
  const topic = e.topic ?? e.topics
  const topics = typeof topic === 'string' ? [topic] : topic === undefined ? [] : topic
  if (!Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) invalid('topic must be a string or an array of strings')
  for (const key of ['data', 'id', 'type'] as const) {
    if (e[key] !== undefined && typeof e[key] !== 'string') invalid(`${key} must be a string`)
  }
  if (e.private !== undefined && typeof e.private !== 'boolean') invalid('private must be true or false')
  if (e.retry !== undefined && typeof e.retry !== 'number' && typeof e.retry !== 'string') invalid('retry must be a number')
  return {
    topics: topics,
    data: e.data as string | undefined,
    private: e.private === true,
    id: e.id as string | undefined,
    type: e.type as string | undefined,
    retry: e.retry,
  }
}

/**
 * Checks publish fields and builds the update. The id is generated as a `urn:uuid:` IRI when absent.
 *
 * @param hubUrl - The hub's URL, against which topics are resolved to find ones in its reserved namespace.
 * @throws `ERR_HUB_HTTP_TOPIC_MISSING` (400) without a topic, `ERR_HUB_HTTP_TOPIC_RESERVED` (403) for a topic in
 *   `/.well-known/mercure`, `ERR_HUB_HTTP_UPDATE_INVALID` (400) for a malformed field.
 */
export function toHubUpdate(fields: PublishFields, hubUrl: URL, newId: () => string = randomId): HubUpdate {
  const { topics } = fields
  if (topics.length === 0) throw new HubError('ERR_HUB_HTTP_TOPIC_MISSING', 'the update has no topic: send at least one topic field')
  for (const topic of topics) {
    if (topic === '') invalid('a topic must not be empty')
    if (hasControlCharacter(topic)) invalid(`the topic ${JSON.stringify(topic)} contains a control character`)
    if (isReservedTopic(topic, hubUrl)) {
      throw new HubError('ERR_HUB_HTTP_TOPIC_RESERVED', `the topic ${JSON.stringify(topic)} is in the hub's reserved namespace ${HUB_PATH}`)
    }
  }
  const update: { -readonly [K in keyof HubUpdate]: HubUpdate[K] } = {
    id: fields.id ?? newId(),
    topics,
    data: fields.data ?? '',
    private: fields.private,
  }
  // Mercure: "The provided ID MUST NOT start with the # character."
  if (update.id === '' || update.id.startsWith('#')) invalid('id must not be empty or start with #')
  if (/[\r\n\0]/.test(update.id)) invalid('id must not contain CR, LF or NULL')
  if (fields.type !== undefined && fields.type !== '') {
    if (/[\r\n]/.test(fields.type)) invalid('type must not contain CR or LF')
    update.type = fields.type
  }
  if (fields.retry !== undefined && fields.retry !== '') {
    const retry = typeof fields.retry === 'number' ? fields.retry : /^\d+$/.test(fields.retry) ? Number(fields.retry) : NaN
    if (!Number.isSafeInteger(retry) || retry < 0) invalid('retry must be a whole number of milliseconds')
    update.retry = retry
  }
  return update
}

/** Whether `topic`, resolved against the hub's URL, has a path in the hub's reserved namespace. */
export function isReservedTopic(topic: string, hubUrl: URL): boolean {
  let path: string
  try {
    path = new URL(topic, hubUrl).pathname
  } catch {
    return false
  }
  return path === HUB_PATH || path.startsWith(`${HUB_PATH}/`)
}

/** C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F) control characters, which topics must not contain. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

function randomId(): string {
  return `urn:uuid:${crypto.randomUUID()}`
}

function invalid(message: string): never {
  throw new HubError('ERR_HUB_HTTP_UPDATE_INVALID', message)
}
