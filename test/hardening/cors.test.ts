import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createTestApp, type TestApp } from '../support/test-app.js'

const ALLOWED = 'https://studio.example.com'

function corsHeaders(res: Response): string[] {
  return [...res.headers.keys()].filter((name) => name.startsWith('access-control-'))
}

describe('without CORS_ORIGINS', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(async () => t.close())

  it('sends no CORS headers, to simple requests or preflights', async () => {
    const simple = await t.request('/v1/keys', { key: t.adminKey, headers: { origin: ALLOWED } })
    expect(simple.status).toBe(200)
    expect(corsHeaders(simple)).toEqual([])
    const preflight = await t.request('/v1/keys', {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    })
    expect(corsHeaders(preflight)).toEqual([])
    expect(preflight.status).toBe(404)
  })
})

describe('with CORS_ORIGINS', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` })
  })
  afterAll(async () => t.close())

  it('allows the listed origins and exposes the headers clients need', async () => {
    for (const origin of [ALLOWED, 'http://localhost:5173']) {
      const res = await t.request('/v1/keys', { key: t.adminKey, headers: { origin } })
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBe(origin)
      expect(res.headers.get('access-control-allow-credentials')).toBeNull()
      expect(res.headers.get('vary')).toContain('Origin')
      expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After')
    }
  })

  it('gives other origins no Access-Control-Allow-Origin', async () => {
    for (const origin of ['https://evil.example.net', 'https://studio.example.com.evil.net', 'null']) {
      const res = await t.request('/v1/keys', { key: t.adminKey, headers: { origin } })
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    }
  })

  it('answers a preflight from a listed origin without needing a key', async () => {
    const res = await t.request('/v1/keys', {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(res.headers.get('access-control-allow-methods')).toContain('POST')
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
  })

  it('lets a listed origin read error responses too', async () => {
    const res = await t.request('/v1/keys', { headers: { origin: ALLOWED } })
    expect(res.status).toBe(401)
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED)
  })
})

describe('CORS_ORIGINS validation', () => {
  it('rejects a wildcard, a path or a non-http origin at start', () => {
    for (const bad of [
      '*',
      'https://studio.example.com/',
      'https://studio.example.com/app',
      'ftp://x.example',
    ]) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/)
    }
    expect(loadConfig({ CORS_ORIGINS: ' , ' }).CORS_ORIGINS).toEqual([])
    expect(loadConfig({}).CORS_ORIGINS).toBeUndefined()
  })
})
