// Shared by the demo pages: reads /demo-config.json, subscribes with the browser's own EventSource, and publishes
// through the hub with the development token the server hands out (development mode only).

let configPromise

/** The demo configuration served by `herald serve`: { mode, hub, publisherToken, generate, workers }. */
export function demoConfig() {
  configPromise ??= fetch('/demo-config.json', { cache: 'no-store' }).then((response) => {
    if (!response.ok) throw new Error(`/demo-config.json answered ${response.status}`)
    return response.json()
  })
  return configPromise
}

/**
 * Opens a native EventSource on the hub for `topics`. `lastEventId` (an update id, or 'earliest') resumes after it
 * through the Mercure `lastEventID` query parameter; the browser itself sends Last-Event-ID when it reconnects.
 * `handlers` maps event types ('message', 'token', 'herald-gap', …) to functions receiving the MessageEvent.
 * `statusElement`, when given, shows the connection state.
 */
export async function subscribe(topics, { lastEventId, handlers = {}, statusElement } = {}) {
  const config = await demoConfig()
  const url = new URL(config.hub, location.origin)
  for (const topic of [].concat(topics)) url.searchParams.append('topic', topic)
  if (lastEventId) url.searchParams.set('lastEventID', lastEventId)
  const source = new EventSource(url)
  for (const [type, handler] of Object.entries(handlers)) source.addEventListener(type, handler)
  if (statusElement) {
    const show = () => showStatus(statusElement, ['connecting', 'open', 'closed'][source.readyState])
    source.addEventListener('open', show)
    source.addEventListener('error', show)
    show()
  }
  return source
}

/** Publishes one update (form fields topic, data, type, private) and resolves with its id. */
export async function publish(topic, data, { type, isPrivate = false } = {}) {
  const config = await demoConfig()
  if (!config.publisherToken) throw new Error('publishing from the page needs herald serve --mode development')
  const body = new URLSearchParams({ topic, data })
  if (type) body.set('type', type)
  if (isPrivate) body.set('private', 'on')
  const response = await fetch(config.hub, {
    method: 'POST',
    headers: { authorization: `Bearer ${config.publisherToken}` },
    body,
  })
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}))
    throw new Error(`publish refused: ${response.status} ${problem.code ?? ''} ${problem.detail ?? problem.title ?? ''}`.trim())
  }
  return response.text()
}

/** Shows a connection state ('connecting', 'open', 'closed') in an element with class "status". */
export function showStatus(element, state) {
  element.dataset.state = state
  element.textContent = { connecting: 'connecting…', open: 'live', closed: 'disconnected' }[state] ?? state
}

/** A random id that works in insecure contexts too (crypto.randomUUID needs HTTPS or localhost). */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Creates an element with a class and text (text only: nothing a peer sends is parsed as HTML). */
export function element(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

/** Shows a message in the page's notice area, for errors and read-only mode. */
export function notice(text) {
  const area = document.querySelector('#notice')
  if (!area) return
  area.textContent = text
  area.hidden = !text
}
