import { element, subscribe } from './demo.js'

/** Seconds of history in the sparkline. */
const SPARK_POINTS = 60
/** A worker not heard from for this long has stopped (the hub publishes every second). */
const STALE_MS = 5000

/** The latest snapshot of each worker, by worker number. */
const workers = new Map()
const deliveries = []

const number = new Intl.NumberFormat()
const set = (id, value) => (document.querySelector(`#${id}`).textContent = value)

function onSnapshot(event) {
  const snapshot = JSON.parse(event.data)
  workers.set(snapshot.worker, { ...snapshot, receivedAt: Date.now() })
  for (const [worker, s] of workers) if (Date.now() - s.receivedAt > STALE_MS) workers.delete(worker)
  const all = [...workers.values()].sort((a, b) => a.worker - b.worker)
  const sum = (key) => all.reduce((total, s) => total + s[key], 0)

  set('connections', number.format(sum('connections')))
  set('subscriptions', number.format(sum('subscriptions')))
  // Workers index topics separately; the largest is a lower bound of the distinct topics.
  set('topics', number.format(Math.max(...all.map((s) => s.topics))))
  set('publishes-rate', sum('publishesPerSecond').toFixed(1))
  set('deliveries-rate', sum('deliveriesPerSecond').toFixed(1))
  // History is shared by the workers: every one reports the same store.
  set('history-size', number.format(Math.max(...all.map((s) => s.historySize))))
  set('updated', new Date(snapshot.time).toLocaleTimeString([], { hour12: false }))

  deliveries.push(sum('deliveriesPerSecond'))
  if (deliveries.length > SPARK_POINTS) deliveries.shift()
  const peak = Math.max(1, ...deliveries)
  const points = deliveries.map((v, i) => `${i + SPARK_POINTS - deliveries.length},${(20 - (v / peak) * 19).toFixed(2)}`)
  document.querySelector('#spark-line').setAttribute('points', points.join(' '))

  document.querySelector('#workers').replaceChildren(
    ...all.map((s) => {
      const row = element('tr')
      const cells = [s.worker, s.pid, number.format(s.connections), number.format(s.publishesTotal), number.format(s.deliveriesTotal),
        number.format(s.evictionsTotal), number.format(s.rejectedTotal), `${(s.rssBytes / 1048576).toFixed(0)} MiB`, `${s.uptimeSeconds} s`]
      row.append(...cells.map((value) => element('td', '', String(value))))
      return row
    }),
  )
}

await subscribe('dashboard', { statusElement: document.querySelector('#status'), handlers: { message: onSnapshot } })
