import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStaticHandler } from './static-files.js'

const base = mkdtempSync(join(tmpdir(), 'herald-static-'))
const root = join(base, 'web')
let server: Server
let port = 0

beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true })
  writeFileSync(join(root, 'index.html'), '<h1>root</h1>')
  writeFileSync(join(root, 'sub', 'index.html'), '<h1>sub</h1>')
  writeFileSync(join(root, 'app.js'), 'export {}')
  writeFileSync(join(root, 'notes.md'), '# not served')
  writeFileSync(join(base, 'secret.txt'), 'secret')
  symlinkSync(join(base, 'secret.txt'), join(root, 'leak.txt'))
  symlinkSync(base, join(root, 'parent'))
  const serve = createStaticHandler(root)
  server = createServer((req, res) => {
    void serve(req, res).then((served) => {
      if (!served) res.writeHead(404).end('not found')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  rmSync(base, { recursive: true, force: true })
})

/** Sends `path` exactly as written (no URL normalisation). */
function get(path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }))
    })
    req.once('error', reject)
    req.end()
  })
}

describe('createStaticHandler', () => {
  it('serves files with their content type, and index.html for directories', async () => {
    expect(await get('/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<h1>root</h1>' })
    expect(await get('/sub/')).toMatchObject({ status: 200, body: '<h1>sub</h1>' })
    expect(await get('/app.js?v=1')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' })
    expect(await get('/app.js', 'HEAD')).toMatchObject({ status: 200, body: '' })
  })

  it('refuses traversal, hidden names, unknown extensions, other methods and links leading outside the root', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/..%2fsecret.txt', '/%5c..%5csecret.txt', '/notes.md', '/leak.txt', '/parent/secret.txt', '/app.js%00.html', '//etc/passwd', '/%zz']) {
      const response = await get(path)
      expect(response.status, path).toBe(404)
      expect(response.body, path).not.toContain('secret')
    }
    expect((await get('/index.html', 'POST')).status).toBe(404)
  })
})
