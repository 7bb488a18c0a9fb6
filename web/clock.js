import { subscribe } from './demo.js'

const clock = document.querySelector('#clock')
const date = document.querySelector('#clock-date')
const ticks = document.querySelector('#ticks')
const lastId = document.querySelector('#last-id')
let count = 0

await subscribe('clock', {
  statusElement: document.querySelector('#status'),
  handlers: {
    message(event) {
      const { time } = JSON.parse(event.data)
      const at = new Date(time)
      clock.textContent = at.toLocaleTimeString([], { hour12: false })
      clock.dataset.time = time
      date.textContent = at.toDateString()
      ticks.textContent = String(++count)
      lastId.textContent = event.lastEventId
    },
  },
})
