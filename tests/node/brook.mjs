// Test harness: a fresh `brook server` per test (free ports, temp data dir), and a
// minimal RESP client for checking what Kafka clients wrote from the Redis side.
//
// BROOK_BIN names the binary (default: target/debug/brook in the repository).

import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const TIMEOUT_MS = 15_000
// Kafka's group.initial.rebalance.delay.ms for test servers, if the build has a flag
// for it (keeps group tests fast).
const GROUP_INITIAL_REBALANCE_DELAY_MS = 100

export function brookBinary () {
  const bin = process.env.BROOK_BIN || 'target/debug/brook'
  const abs = path.isAbsolute(bin) ? bin : path.join(REPO, bin)
  if (!fs.existsSync(abs)) throw new Error(`${abs} not found: build it with \`cargo build -p brook\``)
  return abs
}

let defaultArgs
function serverDefaultArgs (bin) {
  if (defaultArgs) return defaultArgs
  const help = spawnSync(bin, ['server', '--help'], { encoding: 'utf8' }).stdout || ''
  const m = help.match(/(--(?:kafka-)?group-initial-rebalance-delay[\w-]*)\s+<([^>]+)>/)
  defaultArgs = []
  if (m) {
    const unitless = ['MS', 'MILLIS', 'MILLISECONDS', 'N'].includes(m[2].toUpperCase())
    defaultArgs = [m[1], `${GROUP_INITIAL_REBALANCE_DELAY_MS}${unitless ? '' : 'ms'}`]
  }
  return defaultArgs
}

const LISTENING = /listening protocol=(\w+) addr=(\S+):(\d+)/

/**
 * Starts a server; resolves once it logged "server ready". `dataDir` reuses a data
 * directory (restart); `args` and `env` are extra flags and environment.
 */
export async function startBrook ({ args = [], env = {}, dataDir } = {}) {
  const bin = brookBinary()
  const ownDir = !dataDir
  const dir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'brook-node-'))
  const childEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('BROOK_')))
  Object.assign(childEnv, { RUST_LOG: 'info' }, env)
  const argv = ['server', '--data-dir', path.join(dir, 'data'),
    '--resp-listen', '127.0.0.1:0', '--kafka-listen', '127.0.0.1:0', '--http-listen', 'off',
    ...serverDefaultArgs(bin), ...args]
  const proc = spawn(bin, argv, { cwd: dir, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  const lines = []
  const addrs = {}
  const exited = once(proc, 'exit')
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('brook did not get ready; log:\n' + lines.join('\n'))), TIMEOUT_MS)
    readline.createInterface({ input: proc.stderr }).on('line', line => {
      lines.push(line)
      const m = line.match(LISTENING)
      if (m) addrs[m[1]] = { host: m[2], port: Number(m[3]) }
      if (line.includes('server ready')) { clearTimeout(timer); resolve() }
    })
    exited.then(() => { clearTimeout(timer); reject(new Error('brook exited; log:\n' + lines.join('\n'))) })
  })
  try {
    await ready
  } catch (e) {
    proc.kill('SIGKILL')
    throw e
  }
  let stopped = false
  const server = {
    dir,
    resp: addrs.resp,
    kafka: addrs.kafka,
    bootstrap: `${addrs.kafka.host}:${addrs.kafka.port}`,
    log: () => lines.join('\n'),
    /** SIGTERM (must exit 0) or SIGKILL; SIGKILL after TIMEOUT_MS if SIGTERM hangs. */
    async stop ({ kill = false } = {}) {
      if (stopped) return
      stopped = true
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(kill ? 'SIGKILL' : 'SIGTERM')
        const timer = setTimeout(() => proc.kill('SIGKILL'), TIMEOUT_MS)
        await exited
        clearTimeout(timer)
      }
      if (!kill && proc.exitCode !== 0) {
        throw new Error(`brook exited with ${proc.exitCode ?? proc.signalCode}; log:\n${server.log()}`)
      }
    },
    /** Stops this server and starts a new one on the same data directory. */
    async restart ({ kill = false } = {}) {
      await server.stop({ kill })
      return startBrook({ args, env, dataDir: dir })
    },
    /** Removes the data directory (if startBrook made it). */
    removeDir () {
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return server
}

/**
 * Starts a server for test `t`. When the test ends (pass or fail), first the
 * callbacks given to `server.cleanup(fn)` run (last registered first: disconnect
 * clients while the server is still up), then the server and every server
 * restarted from it are stopped.
 */
export async function brookFor (t, opts) {
  const servers = []
  const cleanups = []
  const track = s => {
    servers.push(s)
    const restart = s.restart
    s.restart = async o => track(await restart(o))
    s.cleanup = fn => cleanups.push(fn)
    return s
  }
  const first = track(await startBrook(opts))
  t.after(async () => {
    const errors = []
    for (const fn of cleanups.reverse()) {
      try { await fn() } catch (e) { errors.push(e) }
    }
    for (const s of servers) {
      try { await s.stop() } catch (e) { errors.push(e) }
    }
    first.removeDir()
    if (errors.length) throw errors[0]
  })
  return first
}

// ---------------------------------------------------------------------------------
// A minimal RESP2 client (no dependency beyond node itself).

export class Resp {
  static async connect ({ host, port }) {
    const sock = net.connect({ host, port })
    await once(sock, 'connect')
    return new Resp(sock)
  }

  constructor (sock) {
    this.sock = sock
    this.buf = Buffer.alloc(0)
    this.waiting = []
    sock.on('data', chunk => {
      this.buf = Buffer.concat([this.buf, chunk])
      this.drain()
    })
    sock.on('error', e => { for (const w of this.waiting.splice(0)) w.reject(e) })
  }

  drain () {
    while (this.waiting.length) {
      const parsed = parseReply(this.buf, 0)
      if (!parsed) return
      this.buf = this.buf.subarray(parsed.end)
      const w = this.waiting.shift()
      if (parsed.value instanceof Error) w.reject(parsed.value)
      else w.resolve(parsed.value)
    }
  }

  /** Sends a command; resolves with the reply (bulk strings as Buffers). */
  cmd (...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)]
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.sock.write(Buffer.concat(parts))
    })
  }

  close () { this.sock.destroy() }
}

function parseReply (buf, pos) {
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) return null
  const type = String.fromCharCode(buf[pos])
  const line = buf.toString('utf8', pos + 1, eol)
  const next = eol + 2
  switch (type) {
    case '+': return { value: line, end: next }
    case '-': return { value: new Error(line), end: next }
    case ':': return { value: Number(line), end: next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, end: next }
      if (buf.length < next + len + 2) return null
      return { value: buf.subarray(next, next + len), end: next + len + 2 }
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      const items = []
      let at = next
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at)
        if (!item) return null
        items.push(item.value)
        at = item.end
      }
      return { value: items, end: at }
    }
    default: throw new Error(`unexpected RESP type ${type}`)
  }
}

/** XRANGE key - + as [[id, [field, value, ...]]] with fields as strings. */
export async function xrange (r, key) {
  const reply = await r.cmd('XRANGE', key, '-', '+')
  return reply.map(([id, fields]) => [id.toString(), fields.map(f => f.toString())])
}

/**
 * Polls `cond` until it returns a truthy value, failing after `timeoutMs`; `what` is
 * a description, or a function returning one (called at the timeout, for details).
 */
export async function waitUntil (cond, what, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
