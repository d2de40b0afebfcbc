import { describe, expect, it } from 'vitest'
import { ConfigError, hasModelProvider, loadConfig } from '../../src/config.js'

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
})
