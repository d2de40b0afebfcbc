import { breakLongWords } from './break-long-words.js'
import type { FileFormat } from './detect.js'
import { htmlToMarkdown, markdownWithoutHtml } from './inline-html.js'
import type { LoadedDocument } from './types.js'

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)/

/** A guideline file becomes one document whose source id is its relative path. */
export function loadGuideline(
  file: { name: string; index: number },
  format: Extract<FileFormat, 'markdown' | 'text' | 'html'>,
  text: string,
): LoadedDocument {
  const base = { sourceId: file.name, kind: 'guideline' as const, raw: text, fileIndex: file.index }
  if (format === 'text') {
    return {
      ...base,
      title: fileTitle(file.name),
      body: breakLongWords(text),
      metadata: { format },
      plain: true,
    }
  }
  if (format === 'html') {
    const title = decodeEntities(/<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1]?.trim() ?? '')
    const body = breakLongWords(htmlToMarkdown(text))
    return { ...base, title: title || firstHeading(body) || fileTitle(file.name), body, metadata: { format } }
  }
  const { data, body } = readFrontMatter(text)
  const markdown = breakLongWords(
    markdownWithoutHtml(cleanTemplating(body, file.name.toLowerCase().endsWith('.mdx'))),
  )
  const title = typeof data.title === 'string' && data.title !== '' ? data.title : firstHeading(markdown)
  return { ...base, title: title || fileTitle(file.name), body: markdown, metadata: { format, ...data } }
}

/**
 * Top-level scalar fields of YAML front matter (title, order, locale, tags on one line). Nested
 * values are skipped: they are site navigation in the corpora we see, not document facts.
 */
function readFrontMatter(text: string): {
  data: Record<string, string | number | boolean>
  body: string
} {
  const match = FRONT_MATTER.exec(text)
  if (!match) return { data: {}, body: text }
  const data: Record<string, string | number | boolean> = {}
  for (const line of match[1]!.split(/\r?\n/)) {
    const field = /^([A-Za-z_][\w-]*):[ \t]*(.*?)\s*$/.exec(line)
    if (!field || field[2] === '') continue
    data[field[1]!] = scalar(field[2]!)
  }
  return { data, body: text.slice(match[0].length) }
}

function scalar(value: string): string | number | boolean {
  const quoted = /^(["'])([\s\S]*)\1$/.exec(value)
  if (quoted) return quoted[2]!
  if (value === 'true' || value === 'false') return value === 'true'
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  return value
}

/**
 * Jekyll/Liquid and MDX syntax is site machinery, not guidance: example includes keep their title
 * and content as text, other tags and `{{ … }}` expressions go, MDX import/export lines go.
 */
function cleanTemplating(markdown: string, mdx: boolean): string {
  let out = markdown.replace(/\{%-?\s*include\s+([\s\S]*?)-?%\}/g, (_all, args: string) => {
    const title = /title\s*=\s*"([^"]*)"/.exec(args)?.[1]
    const content = /content\s*=\s*"([\s\S]*?)"\s*(?:\w+\s*=|$)/.exec(args)?.[1]
    if (content === undefined) return ''
    return `${title ? `Example: ${title}\n\n` : ''}${content.trim()}\n`
  })
  out = out.replace(/\{%-?[\s\S]*?-?%\}/g, '').replace(/\{\{[\s\S]*?\}\}/g, '')
  if (mdx) out = out.replace(/^(import|export)\s.*$/gm, '')
  return out
}

function firstHeading(markdown: string): string {
  return /^#\s+(.+?)\s*#*\s*$/m.exec(markdown)?.[1]?.trim() ?? ''
}

function fileTitle(name: string): string {
  const base = name.split('/').pop() ?? name
  return base.replace(/\.[^.]+$/, '').replace(/[-_]+/g, ' ')
}

function decodeEntities(text: string): string {
  return htmlToMarkdown(text).trim()
}
