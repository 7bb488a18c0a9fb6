/**
 * A grouped bar chart as a standalone SVG document, written by hand (no chart library): one group per
 * scenario, one bar per system, value labels on the bars, linear or logarithmic axis.
 */

/** One bar series (a system): a value per group, `null` where it did not run. */
export interface BarSeries {
  readonly name: string
  readonly color: string
  readonly values: readonly (number | null)[]
  /** A warning per value (e.g. `3 % lost`), drawn in red above its label; `null` for none. */
  readonly warnings?: readonly (string | null)[]
}

/** Inputs of {@link renderBarChart}. */
export interface BarChartInput {
  readonly title: string
  /** Second line under the title (what "better" means, the machine). */
  readonly subtitle?: string
  /** Axis label, e.g. `deliveries / s`. */
  readonly unit: string
  readonly groups: readonly string[]
  readonly series: readonly BarSeries[]
  /** `log` for values spanning decades (latencies). @defaultValue 'linear' */
  readonly scale?: 'linear' | 'log'
  /** Value label text. */
  readonly format: (value: number) => string
}

const WIDTH = 800
const HEIGHT = 420
const MARGIN = { left: 72, right: 16, top: 96, bottom: 46 }
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

/** Escapes text for SVG content and attributes. */
function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const round = (n: number): string => (Math.round(n * 10) / 10).toString()

/** A "nice" step (1, 2 or 5 × 10^k) so that about `count` steps cover `max`. */
function niceStep(max: number, count: number): number {
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / magnitude
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
}

interface Axis {
  /** Maps a value to a y pixel. */
  y(value: number): number
  ticks: number[]
}

/** Approximate width of `text` at `fontSize` px in a sans-serif face (for layout only). */
function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6
}

/**
 * A linear axis from 0 whose top leaves `headroom` (0…1 of the plot height) free above `max`, so labels
 * drawn above the tallest bar stay inside the plot.
 */
function linearAxis(max: number, top: number, bottom: number, headroom: number): Axis {
  const target = (max > 0 ? max : 1) / (1 - headroom)
  const step = niceStep(target, 5)
  const axisMax = Math.max(step, Math.ceil(target / step) * step)
  const ticks: number[] = []
  for (let t = 0; t <= axisMax + step / 2; t += step) ticks.push(t)
  return { y: (v) => bottom - (v / axisMax) * (bottom - top), ticks }
}

/** A decade axis whose top leaves `headroom` (0…1 of the plot height) free above `max`. */
function logAxis(min: number, max: number, top: number, bottom: number, headroom: number): Axis {
  const low = Math.floor(Math.log10(min > 0 ? min : 1))
  const maxLog = Math.log10(max > 0 ? max : 10)
  const high = Math.max(low + 1, Math.ceil(low + (maxLog - low) / (1 - headroom)))
  const ticks: number[] = []
  for (let k = low; k <= high; k++) ticks.push(10 ** k)
  return {
    y: (v) => bottom - ((Math.log10(Math.max(v, 10 ** low)) - low) / (high - low)) * (bottom - top),
    ticks,
  }
}

function tickLabel(value: number): string {
  if (value >= 1e6) return `${value / 1e6}M`
  if (value >= 1e3) return `${value / 1e3}k`
  return String(Number(value.toPrecision(3)))
}

/** Font size of value labels and warnings. */
const LABEL_FONT = 9

/**
 * Renders the chart. Value labels sit above their bars, horizontal when they fit the bar's width and
 * vertical otherwise (many systems per group); the axis leaves room above the tallest bar for them.
 *
 * @example
 * renderBarChart({ title: 'Deliveries per second', unit: 'deliveries / s', groups: ['S', 'A'],
 *   series: [{ name: 'nchan', color: '#2b6cb0', values: [290_000, 100_000] }], format: String })
 */
