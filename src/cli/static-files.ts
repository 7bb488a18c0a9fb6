import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, sep } from 'node:path'

/** Content types of the files the demos are made of. Other extensions are not served. */
export const STATIC_CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
})

/**
 * The Content-Security-Policy of served pages: scripts, styles, images and connections from this origin only (the
 * demos load nothing from elsewhere).
 */
export const STATIC_CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

/** Serves one request from a directory; resolves `false` (having sent nothing) when no file answers it. */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

/**
 * Creates a handler that serves the files under `root` for `GET` and `HEAD`:
 *
 * - `/` and any path ending in `/` serve that directory's `index.html`;
 * - only files with an extension listed in {@link STATIC_CONTENT_TYPES} are served, with that content type;
 * - paths are decoded once and refused (`false`) when they contain `..` segments, backslashes, NUL or encoded
 *   slashes, and when the real path (symbolic links followed) lies outside `root`;
 * - answers carry `ETag` and `Last-Modified` and honour `If-None-Match` with `304`, plus `Cache-Control: no-cache`
 *   (revalidate each time), `X-Content-Type-Options: nosniff` and {@link STATIC_CONTENT_SECURITY_POLICY}.
 *
 * Other methods and missing files resolve `false` so that the caller answers (404, or another route).
 *
 * @example
 * ```ts
 * const serveStatic = createStaticHandler(fileURLToPath(new URL('../../web/', import.meta.url)))
 * http.createServer(async (req, res) => { if (!(await serveStatic(req, res))) { res.writeHead(404).end() } })
 * ```
 */
export function createStaticHandler(root: string): StaticHandler {
  const realRoot = realpath(root)
  // Keep a rejection from going unhandled before the first request awaits it.
  realRoot.catch(() => undefined)
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const relative = safeRelativePath(req.url ?? '/')
    if (relative === undefined) return false
    let base: string
    try {
      base = await realRoot
    } catch {
      return false
    }
    const file = await resolveFile(base, relative)
    if (file === undefined) return false
    const type = STATIC_CONTENT_TYPES[extname(file.path).toLowerCase()]
    if (type === undefined) return false
    const etag = `"${file.size.toString(36)}-${Math.floor(file.mtimeMs).toString(36)}"`
    const headers: Record<string, string> = {
      'content-type': type,
      'cache-control': 'no-cache',
      etag,
      'last-modified': new Date(file.mtimeMs).toUTCString(),
      'x-content-type-options': 'nosniff',
      'content-security-policy': STATIC_CONTENT_SECURITY_POLICY,
      'referrer-policy': 'no-referrer',
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return true
    }
    headers['content-length'] = String(file.size)
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return true
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file.path)
      stream.once('error', () => {
        res.destroy()
        resolve()
      })
      stream.once('end', resolve)
      res.once('close', () => {
        stream.destroy()
        resolve()
      })
      stream.pipe(res)
    })
    return true
  }
}

/** The request path as segments below the root, or `undefined` when it is unsafe or malformed. */
function safeRelativePath(url: string): string[] | undefined {
  const query = url.search(/[?#]/)
  const rawPath = query === -1 ? url : url.slice(0, query)
  if (!rawPath.startsWith('/')) return undefined
  // Encoded slashes and backslashes would let one segment name several directories.
  if (/%2f|%5c|\\/i.test(rawPath)) return undefined
  let path: string
  try {
    path = decodeURIComponent(rawPath)
  } catch {
    return undefined
  }
  if (path.includes('\0')) return undefined
  const segments = path.split('/').slice(1)
  if (segments.some((s) => s === '..' || s === '.' || (s.startsWith('.') && s.length > 0))) return undefined
  if (segments.at(-1) === '') segments[segments.length - 1] = 'index.html'
  if (segments.slice(0, -1).some((s) => s === '')) return undefined
  return segments
}

interface FoundFile {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

async function resolveFile(root: string, segments: readonly string[]): Promise<FoundFile | undefined> {
  try {
    let path = await realpath(join(root, ...segments))
    if (path !== root && !path.startsWith(root + sep)) return undefined
    let info = await stat(path)
    if (info.isDirectory()) {
      path = await realpath(join(path, 'index.html'))
      if (!path.startsWith(root + sep)) return undefined
      info = await stat(path)
    }
    if (!info.isFile()) return undefined
    return { path, size: info.size, mtimeMs: info.mtimeMs }
  } catch {
    return undefined
  }
}
