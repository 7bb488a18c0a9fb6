#!/usr/bin/env node
// Compiles the hub benchmark harness (TypeScript, in bench/harness and bench/peers) with esbuild and runs
// it: `npm run bench:hub -- [options]` (`--help` lists them). Every program that runs as its own process
// (the load worker, the Node servers under test) is one entry below; a system that adds a program adds
// its entry here. The build directory must sit inside the repository so that packages resolve from
// node_modules; HERALD_BENCH_BUILD_DIR overrides it (the tests use a private one).
import { build } from 'esbuild'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(import.meta.dirname, '..', '..')
const buildDir = resolve(process.env.HERALD_BENCH_BUILD_DIR ?? join(root, 'bench', 'out', 'build'))

const entries = {
  main: 'bench/harness/main.ts',
  'load-worker': 'bench/harness/loadgen/load-worker.ts',
  'naive-server': 'bench/peers/naive-server.ts',
  'better-sse-server': 'bench/peers/better-sse-server.ts',
  'pushpin-origin': 'bench/peers/pushpin-origin.ts',
  'herald-server': 'bench/peers/herald-server.ts',
}

await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, join(root, file)])),
  outdir: buildDir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
})

const { main } = await import(pathToFileURL(join(buildDir, 'main.mjs')).href)
process.exitCode = await main(process.argv.slice(2), { buildDir })
