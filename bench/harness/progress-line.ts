/**
 * Progress on the terminal (stderr): one line rewritten in place on a TTY, or a line every few seconds
 * when stderr is a file or pipe (CI logs stay short).
 */

/** Minimum interval between rewrites on a TTY. @defaultValue 200 ms */
const TTY_INTERVAL_MS = 200
/** Minimum interval between lines when stderr is not a TTY. @defaultValue 5,000 ms */
const PLAIN_INTERVAL_MS = 5_000

/**
 * A throttled status line.
 *
 * @example
 * const progress = new ProgressLine()
 * progress.update('[nchan S] connect 500/1000')
 * progress.log('nchan started on 127.0.0.1:41873') // a permanent line
 * progress.clear()
 */
export class ProgressLine {
  private readonly tty: boolean
  private lastWriteMs = 0
  private shown = false

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY
  }

  /** Shows `text` as the current status (dropped when the previous update was too recent). */
  update(text: string, force = false): void {
    const now = Date.now()
    if (!force && now - this.lastWriteMs < (this.tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return
    this.lastWriteMs = now
    if (this.tty) {
      this.stream.write(`\r\x1b[K${text}`)
      this.shown = true
    } else this.stream.write(`${text}\n`)
  }

  /** Prints a permanent line (above the status line on a TTY). */
  log(text: string): void {
    this.clear()
    this.stream.write(`${text}\n`)
  }

  /** Removes the status line. */
  clear(): void {
    if (this.tty && this.shown) this.stream.write('\r\x1b[K')
    this.shown = false
  }
}
