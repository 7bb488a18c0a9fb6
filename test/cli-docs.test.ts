import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { COMMANDS } from '../src/cli/run-cli.js'
import { CONFIG_FIELDS, DEFAULT_CONFIG } from '../src/hub/index.js'

const root = join(import.meta.dirname, '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

describe('the CLI documentation matches the code', () => {
  it('docs/configuration.md has one row per setting with its environment variable, flag and default', () => {
    const text = read('docs/configuration.md')
    const rows = new Map([...text.matchAll(/^\| `(\w+)` \| `(HERALD_\w+)` \| `(--[\w-]+)` \|[^|]*\| `([^`]*)`/gm)].map((m) => [m[1]!, m.slice(2)]))
    expect([...rows.keys()].sort()).toEqual(CONFIG_FIELDS.map((f) => f.key).sort())
    for (const field of CONFIG_FIELDS) {
      const [env, flag, shownDefault] = rows.get(field.key)!
      expect(env, field.key).toBe(field.env)
      expect(flag, field.key).toBe(field.flag)
      expect(JSON.parse(shownDefault!), field.key).toEqual(DEFAULT_CONFIG[field.key])
    }
  })

  it('docs/hub.md lists every command', () => {
    const text = read('docs/hub.md')
    for (const verb of Object.keys(COMMANDS)) expect(text, verb).toContain(`| \`herald ${verb}`)
  })
})
