// Brook's RESP front end through the Node.js Redis clients, ioredis and node-redis
// (the `redis` package), as a stream application uses them: append, read ranges,
// a blocking read woken by another connection's XADD, a consumer group with
// acknowledgements and the pending list, pipelines, and (node-redis) RESP3.
//
// Every test starts its own server (tests/node/brook.mjs). Expected values are what
// redis-server 7 answers.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import Redis from 'ioredis'
import { createClient } from 'redis'

import { TIMEOUT_MS, brookFor } from './brook.mjs'

async function ioredisFor (server) {
  const client = new Redis({ host: server.resp.host, port: server.resp.port, lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  server.cleanup(() => client.quit())
  return client
}

async function nodeRedisFor (server, options = {}) {
  const client = createClient({ socket: { host: server.resp.host, port: server.resp.port }, ...options })
  client.on('error', () => {})
  await client.connect()
  server.cleanup(() => client.close())
  return client
}

test('ioredis: XADD, XLEN, XRANGE and XREVRANGE', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const redis = await ioredisFor(server)
  const first = await redis.xadd('events:orders', '*', 'user', 'ann', 'qty', '2')
  assert.match(first, /^\d+-\d+$/)
  const second = await redis.xadd('events:orders', '*', 'user', 'bob', 'qty', '5')
  assert.equal(await redis.xlen('events:orders'), 2)
  assert.deepEqual(await redis.xrange('events:orders', '-', '+'), [
    [first, ['user', 'ann', 'qty', '2']],
    [second, ['user', 'bob', 'qty', '5']]
  ])
  assert.deepEqual(await redis.xrevrange('events:orders', '+', '-', 'COUNT', 1), [
    [second, ['user', 'bob', 'qty', '5']]
  ])
  assert.equal(await redis.type('events:orders'), 'stream')
  await assert.rejects(redis.xadd('events:orders', '1-1', 'f', 'v'),
    /ERR The ID specified in XADD is equal or smaller than the target stream top item/)
})

test('ioredis: a pipeline of XADDs gets one ID per command, in order', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const redis = await ioredisFor(server)
  const pipeline = redis.pipeline()
  for (let i = 0; i < 100; i++) pipeline.xadd('jobs', '*', 'n', String(i))
  const results = await pipeline.exec()
  assert.equal(results.length, 100)
  const ids = results.map(([err, id]) => { assert.equal(err, null); return id })
  const entries = await redis.xrange('jobs', '-', '+')
  assert.deepEqual(entries.map(([id]) => id), ids)
  assert.deepEqual(entries.map(([, fields]) => fields[1]), [...Array(100).keys()].map(String))
})

test('ioredis: a blocked XREAD is woken by an XADD on another connection', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const reader = await ioredisFor(server)
  const writer = await ioredisFor(server)
  const first = await writer.xadd('feed', '*', 'n', '0')
  // After `first` (not `$`): the reply is the same whether the read blocks before
  // the XADD below or arrives after it.
  let settled = false
  const read = reader.xread('BLOCK', 5000, 'STREAMS', 'feed', first)
  read.then(() => { settled = true }, () => { settled = true })
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.equal(settled, false, 'XREAD BLOCK returned before there was anything to read')
  const id = await writer.xadd('feed', '*', 'n', '1')
  assert.deepEqual(await read, [['feed', [[id, ['n', '1']]]]])
  // Nothing new: a short block times out with a null reply.
  assert.equal(await reader.xread('BLOCK', 50, 'STREAMS', 'feed', '$'), null)
})

