import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, ENV_VARIABLES, hasModelProvider, loadConfig } from '../../src/config.js'

describe('configuration', () => {
  it('has defaults that run the embedded database on localhost', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ DATA_DIR: './.onbrand/db', HOST: '127.0.0.1', PORT: 3000 })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(hasModelProvider(config)).toBe(false)
  })

  it('names every bad field at once without echoing values', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://secret@db', LOG_LEVEL: 'loud' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const message = (error as Error).message
      expect(message).toContain('PORT')
      expect(message).toContain('DATABASE_URL')
      expect(message).toContain('LOG_LEVEL')
      expect(message).not.toContain('secret')
    }
  })

  it('treats empty strings as unset, so compose files can leave a variable blank', () => {
    const config = loadConfig({ DATABASE_URL: '', OPENAI_API_KEY: '  ' })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(config.OPENAI_API_KEY).toBeUndefined()
  })

  it('counts a base URL alone as a configured provider, for local servers that need no key', () => {
    expect(hasModelProvider(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }))).toBe(true)
  })

  it('checks MODELS_FILE and MODELS_JSON with the environment, naming every bad field of each', () => {
    const file = join(tmpdir(), `onbrand-models-${process.pid}.json`)
    writeFileSync(file, JSON.stringify({ models: { 'gpt-4o-mini': { inputPricePer1M: -1, colour: 'red' } } }))
    try {
      loadConfig({
        PORT: 'eighty',
        MODELS_FILE: file,
        MODELS_JSON: JSON.stringify({
          defaults: { contextWindow: 10 },
          models: { x: { baseURL: 'ftp://h' } },
        }),
      })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const issues = (error as ConfigError).issues.join('\n')
      expect(issues).toContain('PORT')
      expect(issues).toMatch(/MODELS_FILE: models\.gpt-4o-mini\.inputPricePer1M/)
      expect(issues).toMatch(/MODELS_FILE: models\.gpt-4o-mini: .*colour/)
      expect(issues).toMatch(/MODELS_JSON: defaults\.contextWindow/)
      expect(issues).toMatch(/MODELS_JSON: models\.x\.baseURL/)
    }
  })

  it('refuses a MODELS_FILE it cannot read and a MODELS_JSON that is not JSON', () => {
    expect(() => loadConfig({ MODELS_FILE: '/nonexistent/models.json', MODELS_JSON: '{nope' })).toThrow(
      /MODELS_FILE: cannot read[\s\S]*MODELS_JSON: not valid JSON/,
    )
  })

  it('merges MODELS_JSON over MODELS_FILE', () => {
    const file = join(tmpdir(), `onbrand-models-merge-${process.pid}.json`)
    writeFileSync(
      file,
      JSON.stringify({ defaults: { contextWindow: 8192 }, models: { a: { contextWindow: 4096 } } }),
    )
    const config = loadConfig({ MODELS_FILE: file, MODELS_JSON: JSON.stringify({ models: { b: {} } }) })
    expect(config.models).toEqual({
      defaults: { contextWindow: 8192 },
      models: { a: { contextWindow: 4096 }, b: {} },
    })
  })

  it('is documented in full: every variable is in the README table and set in docker-compose.yml', () => {
    const readme = readFileSync('README.md', 'utf8')
    const compose = readFileSync('docker-compose.yml', 'utf8')
    expect(ENV_VARIABLES.length).toBeGreaterThan(40)
    expect(ENV_VARIABLES.filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([])
    expect(ENV_VARIABLES.filter((name) => !new RegExp(`^\\s+${name}: `, 'm').test(compose))).toEqual([])
  })

  it("gives docker-compose.yml's defaults the server's own, but for paths inside the container", () => {
    const compose = readFileSync('docker-compose.yml', 'utf8')
    const defaults = loadConfig({}) as unknown as Record<string, unknown>
    const differing: string[] = []
    let compared = 0
    for (const [, name, value] of compose.matchAll(/^\s+([A-Z0-9_]+): \$\{\1:-([^}]*)\}/gm)) {
      const own = defaults[name!]
      const text = Array.isArray(own) ? own.join(',') : own === undefined ? '' : String(own)
      compared++
      if (text !== value) differing.push(name!)
    }
    expect(compared).toBeGreaterThan(40)
    expect(differing).toEqual(['MODELS_FILE'])
  })
})
