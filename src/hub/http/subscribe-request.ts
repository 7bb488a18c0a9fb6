import { HubError } from '../errors.js'
import type { TopicSelectorSpec } from '../topic-selector.js'
import { hasControlCharacter } from './publish-request.js'

/** The most topic selectors one subscribe request may carry. */
export const DEFAULT_MAX_SELECTORS = 100

/** What a subscribe request asks for. */
export interface SubscribeRequest {
  /** The topic selectors, in request order. */
  selectors: TopicSelectorSpec[]
  /**
   * Where to resume: the `Last-Event-ID` header, else the `lastEventID` (or the newer `last_event_id`) query
   * parameter; `'earliest'` asks for all retained history; `undefined` for live updates only.
   */
  lastEventId: string | undefined
}

/**
 * Query parameters that select topics, by name: `topic` (Mercure with the `mercure` claim: exact, `*` or URI
 * template), and the newer draft's `match` / `matchExact` (exact), `matchURLPattern` / `match_urlpattern` (URL
 * pattern), `matchURITemplate` (URI template).
 */
const SELECTOR_PARAMS: Readonly<Record<string, TopicSelectorSpec['kind']>> = {
  topic: 'topic',
  match: 'exact',
  matchExact: 'exact',
  matchURLPattern: 'urlpattern',
  match_urlpattern: 'urlpattern',
  matchURITemplate: 'topic',
}

/**
 * Reads the topic selectors and the resume point of a subscribe request.
 *
 * @throws `ERR_HUB_HTTP_QUERY_INVALID` (400) for no selector, too many, one with a control character, or an unknown
 *   parameter in the reserved `match…` namespace (the newer draft: such a request "MUST be rejected with a 400").
 */
export function parseSubscribeRequest(url: URL, headers: Headers, maxSelectors = DEFAULT_MAX_SELECTORS): SubscribeRequest {
  const selectors: TopicSelectorSpec[] = []
  for (const [name, value] of url.searchParams) {
    const kind = SELECTOR_PARAMS[name]
    if (kind === undefined) {
      if (name.toLowerCase().startsWith('match')) throw invalid(`unknown topic matcher parameter "${name}"`)
      continue
    }
    if (value === '') throw invalid(`the ${name} parameter is empty`)
    if (hasControlCharacter(value)) throw invalid(`the ${name} parameter contains a control character`)
    selectors.push({ kind, value })
    if (selectors.length > maxSelectors) throw invalid(`too many topic selectors (at most ${maxSelectors})`)
  }
  if (selectors.length === 0) throw invalid('no topic selector: add a topic parameter, for example ?topic=*')
  // Mercure: "If both the Last-Event-ID HTTP header and the lastEventID query parameter are present, the HTTP
  // header MUST take precedence."
  const header = headers.get('last-event-id')
  const lastEventId = header ?? url.searchParams.get('lastEventID') ?? url.searchParams.get('last_event_id') ?? undefined
  return { selectors, lastEventId: lastEventId === '' ? undefined : lastEventId }
}

function invalid(message: string): HubError {
  return new HubError('ERR_HUB_HTTP_QUERY_INVALID', message)
}
