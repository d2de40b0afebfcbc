export type FileFormat = 'markdown' | 'text' | 'html' | 'csv' | 'json' | 'jsonl'

const EXTENSIONS: Record<string, FileFormat> = {
  md: 'markdown',
  markdown: 'markdown',
  mdx: 'markdown',
  txt: 'text',
  text: 'text',
  html: 'html',
  htm: 'html',
  csv: 'csv',
  json: 'json',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
}

const SUPPORTED_EXTENSIONS = Object.keys(EXTENSIONS).map((ext) => `.${ext}`)

const ARCHIVE_EXTENSIONS = /\.(zip|tar|tgz|gz|bz2|xz|7z|rar|zst)$/i

// Magic numbers of the binary formats admins most often upload by mistake.
const SIGNATURES: { name: string; bytes: number[]; archive?: boolean }[] = [
  { name: 'a ZIP archive', bytes: [0x50, 0x4b, 0x03, 0x04], archive: true },
  { name: 'a gzip archive', bytes: [0x1f, 0x8b], archive: true },
  { name: 'a 7-Zip archive', bytes: [0x37, 0x7a, 0xbc, 0xaf], archive: true },
  { name: 'a PDF document', bytes: [0x25, 0x50, 0x44, 0x46] },
  { name: 'a PNG image', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { name: 'a JPEG image', bytes: [0xff, 0xd8, 0xff] },
]

/** An archive by its name or its first bytes: uploads refuse these outright, jobs report them per file. */
export function looksLikeArchive(name: string, content: Uint8Array): boolean {
  return (
    ARCHIVE_EXTENSIONS.test(name) ||
    SIGNATURES.some((signature) => signature.archive && starts(content, signature.bytes))
  )
}

/**
 * NUL bytes mark a binary file, but a product export with a stray NUL in one value is still a table:
 * there the row with it is rejected (per row) and the rest load. More than 5% NULs is no
 * table (text encoded as UTF-16 is half NULs).
 */
function looksBinary(content: Uint8Array, format: FileFormat | undefined): boolean {
  if (!content.includes(0)) return false
  if (format !== 'csv' && format !== 'json' && format !== 'jsonl') return true
  let nuls = 0
  for (const byte of content) if (byte === 0) nuls++
  return nuls * 20 > content.length
}

function starts(content: Uint8Array, bytes: number[]): boolean {
  return bytes.every((byte, i) => content[i] === byte)
}

export type Detection = { ok: true; format: FileFormat; text: string } | { ok: false; message: string }

/** Decide how to read a file from its extension, after checking its bytes really are UTF-8 text. */
export function detectFile(name: string, content: Uint8Array): Detection {
  if (ARCHIVE_EXTENSIONS.test(name)) {
    return { ok: false, message: 'archives are not accepted; extract the files and upload them instead' }
  }
  for (const signature of SIGNATURES) {
    if (starts(content, signature.bytes)) {
      const hint = signature.archive ? '; extract the files and upload them instead' : ''
      return { ok: false, message: `the file is ${signature.name}, not text${hint}` }
    }
  }
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase()
  const format = ext === undefined ? undefined : EXTENSIONS[ext]
  if (looksBinary(content, format)) {
    return { ok: false, message: 'the file is binary (it contains NUL bytes), not text' }
  }
  if (format === undefined) {
    return {
      ok: false,
      message: `unsupported file type${ext ? ` .${ext}` : ' (no extension)'}; supported: ${SUPPORTED_EXTENSIONS.join(', ')}`,
    }
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(content)
  } catch {
    return {
      ok: false,
      message: `the file is not valid UTF-8 (at byte ${firstInvalidUtf8(content)}); save it as UTF-8`,
    }
  }
  if (text.trim() === '') return { ok: false, message: 'the file is empty' }
  return { ok: true, format, text }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence, to point the admin at it. */
function firstInvalidUtf8(content: Uint8Array): number {
  let i = 0
  while (i < content.length) {
    const length = sequenceLength(content, i)
    if (length === 0) return i
    i += length
  }
  return content.length
}

function sequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at]!
  if (lead < 0x80) return 1
  const length =
    lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
  if (length === 0 || at + length > bytes.length) return 0
  for (let k = 1; k < length; k++) if ((bytes[at + k]! & 0xc0) !== 0x80) return 0
  // The decoder above already rejected this file; overlong and surrogate forms count as the first bad spot too.
  const decoded = new TextDecoder('utf-8', { fatal: true })
  try {
    decoded.decode(bytes.subarray(at, at + length))
    return length
  } catch {
    return 0
  }
}