export function renderBarChart(input: BarChartInput): string {
  const plotTop = MARGIN.top
  const plotBottom = HEIGHT - MARGIN.bottom
  const plotLeft = MARGIN.left
  const plotRight = WIDTH - MARGIN.right
  const plotHeight = plotBottom - plotTop
  const values = input.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v))
  const positive = values.filter((v) => v > 0)
  const max = values.length > 0 ? Math.max(...values) : 1

  const groupWidth = (plotRight - plotLeft) / Math.max(1, input.groups.length)
  const seriesCount = Math.max(1, input.series.length)
  const barWidth = (groupWidth * 0.8) / seriesCount
  const labels = values.map((v) => input.format(v))
  const warnings = input.series.flatMap((s) => s.warnings ?? []).filter((w): w is string => w !== null)
  const widestLabel = Math.max(0, ...labels.map((l) => textWidth(l, LABEL_FONT)))
  const widestWarning = Math.max(0, ...warnings.map((w) => textWidth(w, LABEL_FONT)))
  const vertical = Math.max(widestLabel, widestWarning) > barWidth - 2
  // Pixels needed above a bar for its label (and warning), as a share of the plot height.
  const labelSpace = vertical
    ? widestLabel + (warnings.length > 0 ? widestWarning + 6 : 0) + 8
    : LABEL_FONT + 6 + (warnings.length > 0 ? LABEL_FONT + 4 : 0)
  const headroom = Math.min(0.6, labelSpace / plotHeight)
  const axis =
    input.scale === 'log'
      ? logAxis(positive.length > 0 ? Math.min(...positive) : 1, max, plotTop, plotBottom, headroom)
      : linearAxis(max, plotTop, plotBottom, headroom)

  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${xml(input.title)}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${plotLeft}" y="24" ${FONT} font-size="16" font-weight="600" fill="#1a202c">${xml(input.title)}</text>`,
  )
  if (input.subtitle) {
    out.push(`<text x="${plotLeft}" y="42" ${FONT} font-size="11" fill="#4a5568">${xml(input.subtitle)}</text>`)
  }

  // Legend, one row above the plot.
  let legendX = plotLeft
  for (const series of input.series) {
    out.push(
      `<rect x="${legendX}" y="54" width="10" height="10" fill="${series.color}"/>`,
      `<text x="${legendX + 14}" y="63" ${FONT} font-size="11" fill="#2d3748">${xml(series.name)}</text>`,
    )
    legendX += 24 + textWidth(series.name, 11)
  }

  // Grid and axis labels.
  for (const tick of axis.ticks) {
    const y = round(axis.y(tick))
    out.push(
      `<line x1="${plotLeft}" y1="${y}" x2="${plotRight}" y2="${y}" stroke="#e2e8f0" stroke-width="1"/>`,
      `<text x="${plotLeft - 6}" y="${y}" ${FONT} font-size="10" fill="#4a5568" text-anchor="end" dominant-baseline="middle">${xml(tickLabel(tick))}</text>`,
    )
  }
  const midY = round((plotTop + plotBottom) / 2)
  out.push(
    `<text x="16" y="${midY}" ${FONT} font-size="11" fill="#4a5568" text-anchor="middle" transform="rotate(-90 16 ${midY})">${xml(input.unit)}${input.scale === 'log' ? ' (log scale)' : ''}</text>`,
    `<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="#a0aec0" stroke-width="1"/>`,
  )

  // Bars with their labels.
  const label = (x: number, y: number, text: string, color: string, bold: boolean): string => {
    const weight = bold ? ' font-weight="600"' : ''
    return vertical
      ? `<text x="${round(x)}" y="${round(y)}" ${FONT} font-size="${LABEL_FONT}"${weight} fill="${color}" dominant-baseline="middle" transform="rotate(-90 ${round(x)} ${round(y)})">${xml(text)}</text>`
      : `<text x="${round(x)}" y="${round(y)}" ${FONT} font-size="${LABEL_FONT}"${weight} fill="${color}" text-anchor="middle">${xml(text)}</text>`
  }
  input.groups.forEach((group, g) => {
    const groupLeft = plotLeft + g * groupWidth + groupWidth * 0.1
    out.push(
      `<text x="${round(plotLeft + (g + 0.5) * groupWidth)}" y="${plotBottom + 18}" ${FONT} font-size="11" fill="#2d3748" text-anchor="middle">${xml(group)}</text>`,
    )
    input.series.forEach((series, s) => {
      const x = groupLeft + s * barWidth
      const centre = x + barWidth / 2
      const value = series.values[g] ?? null
      if (value === null || !Number.isFinite(value) || (input.scale === 'log' && value <= 0)) {
        out.push(label(centre, plotBottom - 4, 'n/a', '#a0aec0', false))
        return
      }
      const height = Math.max(1, plotBottom - axis.y(value))
      const top = plotBottom - height
      const text = input.format(value)
      out.push(
        `<rect x="${round(x + 1)}" y="${round(top)}" width="${round(Math.max(1, barWidth - 2))}" height="${round(height)}" fill="${series.color}"><title>${xml(`${series.name}, ${group}: ${text}`)}</title></rect>`,
        label(centre, top - 4, text, '#2d3748', false),
      )
      const warning = series.warnings?.[g] ?? null
      if (warning !== null) {
        const y = vertical ? top - 4 - textWidth(text, LABEL_FONT) - 6 : top - 15
        out.push(label(centre, y, warning, '#c53030', true))
      }
    })
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
