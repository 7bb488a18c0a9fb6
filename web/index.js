import { demoConfig, notice, subscribe } from './demo.js'

const config = await demoConfig()
document.querySelector('#mode').textContent =
  `Hub mode: ${config.mode}` + (config.workers > 1 ? `, ${config.workers} worker processes` : '') + '.'
if (!config.publisherToken) notice('Read-only: pages can publish only when the hub runs with --mode development.')
// A live connection shows the hub is reachable; the clock topic ticks every second.
await subscribe('clock', { statusElement: document.querySelector('#status') })
