import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

function errorModules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return errorModules(path)
    return name === 'errors.ts' ? [path] : []
  })
}

async function codesInSource(): Promise<Map<string, string>> {
  const codes = new Map<string, string>()
  for (const file of errorModules(join(root, 'src'))) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
    for (const [name, value] of Object.entries(mod)) {
      if (!name.endsWith('_ERROR_CODES') || !Array.isArray(value)) continue
      for (const code of value as string[]) {
        expect(codes.has(code), `${code} is declared twice`).toBe(false)
        codes.set(code, relative(root, file))
      }
    }
  }
  return codes
}

function codesInDocs(): string[] {
  const text = readFileSync(join(root, 'docs/errors.md'), 'utf8')
  return [...text.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!)
}

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes declared in src/**/errors.ts', async () => {
    const source = await codesInSource()
    const docs = codesInDocs()
    expect(source.size).toBeGreaterThan(0)
    expect(new Set(docs).size, 'a code is listed twice in docs/errors.md').toBe(docs.length)
    expect([...docs].sort()).toEqual([...source.keys()].sort())
  })

  it('every code has the form ERR_<AREA>_<WHAT> with the area of its layer', async () => {
    for (const [code, file] of await codesInSource()) {
      expect(code).toMatch(/^ERR_[A-Z]+_[A-Z0-9_]+$/)
      const layer = file.split(/[\\/]/)[1]!.toUpperCase()
      expect(code.startsWith(`ERR_${layer}_`), `${code} is declared in ${file}`).toBe(true)
    }
  })
})
