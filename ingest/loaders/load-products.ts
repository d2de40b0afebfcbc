import { parse } from 'csv-parse/sync'
import { breakLongWords } from './break-long-words.js'
import { recordProblem } from './check-record.js'
import type { FileFormat } from './detect.js'
import { htmlToMarkdown } from './inline-html.js'
import type { IngestIssue, LoadedDocument, LoadOptions } from './types.js'

type ProductRecord = Record<string, unknown>

/** Parse a product file into records, with one issue per row that cannot be read. */
export function readProductRecords(
  file: { name: string },
  format: Extract<FileFormat, 'csv' | 'json' | 'jsonl'>,
  text: string,
): { records: { row: number; record: ProductRecord }[]; errors: IngestIssue[]; fatal?: string } {
  const errors: IngestIssue[] = []
  if (format === 'csv') {
    try {
      const rows = parse(text, {
        columns: true,
        skip_empty_lines: true,
        bom: true,
        trim: true,
      }) as ProductRecord[]
      return { records: rows.map((record, i) => ({ row: i + 1, record })), errors }
    } catch (error) {
      return { records: [], errors, fatal: `the CSV cannot be parsed: ${(error as Error).message}` }
    }
  }
  if (format === 'jsonl') {
    const records: { row: number; record: ProductRecord }[] = []
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return
      try {
        const value: unknown = JSON.parse(line)
        if (isRecord(value)) records.push({ row: i + 1, record: value })
        else errors.push({ file: file.name, row: i + 1, message: 'the line is not a JSON object' })
      } catch {
        errors.push({ file: file.name, row: i + 1, message: 'the line is not valid JSON' })
      }
    })
    return { records, errors }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { records: [], errors, fatal: `the JSON cannot be parsed: ${(error as Error).message}` }
  }
  // An array of records, or an object wrapping one (as many exports do).
  const list = Array.isArray(value)
    ? value
    : isRecord(value)
      ? (['products', 'items', 'records', 'data'].map((k) => value[k]).find(Array.isArray) ?? [value])
      : undefined
  if (list === undefined)
    return { records: [], errors, fatal: 'the JSON must be an array of product objects' }
  const records: { row: number; record: ProductRecord }[] = []
  list.forEach((item: unknown, i: number) => {
    if (isRecord(item)) records.push({ row: i + 1, record: item })
    else errors.push({ file: file.name, row: i + 1, message: 'the item is not a JSON object' })
  })
  return { records, errors }
}

/** Turn one record into a product document, or explain why it cannot be one. */
export function productDocument(
  file: { name: string; index: number },
  row: number,
  record: ProductRecord,
  options: LoadOptions,
): LoadedDocument | IngestIssue {
  const problem = recordProblem(record)
  if (problem !== undefined) return { file: file.name, row, message: problem }
  const idColumn = idColumnOf(record, options)
  const rawId = record[idColumn]
  if (typeof rawId === 'number' && Number.isInteger(rawId) && !Number.isSafeInteger(rawId)) {
    return {
      file: file.name,
      row,
      message: `the id ${rawId} is a number too large to read exactly; write it as a string`,
    }
  }
  const id = stringify(rawId).trim()
  if (id === '') return { file: file.name, row, message: missingIdMessage(idColumn) }
  if (id.length > 1024) return { file: file.name, row, message: 'the id is longer than 1024 characters' }
  const keys = Object.keys(record)
  const titleColumn = options.titleColumn ?? ['name', 'title'].find((k) => keys.includes(k))
  const title = titleColumn === undefined ? id : stringify(record[titleColumn]).trim() || id
  const textColumns =
    options.textColumns ??
    ['description', 'short_description', 'categories', 'category'].filter((k) => keys.includes(k))
  const lines: string[] = []
  for (const column of textColumns) {
    if (column === titleColumn) continue
    const value = htmlToText(stringify(record[column]).trim())
    if (value !== '') lines.push(`${column}: ${value}`)
  }
  return {
    sourceId: id,
    kind: 'product',
    title,
    body: breakLongWords(lines.join('\n')),
    metadata: record,
    raw: JSON.stringify(record),
    fileIndex: file.index,
  }
}

function idColumnOf(record: ProductRecord, options: LoadOptions): string {
  return options.idColumn ?? (['sku', 'id'].find((k) => k in record) || 'sku')
}

const MISSING_ID = 'the row has no value in the id column'

function missingIdMessage(idColumn: string): string {
  return `${MISSING_ID} "${idColumn}"`
}

export function isMissingId(result: LoadedDocument | IngestIssue): boolean {
  return 'message' in result && result.message.startsWith(MISSING_ID)
}

/**
 * When no row of a file has an id, the id column is most likely misnamed: name the columns that
 * would serve (a scalar value in every row, no two rows alike), in the file's column order.
 */
export function idColumnHint(records: ProductRecord[], options: LoadOptions): string {
  const idColumn = idColumnOf(records[0] ?? {}, options)
  const candidates = Object.keys(records[0] ?? {}).filter((column) => {
    const seen = new Set<string>()
    for (const record of records) {
      const value = record[column]
      if (typeof value !== 'string' && typeof value !== 'number') return false
      const text = String(value).trim()
      if (text === '' || seen.has(text)) return false
      seen.add(text)
    }
    return true
  })
  const serve =
    candidates.length > 0
      ? `columns present and unique in every row: ${candidates.slice(0, 10).join(', ')} (choose one as idColumn / --id-column)`
      : 'no column is present and unique in every row'
  return `no row has a value in the id column "${idColumn}"; ${serve}`
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(stringify).join(', ')
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

// Catalog exports often carry HTML descriptions; embed their words, not their tags.
function htmlToText(value: string): string {
  return /<[a-z][^>]*>/i.test(value) ? htmlToMarkdown(value).trim() : value
}

function isRecord(value: unknown): value is ProductRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
