import { listModels, type ModelView } from '../models/manage-models.js'
import { withServices } from '../services.js'
import { parseCommandArgs, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand models [list] [--json]   the model registry: kind, base model, prices per 1M tokens (input / output /
                                   training), hosting per hour, context window, shutdown date, endpoint
  Register and change models over HTTP (POST/PATCH /v1/model-registry) or in MODELS_FILE.`

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseCommandArgs(usage, args, { json: { type: 'boolean' } })
  const [action = 'list', ...rest] = positionals
  if (action !== 'list' || rest.length > 0) throw new UsageError(`Unknown action "${action}"\n\n${usage}`)
  return withServices({ quiet: true }, async ({ models }) => {
    const rows = await listModels(models)
    if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    else process.stdout.write(formatModels(rows))
    return 0
  })
}

/** Unknown prices print as `unpriced`, never as $0. */
export function formatModels(rows: readonly ModelView[]): string {
  const usd = (x: number | null) => (x === null ? 'unpriced' : `$${x}`)
  const header = [
    'model',
    'kind',
    'base',
    'in / out per 1M',
    'training per 1M',
    'hosting/h',
    'context',
    'shutdown',
    'endpoint',
  ]
  const lines = rows.map((m) => [
    m.id,
    m.kind,
    m.baseModel ?? '-',
    m.priced ? `${usd(m.inputPricePer1M)} / ${usd(m.outputPricePer1M)}` : 'unpriced',
    usd(m.trainingPricePer1M),
    m.hostingPerHour === null ? '-' : usd(m.hostingPerHour),
    String(m.contextWindow),
    m.shutdownDate ?? '-',
    `${m.baseURL ?? 'default'}${m.callable ? '' : ' (not callable)'}`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`
  return row(header) + lines.map(row).join('')
}
