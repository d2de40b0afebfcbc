export type DocumentKind = 'guideline' | 'product'

/** How a job reads its files; stored with the job so every worker parses them the same way. */
export interface LoadOptions {
  /** When set, files of the other kind are refused. */
  kind?: DocumentKind
  /** Product id column or field; default `sku`, then `id`. */
  idColumn?: string
  /** Columns rendered into a product's text; default name/title, description and categories. */
  textColumns?: string[]
  /** Column holding a product's title; default `name`, then `title`. */
  titleColumn?: string
}

/** One source item before chunking. `body` is Markdown for guidelines and rendered text for products. */
export interface LoadedDocument {
  sourceId: string
  kind: DocumentKind
  title: string
  body: string
  metadata: Record<string, unknown>
  /** The raw bytes (or canonical record) this document came from; part of its content hash. */
  raw: string
  /** Index of the file it came from, in job order. */
  fileIndex: number
  /** Plain text is chunked by paragraphs only: a line starting with '#' is not a heading there. */
  plain?: boolean
}

export interface IngestIssue {
  file: string
  /** 1-based data row (CSV, JSONL) or array index + 1 (JSON). */
  row?: number
  message: string
}

export interface LoadResult {
  documents: LoadedDocument[]
  errors: IngestIssue[]
}
