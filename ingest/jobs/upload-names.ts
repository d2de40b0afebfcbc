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
