import { NodeHtmlMarkdown } from 'node-html-markdown'

/**
 * Markdown may carry raw HTML (the govau guide writes `<h3>` headings and a `<table>` of word
 * swaps inside its Markdown). Chunking reads Markdown structure only, so HTML blocks become the
 * Markdown they render as (a heading joins the heading path, a table becomes a pipe table the
 * chunker keeps whole or cuts by rows), and inline tags become their text.
 */
export function markdownWithoutHtml(markdown: string): string {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n')
  const out: string[] = []
  let fence: string | undefined
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    const fenceMark = FENCE.exec(line)?.[1]
    if (fence !== undefined || fenceMark !== undefined) {
      // Code is shown as written, HTML included.
      if (fence === undefined) fence = fenceMark
      else if (line.trimStart().startsWith(fence)) fence = undefined
      out.push(line)
      i++
      continue
    }
    const tag = HTML_BLOCK_START.exec(line)?.[1]?.toLowerCase()
    if (tag !== undefined && BLOCK_TAGS.has(tag)) {
      const end = htmlBlockEnd(lines, i, tag)
      out.push('', htmlToMarkdown(lines.slice(i, end).join('\n')), '')
      i = end
      continue
    }
    out.push(cleanInline(line))
    i++
  }
  return out.join('\n')
}

/**
 * HTML (an .html guideline, a product's HTML description) as Markdown, tables compacted like those
 * inside Markdown. One converter for all: the static `NodeHtmlMarkdown.translate` builds a new one per
 * call, which took three quarters of the time of a catalog's product descriptions.
 */
export function htmlToMarkdown(html: string): string {
  return compactTables(converter.translate(html))
}

const converter = new NodeHtmlMarkdown()

const FENCE = /^\s{0,3}(```|~~~)/
const HTML_BLOCK_START = /^\s{0,3}<([a-zA-Z][a-zA-Z0-9]*)(?=[\s/>]|$)/
const BLOCK_TAGS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'center',
  'details',
  'div',
  'dl',
  'figure',
  'footer',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'nav',
  'ol',
  'p',
  'section',
  'table',
  'ul',
])

/**
 * The line after an HTML block: after the line that closes its outermost element, or, for an
 * element never closed, at the first blank line (CommonMark's rule for HTML blocks).
 */
function htmlBlockEnd(lines: string[], start: number, tag: string): number {
  const open = new RegExp(`<${tag}(?=[\\s/>])`, 'gi')
  const close = new RegExp(`</${tag}\\s*>`, 'gi')
  const lastClose = lines.findLastIndex((line) => line.search(close) >= 0)
  let depth = 0
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' && depth > 0 && i > lastClose) return i
    depth += (line.match(open)?.length ?? 0) - (line.match(close)?.length ?? 0)
    if (depth <= 0) return i + 1
  }
  return lines.length
}

/** NodeHtmlMarkdown pads cells to align columns; the padding is tokens with no meaning. */
function compactTables(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) => (/^\s*\|/.test(line) ? line.replace(/ {2,}/g, ' ').replace(/-{4,}/g, '---') : line))
    .join('\n')
}

const CODE_SPAN = /(`+)[\s\S]*?\1/g
const KRAMDOWN_ATTRIBUTES = /\{:[^}\n]*\}/g

/** Inline HTML in a Markdown line, outside code spans: tags give way to their text or Markdown. */
function cleanInline(line: string): string {
  if (!line.includes('<') && !line.includes('&') && !line.includes('{:')) return line
  let out = ''
  let last = 0
  for (const span of line.matchAll(CODE_SPAN)) {
    out += cleanText(line.slice(last, span.index)) + span[0]
    last = span.index + span[0].length
  }
  return out + cleanText(line.slice(last))
}

const CODE_ELEMENT = /<code(?:\s[^>]*)?>([\s\S]*?)<\/code>/gi

function cleanText(text: string): string {
  let out = ''
  let last = 0
  for (const code of text.matchAll(CODE_ELEMENT)) {
    out += `${cleanTags(text.slice(last, code.index))}\`${decodeEntities(code[1]!)}\``
    last = code.index + code[0].length
  }
  return out + cleanTags(text.slice(last))
}

function cleanTags(text: string): string {
  return decodeEntities(
    text
      .replace(KRAMDOWN_ATTRIBUTES, '')
      .replace(
        /<a\s[^>]*?href\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>/gi,
        (_all, _q, href: string, label: string) => `[${label}](${href})`,
      )
      .replace(/<\/?(strong|b)(\s[^>]*)?>/gi, '**')
      .replace(/<\/?(em|i)(\s[^>]*)?>/gi, '*')
      .replace(/<br\s*\/?>/gi, ' ')
      .replace(/<img\s[^>]*?alt\s*=\s*(["'])(.*?)\1[^>]*>/gi, '$2')
      .replace(/<\/?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?\/?>/g, ''),
  )
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  mdash: '—',
  ndash: '–',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  deg: '°',
  times: '×',
  copy: '©',
  reg: '®',
  trade: '™',
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (all, name: string) => {
    if (name[0] !== '#') return NAMED_ENTITIES[name.toLowerCase()] ?? all
    const code =
      name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all
  })
}
