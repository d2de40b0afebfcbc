import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { assertExportable, buildDataset, type DatasetView, getDataset } from '../datasets/build-dataset.js'
import { BuildDatasetRequest } from '../datasets/dataset-request.js'
import { type ExportFile, exportLines } from '../datasets/export-dataset.js'
import { withServices } from '../services.js'
import { EXIT, parseCommandArgs, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand datasets build TASK [--review approved|approved_or_corrected] [--min-rating N]
      [--prompt-variant as_served|fine_tuned] [--validation-share 0.1] [--seed S] [--base-model M]
      [--versions 1,2] [--since ISO-DATE]
  onbrand datasets show ID
  onbrand datasets export ID --file train|validation|preference|manifest [--out PATH]   (default: stdout)`

const FILES: ExportFile[] = ['train', 'validation', 'preference', 'manifest']

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseCommandArgs(usage, args, {
    review: { type: 'string' },
    'min-rating': { type: 'string' },
    'prompt-variant': { type: 'string' },
    'validation-share': { type: 'string' },
    seed: { type: 'string' },
    'base-model': { type: 'string' },
    versions: { type: 'string' },
    since: { type: 'string' },
    file: { type: 'string' },
    out: { type: 'string' },
  })
  const [action, target, ...extra] = positionals
  if (action !== 'build' && action !== 'show' && action !== 'export') {
    throw new UsageError(`${action ? `Unknown action "${action}"` : 'Name an action'}\n\n${usage}`)
  }
  if (!target || extra.length > 0)
    throw new UsageError(`${action} takes one ${action === 'build' ? 'task' : 'dataset id'}\n\n${usage}`)
  const file = values.file as ExportFile | undefined
  if (action === 'export' && (file === undefined || !FILES.includes(file))) {
    throw new UsageError(`--file must be one of ${FILES.join(', ')}\n\n${usage}`)
  }
  // Checked before the database is opened, so a typo fails fast.
  const request =
    action === 'build'
      ? BuildDatasetRequest.safeParse({
          ...(values.review ? { review: values.review } : {}),
          ...(values['min-rating'] ? { minRating: Number(values['min-rating']) } : {}),
          ...(values['prompt-variant'] ? { promptVariant: values['prompt-variant'] } : {}),
          ...(values['validation-share'] ? { validationShare: Number(values['validation-share']) } : {}),
          ...(values.seed ? { seed: values.seed } : {}),
          ...(values['base-model'] ? { baseModel: values['base-model'] } : {}),
          ...(values.versions ? { versions: values.versions.split(',').map(Number) } : {}),
          ...(values.since ? { since: values.since } : {}),
        })
      : undefined
  if (request && !request.success) {
    const issues = request.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
    throw new UsageError(`${issues}\n\n${usage}`)
  }
  return withServices({ quiet: true }, async ({ db, models }) => {
    if (action === 'build') {
      const dataset = await buildDataset(
        db.pool,
        models,
        undefined,
        target,
        request!.data!,
        (step, done, total) => {
          process.stderr.write(`${step}${total > 1 ? ` ${done}/${total}` : ''}\n`)
        },
      )
      process.stdout.write(describe(dataset))
      return dataset.status === 'invalid' ? EXIT.rejected : EXIT.ok
    }
    const dataset = await getDataset(db.pool, undefined, target)
    if (action === 'show') {
      process.stdout.write(describe(dataset))
      return EXIT.ok
    }
    if (file !== 'manifest') assertExportable(dataset)
    const out = values.out ? createWriteStream(values.out) : process.stdout
    let count = 0
    for await (const line of exportLines(db.pool, dataset.id, file!)) {
      if (!out.write(line)) await once(out, 'drain')
      count += 1
    }
    if (values.out) {
      out.end()
      await once(out, 'finish')
      process.stderr.write(`Wrote ${count} lines to ${values.out}\n`)
    }
    return EXIT.ok
  })
}

function describe(dataset: DatasetView): string {
  const report = dataset.report as {
    errors: { rule: string; line?: string; message: string }[]
    warnings: { message: string }[]
    estimate: { epochs: number; billedTokens: number; costUsd: number | null }
  }
  const lines = [
    `Dataset ${dataset.id} (task ${dataset.task}, base model ${dataset.baseModel}): ${dataset.status}`,
    `  train ${dataset.counts.train}, validation ${dataset.counts.validation}, corrected ${dataset.counts.corrected}, duplicates dropped ${dataset.counts.duplicatesDropped}`,
    `  estimate: ${report.estimate.epochs} epochs, ${report.estimate.billedTokens} billed tokens, ${report.estimate.costUsd === null ? 'no training price configured' : `$${report.estimate.costUsd.toFixed(4)}`}`,
    ...report.errors.slice(0, 20).map((e) => `  error ${e.line ?? ''} ${e.rule}: ${e.message}`),
    ...report.warnings.map((w) => `  warning: ${w.message}`),
  ]
  return `${lines.join('\n')}\n`
}
