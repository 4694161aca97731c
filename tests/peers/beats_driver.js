'use strict'
// Sends Filebeat-shaped prediction events to a Beats (Lumberjack v2) server and checks its ACKs.
//
//   node beats_driver.js --port P [--host H] --events N --window W [--connections C]
//                        [--prefix ID] [--plain] [--resend] [--timeout-ms T]
//                        [--tls-ca CA.pem [--tls-cert C.pem --tls-key K.pem]]
//
// Compressed windows go through the real `lumberjack-client` package (one client per window: the
// package frames a window from the events queued before it connects, zlib-compressed). The
// package neither reads ACKs nor resends, so this driver reads the ACK frames from the client's
// socket itself and, with --resend, sends a window again on a new connection until it is
// acknowledged (what Filebeat does after a server crash). --plain sends uncompressed windows with
// hand-written frames ('2W' + '2J'...). Every 4th event is sent unwrapped (a document with its own
// request id, as with Filebeat's json.keys_under_root); the others are wrapped in `message`.
// Prints one JSON line: {"windows", "events", "resends", "acks_ok"}.
const fs = require('fs')
const net = require('net')
const LumberjackClient = require('lumberjack-client')

const args = {host: '127.0.0.1', events: 100, window: 10, connections: 1, prefix: 'beat',
  plain: false, resend: false, timeoutMs: 60000}
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  const next = () => process.argv[++i]
  if (a === '--port') args.port = Number(next())
  else if (a === '--host') args.host = next()
  else if (a === '--events') args.events = Number(next())
  else if (a === '--window') args.window = Number(next())
  else if (a === '--connections') args.connections = Number(next())
  else if (a === '--prefix') args.prefix = next()
  else if (a === '--plain') args.plain = true
  else if (a === '--resend') args.resend = true
  else if (a === '--timeout-ms') args.timeoutMs = Number(next())
  else if (a === '--tls-ca') args.ca = next()
  else if (a === '--tls-cert') args.cert = next()
  else if (a === '--tls-key') args.key = next()
  else { console.error('unknown argument ' + a); process.exit(2) }
}

function event(i) {
  const prediction = {
    request_id: `${args.prefix}-${i}`,
    timestamp: '2026-11-20T10:30:00Z',
    model: {name: 'fraud', version: 'v3'},
    inputs: {amount: i % 1000, email: `user${i}@example.com`},
    outputs: {label: i % 2 ? 'fraud' : 'ok', score: (i % 100) / 100},
  }
  if (i % 4 === 3) return prediction
  return {
    '@timestamp': '2026-11-20T10:30:01Z',
    '@metadata': {beat: 'filebeat', type: '_doc', version: '8.15.0'},
    host: {name: 'node-1'},
    agent: {type: 'filebeat', version: '8.15.0'},
    log: {file: {path: '/var/log/model/predictions.log'}, offset: i * 100},
    input: {type: 'filestream'},
    message: JSON.stringify(prediction),
  }
}

// Collects ACK frames ('2A' + u32) from a socket; calls onAck(seq).
function ackReader(socket, onAck, onError) {
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk])
    while (buf.length >= 6) {
      if (buf[0] !== 0x32 || buf[1] !== 0x41) { onError(new Error('not an ACK frame')); return }
      onAck(buf.readUInt32BE(2))
      buf = buf.subarray(6)
    }
  })
}

function plainWindow(events) {
  const parts = [Buffer.from('2W'), u32(events.length)]
  events.forEach((e, k) => {
    const payload = Buffer.from(JSON.stringify(e))
    parts.push(Buffer.from('2J'), u32(k + 1), u32(payload.length), payload)
  })
  return Buffer.concat(parts)
}
function u32(v) { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b }

// Sends one window; resolves true when the ACK for its last sequence arrives, false when the
// connection ends first.
function sendOnce(events) {
  return new Promise((resolve) => {
    let done = false
    let client = null
    const finish = (ok, socket) => {
      if (done) return
      done = true
      // The package reconnects forever when its socket closes; this window's client must not.
      if (client) client.connecting = true
      if (socket) socket.destroy()
      resolve(ok)
    }
    const watch = (socket) => {
      ackReader(socket, (seq) => {
        if (seq > events.length) { console.error(`ACK ${seq} beyond window ${events.length}`); process.exit(1) }
        if (seq === events.length) finish(true, socket)
      }, () => finish(false, socket))
      socket.on('close', () => finish(false))
      socket.on('error', () => finish(false))
    }
    if (args.plain) {
      const socket = net.connect({host: args.host, port: args.port}, () => socket.write(plainWindow(events)))
      watch(socket)
      return
    }
    const config = {host: args.host, port: args.port}
    if (args.ca) {
      config.ca = [fs.readFileSync(args.ca)]
      if (args.cert) config.cert = fs.readFileSync(args.cert)
      if (args.key) config.key = fs.readFileSync(args.key)
    }
    client = new LumberjackClient(config, Boolean(args.ca))
    for (const e of events) client.log(e)  // queued until connected, then sent as one window
    client.socket.prependListener('close', () => { client.connecting = true })
    watch(client.socket)
  })
}

async function sendWindow(events, stats) {
  for (;;) {
    if (await sendOnce(events)) return
    if (!args.resend) { console.error('window not acknowledged'); process.exit(1) }
    stats.resends++
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function main() {
  const stats = {windows: 0, events: 0, resends: 0, acks_ok: true}
  const timer = setTimeout(() => { console.error('timed out'); process.exit(1) }, args.timeoutMs)
  const perConn = Math.ceil(args.events / args.connections)
  await Promise.all(Array.from({length: args.connections}, async (_, c) => {
    for (let start = c * perConn; start < Math.min(args.events, (c + 1) * perConn); start += args.window) {
      const end = Math.min(start + args.window, (c + 1) * perConn, args.events)
      const events = []
      for (let i = start; i < end; i++) events.push(event(i))
      await sendWindow(events, stats)
      stats.windows++
      stats.events += events.length
    }
  }))
  clearTimeout(timer)
  console.log(JSON.stringify(stats))
  process.exit(0)
}
main()
