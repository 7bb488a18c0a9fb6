import { demoConfig, element, notice, publish, randomId, subscribe } from './demo.js'

/** Messages kept on the page; older ones are removed. */
const MAX_MESSAGES = 200
const clientId = randomId()
const list = document.querySelector('#messages')
const form = document.querySelector('#send')
const name = document.querySelector('#name')
const text = document.querySelector('#text')

name.value = localStorage.getItem('herald-demo-chat-name') || `guest-${clientId.slice(0, 4)}`
name.addEventListener('change', () => localStorage.setItem('herald-demo-chat-name', name.value))

const config = await demoConfig()
if (!config.publisherToken) {
  notice('Read-only: sending needs the hub in development mode.')
  for (const control of form.elements) control.disabled = true
}

function render(event) {
  let message
  try {
    message = JSON.parse(event.data)
  } catch {
    return
  }
  const item = element('li', message.clientId === clientId ? 'mine' : '')
  item.append(element('span', 'author', String(message.author ?? 'someone')), element('span', 'text', String(message.text ?? '')))
  const sent = new Date(message.sentAt)
  if (!Number.isNaN(sent.getTime())) item.append(element('time', '', sent.toLocaleTimeString([], { hour12: false })))
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8
  list.append(item)
  while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove()
  if (atBottom) list.scrollTop = list.scrollHeight
}

// 'earliest' replays what the hub's history still holds, so a new page sees the conversation so far.
await subscribe('chat', { lastEventId: 'earliest', statusElement: document.querySelector('#status'), handlers: { message: render } })

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const body = text.value.trim()
  if (!body) return
  text.value = ''
  try {
    await publish('chat', JSON.stringify({ author: name.value.trim() || 'guest', text: body, sentAt: new Date().toISOString(), clientId }))
  } catch (error) {
    notice(error.message)
  }
})
