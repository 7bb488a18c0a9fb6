#!/usr/bin/env node
// Runs every benchmark: each `bench:*` script of package.json, one after the other, in name order.
// Extra arguments go to every script (for example `npm run bench -- --quick`).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const names = Object.keys(scripts).filter((name) => name.startsWith('bench:')).sort()
const extra = process.argv.slice(2)
const failed = []
for (const name of names) {
  console.log(`\n=== npm run ${name} ${extra.join(' ')}`.trimEnd())
  const result = spawnSync('npm', ['run', '--silent', name, ...(extra.length > 0 ? ['--', ...extra] : [])], { stdio: 'inherit' })
  if (result.status !== 0) failed.push(name)
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that failed: ${failed.join(', ')}`)
  process.exit(1)
}