test('ioredis: a consumer group reads, acknowledges and claims', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const redis = await ioredisFor(server)
  assert.equal(await redis.xgroup('CREATE', 'tasks', 'workers', '$', 'MKSTREAM'), 'OK')
  await assert.rejects(redis.xgroup('CREATE', 'tasks', 'workers', '$'),
    /BUSYGROUP Consumer Group name already exists/)
  const a = await redis.xadd('tasks', '*', 'job', 'a')
  const b = await redis.xadd('tasks', '*', 'job', 'b')
  assert.deepEqual(await redis.xreadgroup('GROUP', 'workers', 'w1', 'COUNT', 10, 'STREAMS', 'tasks', '>'),
    [['tasks', [[a, ['job', 'a']], [b, ['job', 'b']]]]])
  assert.equal(await redis.xack('tasks', 'workers', a), 1)
  const [count, lowest, highest, consumers] = await redis.xpending('tasks', 'workers')
  assert.deepEqual([count, lowest, highest, consumers], [1, b, b, [['w1', '1']]])
  // w2 takes over what w1 left pending.
  const [cursor, claimed, deleted] = await redis.xautoclaim('tasks', 'workers', 'w2', 0, '0-0')
  assert.equal(cursor, '0-0')
  assert.deepEqual(claimed, [[b, ['job', 'b']]])
  assert.deepEqual(deleted, [])
  const detail = await redis.xpending('tasks', 'workers', '-', '+', 10)
  assert.equal(detail.length, 1)
  assert.equal(detail[0][0], b)
  assert.equal(detail[0][1], 'w2')
  assert.equal(detail[0][3], 2) // delivered twice
  // Nothing new for the group: a blocking group read times out.
  assert.equal(await redis.xreadgroup('GROUP', 'workers', 'w1', 'BLOCK', 50, 'STREAMS', 'tasks', '>'), null)
})

test('node-redis: XADD, XRANGE, consumer group and XACK', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const client = await nodeRedisFor(server)
  assert.equal(await client.ping(), 'PONG')
  const id = await client.xAdd('events:signups', '*', { user: 'ann', plan: 'pro' })
  assert.match(id, /^\d+-\d+$/)
  assert.deepEqual(await client.xRange('events:signups', '-', '+'), [
    { id, message: { user: 'ann', plan: 'pro' } }
  ])
  assert.equal(await client.xGroupCreate('events:signups', 'mailer', '0'), 'OK')
  const read = await client.xReadGroup('mailer', 'm1', { key: 'events:signups', id: '>' }, { COUNT: 10 })
  assert.equal(read.length, 1)
  assert.equal(read[0].name, 'events:signups')
  assert.deepEqual(read[0].messages, [{ id, message: { user: 'ann', plan: 'pro' } }])
  const pending = await client.xPending('events:signups', 'mailer')
  assert.equal(pending.pending, 1)
  assert.equal(await client.xAck('events:signups', 'mailer', id), 1)
  assert.equal((await client.xPending('events:signups', 'mailer')).pending, 0)
  const info = await client.xInfoStream('events:signups')
  assert.equal(info.length, 1)
  assert.equal(info.groups, 1)
})

test('node-redis: a blocked XREAD on an isolated connection is woken by an XADD', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const writer = await nodeRedisFor(server)
  const reader = await nodeRedisFor(server)
  const first = await writer.xAdd('feed', '*', { n: '0' })
  // After `first` (not `$`): the same reply whatever order the two reach the server.
  let settled = false
  const read = reader.xRead({ key: 'feed', id: first }, { BLOCK: 5000 })
  read.then(() => { settled = true }, () => { settled = true })
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.equal(settled, false, 'XREAD BLOCK returned before there was anything to read')
  const id = await writer.xAdd('feed', '*', { n: '1' })
  const got = await read
  assert.equal(got.length, 1)
  assert.deepEqual(got[0].messages, [{ id, message: { n: '1' } }])
})

test('node-redis over RESP3 (HELLO 3): stream replies and a MULTI/EXEC of XADDs', { timeout: TIMEOUT_MS }, async t => {
  const server = await brookFor(t)
  const client = await nodeRedisFor(server, { RESP: 3 })
  // The connection speaks RESP3: HELLO answers with a map (protocol 3).
  const hello = await client.hello()
  assert.equal(hello.proto, 3)
  assert.equal(hello.server, 'redis')
  const [a, b] = await client.multi()
    .xAdd('audit', '*', { action: 'login' })
    .xAdd('audit', '*', { action: 'logout' })
    .exec()
  assert.match(a, /^\d+-\d+$/)
  assert.match(b, /^\d+-\d+$/)
  const entries = await client.xRange('audit', '-', '+')
  assert.deepEqual(entries.map(e => e.id), [a, b])
  assert.deepEqual(entries.map(e => e.message.action), ['login', 'logout'])
  assert.equal(await client.xLen('audit'), 2)
  assert.equal(await client.xTrim('audit', 'MAXLEN', 1), 1)
  assert.equal(await client.xLen('audit'), 1)
})
