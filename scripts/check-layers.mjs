#!/usr/bin/env node
// Checks that imports in src/ point one way (see README "Layout") and that no import cycle exists.
// Exits 1 with one line per violation.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const src = join(root, 'src')

/** Which layers each layer may import, and whether it may import packages and `node:` built-ins. */
const RULES = {
  protocol: { layers: ['protocol'], packages: false, builtins: false },
  client: { layers: ['protocol', 'client'], packages: false, builtins: false },
  server: { layers: ['protocol', 'server'], packages: true, builtins: true },
  hub: { layers: ['protocol', 'server', 'hub'], packages: true, builtins: true },
  cli: { layers: ['protocol', 'server', 'client', 'hub', 'cli'], packages: true, builtins: true },
}
/** Files of the server core that must stay free of `node:` built-ins and frameworks (adapters translate). */
const SERVER_CORE_EXEMPT = `server${sep}adapters${sep}`

const isTestFile = (file) => file.endsWith('.test.ts') || file.includes(`${sep}testing${sep}`)

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : []
  })
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

const violations = []
const graph = new Map()
for (const file of walk(src)) {
  if (isTestFile(file)) continue
  const rel = relative(src, file)
  const layer = rel.split(sep)[0]
  const rule = RULES[layer]
  if (!rule) {
    violations.push(`${rel}: not inside a known layer (${Object.keys(RULES).join(', ')})`)
    continue
  }
  const edges = []
  const text = readFileSync(file, 'utf8')
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'))
      const targetLayer = relative(src, target).split(sep)[0]
      if (!rule.layers.includes(targetLayer)) violations.push(`${rel}: ${layer} may not import ${targetLayer} ('${spec}')`)
      edges.push(target)
    } else if (spec.startsWith('node:')) {
      const coreServer = layer === 'server' && !rel.startsWith(SERVER_CORE_EXEMPT)
      if (!rule.builtins || coreServer) violations.push(`${rel}: ${layer} may not import built-in '${spec}'`)
    } else {
      const coreServer = layer === 'server' && !rel.startsWith(SERVER_CORE_EXEMPT)
      if (!rule.packages || coreServer) violations.push(`${rel}: ${layer} may not import package '${spec}'`)
    }
  }
  graph.set(file, edges)
}

// Depth-first search for cycles between modules.
const state = new Map()
const stack = []
function visit(node) {
  state.set(node, 'active')
  stack.push(node)
  for (const next of graph.get(node) ?? []) {
    if (state.get(next) === 'active') {
      const cycle = stack.slice(stack.indexOf(next)).concat(next).map((f) => relative(src, f))
      violations.push(`import cycle: ${cycle.join(' -> ')}`)
    } else if (!state.has(next) && graph.has(next)) visit(next)
  }
  stack.pop()
  state.set(node, 'done')
}
for (const node of graph.keys()) if (!state.has(node)) visit(node)

if (violations.length > 0) {
  for (const v of violations) console.error(`check-layers: ${v}`)
  process.exit(1)
}
console.log(`check-layers: ${graph.size} modules, imports point one way, no cycles`)
