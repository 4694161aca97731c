'use strict'
// Sends predictions to verity's Elasticsearch-compatible API with the official JavaScript client
// (@elastic/elasticsearch, which refuses servers that do not identify as Elasticsearch) and its
// bulk helper, then prints one JSON line: {"version", "successful", "failed", "statuses"}.
//
//   node es_bulk_js.js URL COUNT PREFIX [USER PASSWORD]
// Every 10th document lacks a request id, so the helper sees per-item errors beside successes.
const {Client} = require('@elastic/elasticsearch')

async function main() {
  const [url, count, prefix, username, password] = process.argv.slice(2)
  const client = new Client({node: url, auth: username ? {username, password} : undefined})
  const info = await client.info()
  const statuses = new Set()
  const docs = []
  for (let i = 0; i < Number(count); i++) {
    docs.push(i % 10 === 9 ? {model: 'fraud', note: 'no request id'} : {
      request_id: `${prefix}-${i}`,
      '@timestamp': '2026-11-20T10:30:00Z',
      model: {name: 'fraud', version: 'v2'},
      inputs: {amount: i, email: `user${i}@example.com`},
      outputs: {label: i % 2 ? 'ok' : 'fraud', score: (i % 100) / 100},
    })
  }
  const result = await client.helpers.bulk({
    datasource: docs,
    flushBytes: 64 * 1024,
    retries: 0,
    onDocument: () => ({create: {_index: 'predictions'}}),
    onDrop: (d) => statuses.add(d.status),
  })
  // A second identical pass: every document is an idempotent duplicate, answered 201.
  const again = await client.helpers.bulk({
    datasource: docs.filter((_, i) => i % 10 !== 9),
    retries: 0,
    onDocument: () => ({create: {_index: 'predictions'}}),
    onDrop: (d) => statuses.add(d.status),
  })
  console.log(JSON.stringify({version: info.version.number, successful: result.successful,
    failed: result.failed, again_successful: again.successful, again_failed: again.failed,
    statuses: [...statuses].sort()}))
}
main().catch((e) => { console.error(e.name + ': ' + e.message); process.exit(1) })
