import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { spawnServer } from '../support/spawn-server.js'
import { createTestDatabase } from '../support/test-db.js'

// On PostgreSQL the server gets a fresh database of this file's own; on PGlite its own data folder.
let db: (Database & { url?: string }) | undefined
beforeAll(async () => {
  if (process.env.TEST_DATABASE_URL) db = await createTestDatabase({ migrate: false })
})
afterAll(async () => db?.close())

// Each test starts a process that opens (on PGlite: creates) a database: slow on a busy machine.
describe('the server process', { timeout: 120_000 }, () => {
  it('prints an admin key once, finishes an in-flight request after SIGTERM, then exits 0', async () => {
    const server = await spawnServer(db?.url ? { DATABASE_URL: db.url } : {})
    try {
      const key = /onb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(server.output())?.[0]
      expect(key).toBeDefined()
      expect(server.output().match(/onb_[a-z0-9]{12}_/g)).toHaveLength(1)

      // A request whose body is still arriving when the signal comes.
      const url = new URL('/v1/keys', server.baseUrl)
      const body = JSON.stringify({ name: 'late', scopes: ['generate'] })
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            let text = ''
            res.on('data', (chunk) => {
              text += String(chunk)
            })
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          },
        )
        req.on('error', reject)
        req.write(body.slice(0, 10))
        setTimeout(() => {
          server.child.kill('SIGTERM')
          setTimeout(() => req.end(body.slice(10)), 500)
        }, 300)
      })
      const done = await response
      expect(done.status).toBe(201)
      expect(JSON.parse(done.text).name).toBe('late')
      expect(await server.exited).toBe(0)
      await expect(fetch(`${server.baseUrl}/healthz`)).rejects.toThrow()
    } finally {
      server.child.kill('SIGKILL')
    }
  })

  it('exits non-zero naming each bad setting', async () => {
    await expect(spawnServer({ PORT: 'eighty', LOG_LEVEL: 'loud' })).rejects.toThrow(
      /PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*PORT/,
    )
  })
})
