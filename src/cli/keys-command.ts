import { Scope } from '../auth/api-keys.js'
import { createKey, type KeySummary, listKeys, revokeKey } from '../auth/manage-keys.js'
import { withServices } from '../services.js'
import { EXIT, parseCommandArgs, splitList, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand keys create --name NAME --scope generate|review|admin [--scope …] [--collections a,b] [--rpm N] [--tpm N]
      --rpm / --tpm: requests / model tokens per minute for this key (0 = unlimited; default: server setting)
  onbrand keys list
  onbrand keys revoke ID`

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseCommandArgs(usage, args, {
    name: { type: 'string' },
    scope: { type: 'string', multiple: true },
    collections: { type: 'string' },
    rpm: { type: 'string' },
    tpm: { type: 'string' },
  })
  const [action, ...rest] = positionals
  // Checked before the database is opened, so a typo fails fast.
  if (action !== 'create' && action !== 'list' && action !== 'revoke') {
    throw new UsageError(`${action ? `Unknown action "${action}"` : 'Name an action'}\n\n${usage}`)
  }
  const rateLimitRpm = limitArg('rpm', values.rpm)
  const rateLimitTpm = limitArg('tpm', values.tpm)
  return withServices({ quiet: true }, async ({ db }) => {
    if (action === 'create') {
      if (!values.name) throw new UsageError(`--name is required\n\n${usage}`)
      const scopes = (values.scope ?? []).flatMap((s) => s.split(',')).map((s) => s.trim())
      const parsed = Scope.array().min(1).safeParse(scopes)
      if (!parsed.success) {
        throw new UsageError(`--scope must be generate, review or admin (repeatable)\n\n${usage}`)
      }
      const created = await createKey(db.pool, {
        name: values.name,
        scopes: parsed.data,
        collections: splitList(values.collections),
        rateLimitRpm,
        rateLimitTpm,
      })
      process.stdout.write(
        `Created key ${created.id} (${created.scopes.join(', ')}). The secret is shown only once:\n\n  ${created.key}\n\n`,
      )
    } else if (action === 'list') {
      const keys = await listKeys(db.pool)
      for (const key of keys) process.stdout.write(`${describeKey(key)}\n`)
      if (keys.length === 0) process.stdout.write('No keys.\n')
    } else {
      const id = rest[0]
      if (!id) throw new UsageError(`revoke needs a key id\n\n${usage}`)
      await revokeKey(db.pool, id)
      process.stdout.write(`Revoked ${id}.\n`)
    }
    return EXIT.ok
  })
}

function limitArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 1_000_000_000) {
    throw new UsageError(`--${name} must be a whole number (0 = unlimited)\n\n${usage}`)
  }
  return n
}

function describeKey(key: KeySummary): string {
  const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active'
  const collections = key.collections ? ` collections=${key.collections.join(',')}` : ''
  const rpm = key.rateLimitRpm === null ? '' : ` rpm=${key.rateLimitRpm || 'unlimited'}`
  const tpm = key.rateLimitTpm === null ? '' : ` tpm=${key.rateLimitTpm || 'unlimited'}`
  return `${key.id}  ${key.scopes.join(',').padEnd(16)} ${state.padEnd(32)} last used ${key.lastUsedAt ?? 'never'}  ${key.name}${collections}${rpm}${tpm}`
}
