// A second process for sqlite-history.test.ts, which bundles this file with esbuild and runs it with node.
// It opens a SqliteHistory on HERALD_TEST_DB and appends updates, printing one JSON line per acknowledged append:
//   1. HERALD_TEST_CHUNKS chunks of HERALD_TEST_CHUNK updates; after each chunk it prints {"type":"chunk"} and waits
//      for a line on stdin, so the parent can check what it sees while this process is alive;
//   2. then HERALD_TEST_BURST updates as fast as it can (the parent appends at the same time);
//   3. then {"type":"done"}, and it closes the store and exits.
import { createInterface } from 'node:readline'
import { SqliteHistory } from '../sqlite-history.js'

const path = process.env.HERALD_TEST_DB ?? ''
const chunks = Number(process.env.HERALD_TEST_CHUNKS ?? '0')
const chunk = Number(process.env.HERALD_TEST_CHUNK ?? '0')
const burst = Number(process.env.HERALD_TEST_BURST ?? '0')

const history = new SqliteHistory({ path })
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
let n = 0

async function appendOne(): Promise<void> {
  const id = `child-${n++}`
  const position = await history.append({ id, topics: ['/child'], data: String(n), private: false })
  process.stdout.write(`${JSON.stringify({ type: 'appended', id, position })}\n`)
}

for (let c = 0; c < chunks; c++) {
  for (let i = 0; i < chunk; i++) await appendOne()
  process.stdout.write(`${JSON.stringify({ type: 'chunk' })}\n`)
  await lines.next()
}
for (let i = 0; i < burst; i++) {
  await appendOne()
  // Yield now and then so a kill -9 from the parent can land mid-burst.
  if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
}
process.stdout.write(`${JSON.stringify({ type: 'done' })}\n`)
await history.close()
process.stdin.destroy()
