import { parseArgs } from 'node:util'
import { Scope } from '../auth/api-keys.js'
import { createKey, listKeys, revokeKey } from '../auth/manage-keys.js'
import { loadConfig } from '../config.js'
import { openMigratedDatabase } from '../db/migrate.js'
import { createLogger } from '../logger.js'
import { runCli, UsageError } from './run-cli.js'

const USAGE = `Usage:
  npm run keys -- create --name NAME --scope generate|admin [--scope …] [--collections a,b] [--rpm N] [--tpm N]
      --rpm / --tpm: requests / model tokens per minute for this key (0 = unlimited; default: server setting)
  npm run keys -- list
  npm run keys -- revoke ID`

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      collections: { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, ...rest] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  // Checked before the database is opened, so a typo fails fast.
  const rateLimitRpm = limitArg('rpm', values.rpm)
  const rateLimitTpm = limitArg('tpm', values.tpm)
  const config = loadConfig()
  const { db } = await openMigratedDatabase(config, createLogger('warn'))
  try {
    if (command === 'create') {
      if (!values.name) throw new UsageError(`--name is required\n${USAGE}`)
      const scopes = (values.scope ?? []).flatMap((s) => s.split(',')).map((s) => s.trim())
      const parsed = Scope.array().min(1).safeParse(scopes)
      if (!parsed.success) throw new UsageError(`--scope must be generate or admin (repeatable)\n${USAGE}`)
      const collections = values.collections
        ?.split(',')
        .map((c) => c.trim())
        .filter(Boolean)
      const created = await createKey(db.pool, {
        name: values.name,
        scopes: parsed.data,
        collections,
        rateLimitRpm,
        rateLimitTpm,
      })
      process.stdout.write(
        `Created key ${created.id} (${created.scopes.join(', ')}). The secret is shown only once:\n\n  ${created.key}\n\n`,
      )
    } else if (command === 'list') {
      const keys = await listKeys(db.pool)
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active'
        const scope = `${key.collections ? ` collections=${key.collections.join(',')}` : ''}${limitsText(key)}`
        process.stdout.write(
          `${key.id}  ${key.scopes.join(',').padEnd(16)} ${state.padEnd(32)} last used ${key.lastUsedAt ?? 'never'}  ${key.name}${scope}\n`,
        )
      }
      if (keys.length === 0) process.stdout.write('No keys.\n')
    } else if (command === 'revoke') {
      const id = rest[0]
      if (!id) throw new UsageError(`revoke needs a key id\n${USAGE}`)
      await revokeKey(db.pool, id)
      process.stdout.write(`Revoked ${id}.\n`)
    } else {
      throw new UsageError(`Unknown command "${command}"\n${USAGE}`)
    }
  } finally {
    await db.close()
  }
})

function limitArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 1_000_000_000) {
    throw new UsageError(`--${name} must be a whole number (0 = unlimited)\n${USAGE}`)
  }
  return n
}

function limitsText(key: { rateLimitRpm: number | null; rateLimitTpm: number | null }): string {
  const parts = [
    key.rateLimitRpm === null ? '' : ` rpm=${key.rateLimitRpm || 'unlimited'}`,
    key.rateLimitTpm === null ? '' : ` tpm=${key.rateLimitTpm || 'unlimited'}`,
  ]
  return parts.join('')
}
