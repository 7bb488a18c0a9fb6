import { demoConfig, element, notice, publish, randomId, subscribe } from './demo.js'

const STORAGE_KEY = 'herald-demo-tasks'
const TOPIC = 'tasks'
const list = document.querySelector('#tasks')
const form = document.querySelector('#add')
const titleInput = document.querySelector('#title')
const received = document.querySelector('#received')

/** { lastEventId, tasks: { [id]: { id, title, done, updatedAt } } }, kept across reloads. */
let state = load()
let receivedCount = 0
let source

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY))
    if (saved && typeof saved.tasks === 'object') return saved
  } catch {
    // Nothing saved, or unreadable: start over.
  }
  return { lastEventId: null, tasks: {} }
}

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(state))
}

/** Applies one change: { op: 'upsert', task } or { op: 'delete', id }. Changes carry whole tasks, so replays are harmless. */
function apply(change) {
  if (change.op === 'upsert' && change.task && typeof change.task.id === 'string') state.tasks[change.task.id] = change.task
  else if (change.op === 'delete' && typeof change.id === 'string') delete state.tasks[change.id]
}

function render() {
  const tasks = Object.values(state.tasks).sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''))
  list.replaceChildren(...tasks.map(renderTask))
  document.querySelector('#empty').hidden = tasks.length > 0
  const done = tasks.filter((t) => t.done).length
  document.querySelector('#counts').textContent = `${tasks.length - done} open, ${done} done`
}

function renderTask(task) {
  const item = element('li', task.done ? 'done' : '')
  item.dataset.id = task.id
  const box = element('input')
  box.type = 'checkbox'
  box.checked = Boolean(task.done)
  box.setAttribute('aria-label', `Complete ${task.title}`)
  box.addEventListener('change', () => change({ op: 'upsert', task: { ...task, done: box.checked, updatedAt: new Date().toISOString() } }))
  const title = element('span', 'title', task.title)
  const edit = element('button', 'plain edit', 'edit')
  edit.type = 'button'
  edit.addEventListener('click', () => startEditing(item, task, title))
  const remove = element('button', 'plain delete', 'delete')
  remove.type = 'button'
  remove.addEventListener('click', () => change({ op: 'delete', id: task.id }))
  item.append(box, title, edit, remove)
  return item
}

function startEditing(item, task, title) {
  const input = element('input')
  input.type = 'text'
  input.value = task.title
  input.maxLength = 200
  input.setAttribute('aria-label', 'Task title')
  title.replaceWith(input)
  input.focus()
  let finished = false
  const finish = (commit) => {
    if (finished) return
    finished = true
    const value = input.value.trim()
    if (commit && value && value !== task.title) change({ op: 'upsert', task: { ...task, title: value, updatedAt: new Date().toISOString() } })
    else input.replaceWith(title)
  }
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') finish(true)
    if (event.key === 'Escape') finish(false)
  })
  input.addEventListener('blur', () => finish(true))
}

/** Publishes a change; the page applies it when it comes back from the hub, like every other page. */
async function change(update) {
  try {
    await publish(TOPIC, JSON.stringify(update))
  } catch (error) {
    notice(error.message)
  }
}

function onUpdate(event) {
  let update
  try {
    update = JSON.parse(event.data)
  } catch {
    return
  }
  apply(update)
  state.lastEventId = event.lastEventId
  save()
  received.textContent = String(++receivedCount)
  render()
}

/**
 * The hub could not resume exactly (its history was replaced, or the missed updates expired): start over from
 * everything it still holds.
 */
function onGap() {
  source.close()
  state = { lastEventId: null, tasks: {} }
  save()
  render()
  connect()
}

async function connect() {
  const from = state.lastEventId ?? 'earliest'
  document.querySelector('#resumed-from').textContent = from
  source = await subscribe(TOPIC, {
    lastEventId: from,
    statusElement: document.querySelector('#status'),
    handlers: { message: onUpdate, 'herald-gap': onGap },
  })
}

render()
const config = await demoConfig()
if (!config.publisherToken) {
  notice('Read-only: changing tasks needs the hub in development mode.')
  for (const control of form.elements) control.disabled = true
}
form.addEventListener('submit', (event) => {
  event.preventDefault()
  const title = titleInput.value.trim()
  if (!title) return
  titleInput.value = ''
  const now = new Date().toISOString()
  change({ op: 'upsert', task: { id: randomId(), title, done: false, createdAt: now, updatedAt: now } })
})
await connect()
