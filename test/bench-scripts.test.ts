import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const run = promisify(execFile)

describe('the machine benchmarks, --quick (real processes and sockets)', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'herald-bench-scripts-'))
  afterAll(() => rmSync(outDir, { recursive: true, force: true }))

  async function runScript(script: string): Promise<{ stdout: string; json: Record<string, unknown> }> {
    const out = join(outDir, `${script}.json`)
    const { stdout } = await run(process.execPath, [join(root, 'bench', script), '--quick', '--json', out], { cwd: root })
    return { stdout, json: JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown> }
  }

  it('bench:wakeup counts the context switches of an echo in another process', async () => {
    const { stdout, json } = await runScript('wakeup.bench.mjs')
    const rows = json['rows'] as { kind: string; cpuUsPerRoundTrip: number; switchesPerRoundTrip: number }[]
    expect(rows.map((row) => row.kind)).toEqual(['one process', 'two processes'])
    for (const row of rows) expect(row.cpuUsPerRoundTrip).toBeGreaterThan(0)
    // Each round trip puts the echo process to sleep until the next byte comes, and then wakes it.
    expect(rows[1]!.switchesPerRoundTrip).toBeGreaterThanOrEqual(1)
    expect(stdout).toContain('crossing to another process costs')
  })

  it('bench:split writes each response once per 40 ms with what came since, in one process and split over two', async () => {
    const { stdout, json } = await runScript('split.bench.mjs')
    const rows = json['rows'] as { processes: number[]; writes: number; cpuUsPerWrite: number; readerCpuUsPerWrite: number }[]
    expect(rows.map((row) => row.processes)).toEqual([[1000], [500, 500], [500]])
    // 2 s measured: 50 write times per response, and an update every 10 ms, so every one of them has something new.
    expect(rows.map((row) => row.writes)).toEqual([50_000, 50_000, 25_000])
    for (const row of rows) {
      expect(row.cpuUsPerWrite).toBeGreaterThan(0)
      expect(row.readerCpuUsPerWrite).toBeGreaterThan(0)
    }
    expect(stdout).toContain('| two processes, 500 responses each | 50,000 |')
  })
})
