/** Options of {@link mercureLink}. */
export interface MercureLinkOptions {
  /**
   * The id of the last update the application published when it generated the resource: subscribers pass it to the
   * hub as `lastEventID`, so updates made between the page load and the subscription are not lost.
   */
  lastEventId?: string
  /** The content type of the updates, when it differs from the resource's (e.g. `application/merge-patch+json`). */
  contentType?: string
}

/**
 * The `Link` header value that advertises a hub for a resource (Mercure discovery): `<hub>; rel="mercure"`, with the
 * optional `last-event-id` and `content-type` target attributes.
 *
 * @example
 * ```ts
 * res.setHeader('Link', mercureLink('https://hub.example.com/.well-known/mercure', { lastEventId: id }))
 * // <https://hub.example.com/.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:…"
 * ```
 * @see https://mercure.rocks/spec#discovery
 */
export function mercureLink(hubUrl: string | URL, options: MercureLinkOptions = {}): string {
  let link = `<${String(hubUrl)}>; rel="mercure"`
  if (options.lastEventId !== undefined) link += `; last-event-id="${quote(options.lastEventId)}"`
  if (options.contentType !== undefined) link += `; content-type="${quote(options.contentType)}"`
  return link
}

/** Options of {@link mercureCookie}. */
export interface MercureCookieOptions {
  /** The cookie's `Path`: the hub's path, so the token goes only to the hub. @defaultValue `/.well-known/mercure` */
  path?: string
  /** The cookie's `Domain`, to share it with a hub on a sibling subdomain. */
  domain?: string
  /** `Secure` (HTTPS only). @defaultValue true */
  secure?: boolean
  /** `SameSite`. @defaultValue `'Strict'` */
  sameSite?: 'Strict' | 'Lax' | 'None'
  /** `Max-Age` in seconds (match the token's lifetime). */
  maxAgeSeconds?: number
  /** The cookie name. @defaultValue `mercureAuthorization` */
  name?: string
}

/**
 * The `Set-Cookie` header value that hands a subscriber token to a browser, as the Mercure spec recommends:
 * `HttpOnly` (out of reach of scripts), `Secure`, `SameSite`, scoped to the hub's path.
 *
 * @example
 * ```ts
 * res.setHeader('Set-Cookie', mercureCookie(token, { maxAgeSeconds: 3600 }))
 * ```
 */
export function mercureCookie(token: string, options: MercureCookieOptions = {}): string {
  const { path = '/.well-known/mercure', domain, secure = true, sameSite = 'Strict', maxAgeSeconds, name = 'mercureAuthorization' } = options
  let cookie = `${name}=${token}; Path=${path}; HttpOnly; SameSite=${sameSite}`
  if (secure) cookie += '; Secure'
  if (domain !== undefined) cookie += `; Domain=${domain}`
  if (maxAgeSeconds !== undefined) cookie += `; Max-Age=${Math.floor(maxAgeSeconds)}`
  return cookie
}

function quote(value: string): string {
  return value.replace(/["\\]/g, (c) => `\\${c}`)
}
