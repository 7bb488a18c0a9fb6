// A node:http server that plays exact, scripted responses, for the client's tests. Each path has a list of plays:
// the n-th request to the path gets the n-th play (the last one repeats). Every request is recorded.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The index of this request among those to its path. */
  readonly index: number
}

/** How the server answers one request. */
export type Play = (request: RecordedRequest, res: ServerResponse, server: ScriptedServer) => void | Promise<void>

/** A running scripted server. */
export interface ScriptedServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** Every request received so far, in order. */
  readonly requests: RecordedRequest[]
  /** The requests to one path. */
  requestsTo(path: string): RecordedRequest[]
  /** Resolves once `count` requests reached `path`. */
  waitForRequests(path: string, count: number): Promise<RecordedRequest[]>
  /** Resolves when the response to the `index`-th request to `path` has closed (ended, or cut by either side). */
  responseClosed(path: string, index: number): Promise<void>
  /** Destroys every open connection (a server-side cut) without stopping the server. */
  dropConnections(): void
  close(): Promise<void>
}

export interface StreamPlayOptions {
  status?: number
  /** `null` sends no Content-Type. @defaultValue `'text/event-stream'` */
  contentType?: string | null
  headers?: Record<string, string>
  /** End the response after the body. @defaultValue `true` */
  end?: boolean
  /** Pause between chunks, in ms. @defaultValue 0 */
  gapMs?: number
}

/** Answers with `chunks` (each written separately), then ends unless `end: false`. */
export function stream(chunks: string | readonly (string | Uint8Array)[], options: StreamPlayOptions = {}): Play {
  const list = typeof chunks === 'string' ? [chunks] : chunks
  return async (_request, res) => {
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...options.headers }
    const contentType = options.contentType === undefined ? 'text/event-stream' : options.contentType
    if (contentType !== null) headers['content-type'] = contentType
    res.writeHead(options.status ?? 200, headers)
    res.flushHeaders()
    for (const chunk of list) {
      if (res.destroyed) return
      res.write(chunk)
      if (options.gapMs !== undefined && options.gapMs > 0) await delay(options.gapMs)
    }
    if (options.end !== false) res.end()
  }
}

/** Answers `status` with a plain body. */
export function status(code: number, options: { headers?: Record<string, string>; body?: string } = {}): Play {
  return (_request, res) => {
    res.writeHead(code, { 'content-type': 'text/plain', ...options.headers })
    res.end(options.body ?? '')
  }
}

/** Redirects to `location` (a path on this server or an absolute URL). */
export function redirect(code: 301 | 302 | 303 | 307 | 308, location: string): Play {
  return (_request, res) => {
    res.writeHead(code, { location })
    res.end()
  }
}

/** Sends the headers and `before`, then destroys the connection: a cut in the middle of a stream. */
export function cut(before: string, options: { afterMs?: number } = {}): Play {
  return async (_request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(before)
    await delay(options.afterMs ?? 20)
    res.socket?.destroy()
  }
}

/** Sends the headers (and `before`, if any), then nothing: a stalled stream. */
export function stall(before = ''): Play {
  return (_request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    if (before !== '') res.write(before)
  }
}

/** Never answers, not even with headers. */
export function hang(): Play {
  return () => undefined
}

/** Starts a scripted server on a free port of 127.0.0.1. */
export async function startScriptedServer(routes: Record<string, Play | readonly Play[]>): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = []
  const counts = new Map<string, number>()
  const waiters: { path: string; count: number; resolve: (list: RecordedRequest[]) => void }[] = []
  const sockets = new Set<Socket>()
  const closed = new Map<string, { promise: Promise<void>; resolve: () => void }>()
  const closedEntry = (key: string): { promise: Promise<void>; resolve: () => void } => {
    let entry = closed.get(key)
    if (entry === undefined) {
      let resolve = (): void => undefined
      const promise = new Promise<void>((r) => (resolve = r))
      entry = { promise, resolve }
      closed.set(key, entry)
    }
    return entry
  }
  let origin = ''

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const index = counts.get(path) ?? 0
      counts.set(path, index + 1)
      const request: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), index }
      requests.push(request)
      const entry = closedEntry(`${path}#${index}`)
      res.on('close', () => entry.resolve())
      for (const waiter of [...waiters]) {
        const list = requests.filter((r) => r.path === waiter.path)
        if (list.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve(list)
        }
      }
      const route = routes[path]
      if (route === undefined) {
        res.writeHead(404).end()
        return
      }
      const plays = Array.isArray(route) ? (route as readonly Play[]) : [route as Play]
      const play = plays[Math.min(index, plays.length - 1)]
      if (play === undefined) {
        res.writeHead(500).end()
        return
      }
      Promise.resolve(play(request, res, scripted)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    })
  })
  http.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => sockets.delete(socket))
  })
  const scripted: ScriptedServer = {
    get origin() {
      return origin
    },
    requests,
    requestsTo: (path) => requests.filter((r) => r.path === path),
    waitForRequests(path, count) {
      const list = requests.filter((r) => r.path === path)
      if (list.length >= count) return Promise.resolve(list)
      return new Promise((resolve) => waiters.push({ path, count, resolve }))
    },
    responseClosed: (path, index) => closedEntry(`${path}#${index}`).promise,
    dropConnections() {
      for (const socket of sockets) socket.destroy()
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => http.close(() => resolve()))
    },
  }
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  return scripted
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
