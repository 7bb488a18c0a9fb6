import { demoConfig, notice, randomId, showStatus, subscribe } from './demo.js'

const STORAGE_KEY = 'herald-demo-tokens'
const form = document.querySelector('#ask')
const promptInput = document.querySelector('#prompt')
const answer = document.querySelector('#answer')
const answerText = document.querySelector('#answer-text')
const status = document.querySelector('#status')

/** The answer being shown: { topic, prompt, text, tokens, lastEventId, done }, kept so a reload can resume. */
let current = null
let source = null
let startedAt = 0

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(current))
}

function show() {
  document.querySelector('#question').textContent = current ? `Q: ${current.prompt}` : ''
  answerText.textContent = current ? current.text : ''
  answer.dataset.state = !current ? 'idle' : current.done ? 'done' : 'streaming'
  document.querySelector('#token-count').textContent = String(current?.tokens ?? 0)
}

function track(event) {
  current.lastEventId = event.lastEventId
  save()
}

/** Subscribes to the answer's topic, resuming after the last token shown when there is one. */
function listen(onOpen, from = current.lastEventId ?? undefined) {
  return subscribe(current.topic, {
    lastEventId: from,
    statusElement: status,
    handlers: {
      open: onOpen ?? (() => undefined),
      start(event) {
        current.prompt = JSON.parse(event.data).prompt
        track(event)
        show()
      },
      token(event) {
        const { text } = JSON.parse(event.data)
        current.text += text
        current.tokens++
        track(event)
        // Append only the new text: the rest of the answer is left as it is.
        answerText.append(text)
        document.querySelector('#token-count').textContent = String(current.tokens)
        const seconds = (performance.now() - startedAt) / 1000
        if (seconds > 0) document.querySelector('#rate').textContent = `${(current.tokens / seconds).toFixed(1)} tokens/s`
      },
      done(event) {
        current.done = true
        track(event)
        show()
        source.close()
        showStatus(status, 'closed')
        status.textContent = 'done'
        form.querySelector('button').disabled = false
      },
    },
  })
}

async function ask(prompt) {
  source?.close()
  current = { topic: `llm/${randomId()}`, prompt, text: '', tokens: 0, lastEventId: null, done: false }
  save()
  show()
  form.querySelector('button').disabled = true
  startedAt = performance.now()
  // Subscribe first, then ask: the first token cannot be published before the page listens.
  let opened = false
  source = await listen(async () => {
    if (opened) return
    opened = true
    const response = await fetch('/demo/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: current.topic, prompt }),
    })
    if (!response.ok) {
      const { error } = await response.json().catch(() => ({}))
      notice(`The server did not start an answer: ${error ?? response.status}`)
      source.close()
      form.querySelector('button').disabled = false
    }
  })
}

const config = await demoConfig()
if (!config.generate) {
  notice('Answers are streamed only when the hub runs with --mode development.')
  for (const control of form.elements) control.disabled = true
}
form.addEventListener('submit', (event) => {
  event.preventDefault()
  const prompt = promptInput.value.trim()
  if (prompt) ask(prompt)
})

try {
  current = JSON.parse(localStorage.getItem(STORAGE_KEY))
} catch {
  current = null
}
show()
if (current && !current.done) {
  // Reloaded mid-answer: resume after the last token shown (from the start of the topic if none was).
  startedAt = performance.now()
  form.querySelector('button').disabled = true
  source = await listen(undefined, current.lastEventId ?? 'earliest')
}
