#!/usr/bin/env node
// Prints the closing "N passed, N failed[, N skipped]" line from Vitest's JSON report.
import { existsSync, readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.vitest/results.json'
if (!existsSync(file)) {
  console.log('0 passed, 1 failed')
  console.error(`summarize-tests: no test report at ${file} (the test command stopped before the tests ran)`)
  process.exit(0)
}
const report = JSON.parse(readFileSync(file, 'utf8'))
const passed = report.numPassedTests ?? 0
// A test file that fails to load counts as a failure even though it reports no tests.
const failedSuites = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length
const failed = (report.numFailedTests ?? 0) + failedSuites
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
