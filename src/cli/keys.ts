import { parseArgs } from 'node:util'
import { Scope } from '../auth/api-keys.js'
import { createKey, listKeys, revokeKey } from '../auth/manage-keys.js'
import { openMigratedDatabase } from '../bootstrap.js'
import { loadConfig } from '../config.js'
import { createLogger } from '../logger.js'
import { runCli, UsageError } from './run-cli.js'

const USAGE = `Usage:
  npm run keys -- create --name NAME --scope generate|admin [--scope …] [--collections a,b]
  npm run keys -- list
  npm run keys -- revoke ID`

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      collections: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, ...rest] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
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
      const created = await createKey(db.pool, { name: values.name, scopes: parsed.data, collections })
      process.stdout.write(
        `Created key ${created.id} (${created.scopes.join(', ')}). The secret is shown only once:\n\n  ${created.key}\n\n`,
      )
    } else if (command === 'list') {
      const keys = await listKeys(db.pool)
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active'
        const scope = key.collections ? ` collections=${key.collections.join(',')}` : ''
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
