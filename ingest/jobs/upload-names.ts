const ARCHIVE = /\.(zip|tar|tgz|gz|bz2|xz|7z|rar|zst)$/i
const ARCHIVE_MAGIC = [
  [0x50, 0x4b, 0x03, 0x04],
  [0x1f, 0x8b],
  [0x37, 0x7a, 0xbc, 0xaf],
]

/**
 * An uploaded file's name as a relative path (it becomes a guideline's source id), or undefined when
 * it tries to leave its folder: absolute paths, `..` segments, drive letters and control characters.
 */
export function normalizeUploadName(name: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (name === '' || name.length > 512 || /[\u0000-\u001f\u007f]/.test(name)) return undefined
  const unified = name.replaceAll('\\', '/')
  if (unified.startsWith('/') || /^[A-Za-z]:/.test(unified)) return undefined
  const segments = unified.split('/').filter((segment) => segment !== '' && segment !== '.')
  if (segments.length === 0 || segments.some((segment) => segment === '..')) return undefined
  return segments.join('/')
}

export function looksLikeArchive(name: string, content: Uint8Array): boolean {
  return ARCHIVE.test(name) || ARCHIVE_MAGIC.some((magic) => magic.every((byte, i) => content[i] === byte))
}
