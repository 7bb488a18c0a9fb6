/**
 * Process accounting from /proc: a process tree's CPU time, resident memory, write system calls and context switches.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** One process's numbers from /proc/<pid>/stat. */
export interface ProcStat {
  readonly pid: number
  readonly ppid: number
  /** utime + stime: the process's own CPU time, in clock ticks. */
  readonly cpuTicks: number
  /** cutime + cstime: CPU time of its children that exited and were reaped, in clock ticks. */
  readonly reapedChildTicks: number
  /** Resident set, in pages. */
  readonly rssPages: number
}

function sysconf(name: string, fallback: number): number {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback
  } catch {
    return fallback
  }
}

/** Clock ticks per second of the CPU times in /proc (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = sysconf('CLK_TCK', 100)
/** Bytes per page of the RSS in /proc/<pid>/stat. */
export const PAGE_BYTES = sysconf('PAGESIZE', 4096)

/**
 * Reads /proc/<pid>/stat; `null` when the process is gone.
 *
 * The command name (field 2) may contain spaces and parentheses, so fields are counted from the last ')'.
 * After it: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17) … rss(24).
 */
export function readProcStat(pid: number): ProcStat | null {
  const text = readProcFile(pid, 'stat')
  if (text === null) return null
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const field = (n: number): number => Number(fields[n - 3] ?? 0)
  return {
    pid,
    ppid: field(4),
    cpuTicks: field(14) + field(15),
    reapedChildTicks: field(16) + field(17),
    rssPages: field(24),
  }
}

/**
 * The write system calls a process made so far (`syscw` of /proc/<pid>/io: `write`, `writev` and the like, over all
 * its threads); `null` when the process is gone or its io file is not readable (another user's process, without root).
 */
export function readWriteCalls(pid: number): number | null {
  const match = /^syscw:\s*(\d+)$/m.exec(readProcFile(pid, 'io') ?? '')
  return match === null ? null : Number(match[1])
}

/** A process's context switches so far, over all its live threads. */
export interface ContextSwitches {
  /** The threads gave up the CPU to wait (for I/O, a timer, a lock): each is a sleep and a wake-up. */
  readonly voluntary: number
  /** The threads were preempted while they could still run (another task was woken, or their time slice ended). */
  readonly involuntary: number
}

/**
 * The context switches of a process's live threads so far (`voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches`
 * of each /proc/<pid>/task/<tid>/status; those of a thread that exited are lost); `null` when the process is gone or
 * no thread could be read. On a virtual machine a switch can cost tens of µs of the process's CPU time, so a process
 * that sleeps and wakes often pays for it, whatever work it does.
 */
export function readContextSwitches(pid: number): ContextSwitches | null {
  let threads: string[]
  try {
    threads = readdirSync(`/proc/${pid}/task`)
  } catch {
    return null
  }
  let voluntary = 0
  let involuntary = 0
  let read = false
  for (const tid of threads) {
    const status = readProcFile(pid, `task/${tid}/status`)
    if (status === null) continue
    const match = /^voluntary_ctxt_switches:\s*(\d+)\s+^nonvoluntary_ctxt_switches:\s*(\d+)$/m.exec(status)
    if (match === null) continue
    voluntary += Number(match[1])
    involuntary += Number(match[2])
    read = true
  }
  return read ? { voluntary, involuntary } : null
}

/** The text of /proc/<pid>/<name>, or `null` when it cannot be read (the process is gone, or not ours). */
function readProcFile(pid: number, name: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'latin1')
  } catch {
    return null
  }
}

/**
 * The processes in the trees rooted at `roots` (the roots and all their descendants), from one scan of
 * /proc.
 *
 * @example
 * processTree([nginxMasterPid]) // master and every worker
 */
export function processTree(roots: readonly number[]): ProcStat[] {
  const all = new Map<number, ProcStat>()
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 0) continue
    const stat = readProcStat(pid)
    if (!stat) continue
    all.set(pid, stat)
    const siblings = children.get(stat.ppid)
    if (siblings) siblings.push(pid)
    else children.set(stat.ppid, [pid])
  }
  const seen = new Set<number>()
  const out: ProcStat[] = []
  const todo = [...roots]
  while (todo.length > 0) {
    const pid = todo.pop() ?? 0
    if (seen.has(pid)) continue
    seen.add(pid)
    const stat = all.get(pid)
    if (!stat) continue
    out.push(stat)
    todo.push(...(children.get(pid) ?? []))
  }
  return out
}
