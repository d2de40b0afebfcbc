import { detectFile } from './detect.js'
import { loadGuideline } from './load-guideline.js'
import { idColumnHint, isMissingId, productDocument, readProductRecords } from './load-products.js'
import type { DocumentKind, IngestIssue, LoadedDocument, LoadOptions, LoadResult } from './types.js'

export interface JobFile {
  name: string
  content: Uint8Array
}

/**
 * Read every file of a job into documents. A bad file or row becomes an issue naming it and the
 * rest carry on; a source id seen twice keeps its first occurrence. Deterministic: the same files
 * and options give the same documents in the same order, which resumed jobs rely on.
 */
export function loadFiles(files: JobFile[], options: LoadOptions): LoadResult {
  const documents: LoadedDocument[] = []
  const errors: IngestIssue[] = []
  const seen = new Map<string, { file: string; row?: number }>()
  files.forEach((file, index) => {
    const detected = detectFile(file.name, file.content)
    if (!detected.ok) {
      errors.push({ file: file.name, message: detected.message })
      return
    }
    const { format, text } = detected
    const kind: DocumentKind =
      format === 'csv' || format === 'json' || format === 'jsonl' ? 'product' : 'guideline'
    if (options.kind !== undefined && options.kind !== kind) {
      errors.push({
        file: file.name,
        message: `this is a ${kind} file but the job ingests ${options.kind} files only`,
      })
      return
    }
    const add = (doc: LoadedDocument, row?: number) => {
      const first = seen.get(doc.sourceId)
      if (first) {
        const where = first.row === undefined ? first.file : `${first.file} row ${first.row}`
        errors.push({
          file: file.name,
          row,
          message: `duplicate id "${doc.sourceId}" (first seen in ${where}); skipped`,
        })
        return
      }
      seen.set(doc.sourceId, { file: file.name, row })
      documents.push(doc)
    }
    if (format === 'markdown' || format === 'text' || format === 'html') {
      add(loadGuideline({ name: file.name, index }, format, text))
      return
    }
    const parsed = readProductRecords(file, format, text)
    if (parsed.fatal !== undefined) {
      errors.push({ file: file.name, message: parsed.fatal })
      return
    }
    errors.push(...parsed.errors)
    if (parsed.records.length === 0 && parsed.errors.length === 0) {
      errors.push({ file: file.name, message: 'the file holds no product records' })
    }
    const results = parsed.records.map(({ row, record }) => ({
      row,
      result: productDocument({ name: file.name, index }, row, record, options),
    }))
    if (results.length > 0 && results.every(({ result }) => isMissingId(result))) {
      // One issue naming the columns that would serve beats one identical issue per row.
      errors.push({
        file: file.name,
        message: idColumnHint(
          parsed.records.map((r) => r.record),
          options,
        ),
      })
      return
    }
    for (const { row, result } of results) {
      if ('sourceId' in result) add(result, row)
      else errors.push(result)
    }
  })
  return { documents, errors }
}
