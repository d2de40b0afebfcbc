import { readExamples } from '../db/datasets.js'
import type { Queryable } from '../db/transaction.js'

export type ExportFile = 'train' | 'validation' | 'preference' | 'manifest'

const PAGE = 500

/**
 * The lines of one export file, read a page at a time so a large dataset streams in bounded memory:
 * train / validation hold the OpenAI chat fine-tuning format (`{"messages": [...]}`), preference the
 * preference (DPO) pairs of the training split's corrections, and manifest one `{split, line,
 * generationId, corrected, tokens}` per example line.
 */
export async function* exportLines(
  db: Queryable,
  datasetId: string,
  file: ExportFile,
): AsyncGenerator<string> {
  const splits: ('train' | 'validation')[] =
    file === 'manifest' ? ['train', 'validation'] : [file === 'validation' ? 'validation' : 'train']
  for (const split of splits) {
    let after = 0
    for (;;) {
      const rows = await readExamples(db, datasetId, split, after, PAGE)
      for (const row of rows) {
        if (file === 'manifest') {
          const { generationId, corrected, tokens } = row
          yield `${JSON.stringify({ split, line: row.line, generationId, corrected, tokens })}\n`
        } else if (file === 'preference') {
          if (row.preference !== null) yield `${JSON.stringify(row.preference)}\n`
        } else {
          yield `${JSON.stringify(row.example)}\n`
        }
      }
      if (rows.length < PAGE) break
      after = rows.at(-1)!.line
    }
  }
}
