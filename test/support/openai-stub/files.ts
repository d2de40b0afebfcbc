/**
 * The Files API (`/v1/files`): uploads kept in memory, in OpenAI's shapes.
 */
import { cursorPage, StubHttpError } from './http.js'

/** Purposes a client may upload with (the SDK's `FilePurpose`). */
const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals']

/** A file as `GET /v1/files/{id}` answers it. */
export interface FileObject {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  filename: string
  purpose: string
  status: 'processed'
  expires_at?: number
}

export interface StoredFile {
  file: FileObject
  content: Buffer
}

/** The multipart body of an upload as `calls` records it: the text fields, and the file's name and size. */
export function summariseForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of form) {
    out[name] =
      typeof value === 'string' ? value : { filename: value.name, bytes: value.size, type: value.type }
  }
  return out
}

export class FileStore {
  private readonly files = new Map<string, StoredFile>()

  constructor(
    private readonly nextId: (prefix: string, length?: number) => string,
    private readonly nowSeconds: () => number,
  ) {}

  async upload(form: FormData): Promise<FileObject> {
    const purpose = form.get('purpose')
    if (typeof purpose !== 'string' || purpose === '') {
      throw new StubHttpError(400, "'purpose' is a required property.", 'purpose')
    }
    if (!UPLOAD_PURPOSES.includes(purpose)) {
      throw new StubHttpError(
        400,
        `'${purpose}' is not one of ${JSON.stringify(UPLOAD_PURPOSES)} - 'purpose'.`,
        'purpose',
      )
    }
    const file = form.get('file')
    if (file === null || typeof file === 'string') {
      throw new StubHttpError(400, "'file' is a required property and must be a file part.", 'file')
    }
    const content = Buffer.from(await file.arrayBuffer())
    if (content.length === 0) throw new StubHttpError(400, 'The file is empty.', 'file')
    if (purpose === 'fine-tune' && !file.name.toLowerCase().endsWith('.jsonl')) {
      throw new StubHttpError(400, 'Invalid file format for Fine-Tuning API. Must be .jsonl', 'file')
    }
    const stored = this.add(purpose, file.name, content)
    const seconds = Number(form.get('expires_after[seconds]'))
    if (form.get('expires_after[anchor]') === 'created_at' && Number.isInteger(seconds) && seconds > 0) {
      stored.expires_at = stored.created_at + seconds
    }
    return stored
  }

  /** Stores a file the stub itself produces (a fine-tuning job's results). */
  add(purpose: string, filename: string, content: Buffer): FileObject {
    const file: FileObject = {
      id: this.nextId('file-', 22),
      object: 'file',
      bytes: content.length,
      created_at: this.nowSeconds(),
      filename,
      purpose,
      status: 'processed',
    }
    this.files.set(file.id, { file, content })
    return file
  }

  find(id: string): StoredFile | undefined {
    return this.files.get(id)
  }

  get(id: string): StoredFile {
    const stored = this.files.get(id)
    if (stored === undefined) throw new StubHttpError(404, `No such File object: ${id}`, 'id')
    return stored
  }

  list(query: URLSearchParams): ReturnType<typeof cursorPage<FileObject>> {
    const purpose = query.get('purpose')
    const order = query.get('order') ?? 'desc'
    if (order !== 'asc' && order !== 'desc')
      throw new StubHttpError(400, "'order' must be 'asc' or 'desc'.", 'order')
    let files = [...this.files.values()]
      .map((s) => s.file)
      .filter((f) => purpose === null || f.purpose === purpose)
    if (order === 'desc') files = files.reverse()
    return cursorPage(files, query, 10_000, 10_000)
  }

  delete(id: string): { id: string; object: 'file'; deleted: true } {
    this.get(id)
    this.files.delete(id)
    return { id, object: 'file', deleted: true }
  }

  snapshot(): Array<FileObject & { content: string }> {
    return [...this.files.values()].map(({ file, content }) => ({
      ...file,
      content: content.toString('utf8'),
    }))
  }

  reset(): void {
    this.files.clear()
  }
}
