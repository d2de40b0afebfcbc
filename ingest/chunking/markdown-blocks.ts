/** A structural unit of a Markdown body; lists, tables and code fences are kept as one block. */
export type Block =
  | { type: 'heading'; level: number; text: string }
  | { type: 'paragraph' | 'list' | 'table' | 'code' | 'quote'; text: string }

const ATX_HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/
const FENCE = /^\s{0,3}(```|~~~)/
const LIST_ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+/
const TABLE_ROW = /^\s{0,3}\|/
const QUOTE = /^\s{0,3}>/
const SETEXT = /^\s{0,3}(=+|-+)\s*$/
const INDENTED = /^(\s{2,}|\t)\S/

/** A line-based Markdown reader: enough structure for chunking, without rendering anything. */
export function parseBlocks(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n')
  const blocks: Block[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '') {
      i++
      continue
    }
    const fence = FENCE.exec(line)
    if (fence) {
      const start = i
      i++
      while (i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!)) i++
      i = Math.min(i + 1, lines.length)
      blocks.push({ type: 'code', text: lines.slice(start, i).join('\n') })
      continue
    }
    const heading = ATX_HEADING.exec(line)
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1]!.length, text: heading[2]!.trim() })
      i++
      continue
    }
    if (TABLE_ROW.test(line)) {
      i = collect(lines, i, blocks, 'table', (l) => TABLE_ROW.test(l))
      continue
    }
    if (QUOTE.test(line)) {
      i = collect(lines, i, blocks, 'quote', (l) => QUOTE.test(l))
      continue
    }
    if (LIST_ITEM.test(line)) {
      i = collectList(lines, i, blocks)
      continue
    }
    // Paragraph, or a setext heading when underlined.
    const start = i
    while (i < lines.length && lines[i]!.trim() !== '' && !startsBlock(lines[i]!, i > start)) i++
    const next = lines[i]
    if (i - start === 1 && next !== undefined && SETEXT.test(next) && next.trim() !== '') {
      blocks.push({ type: 'heading', level: next.trim().startsWith('=') ? 1 : 2, text: lines[start]!.trim() })
      i++
      continue
    }
    blocks.push({ type: 'paragraph', text: lines.slice(start, i).join('\n').trim() })
  }
  return blocks
}

function startsBlock(line: string, inParagraph: boolean): boolean {
  return (
    ATX_HEADING.test(line) ||
    FENCE.test(line) ||
    TABLE_ROW.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    (inParagraph && SETEXT.test(line))
  )
}

function collect(
  lines: string[],
  start: number,
  blocks: Block[],
  type: 'table' | 'quote',
  keep: (l: string) => boolean,
) {
  let i = start
  while (i < lines.length && keep(lines[i]!)) i++
  blocks.push({ type, text: lines.slice(start, i).join('\n') })
  return i
}

/** A list runs over items, indented continuations, and blank lines between them (loose lists). */
function collectList(lines: string[], start: number, blocks: Block[]): number {
  let i = start + 1
  let end = i
  while (i < lines.length) {
    const line = lines[i]!
    if (LIST_ITEM.test(line) || INDENTED.test(line)) {
      i++
      end = i
    } else if (line.trim() === '') {
      i++
    } else if (lines[i - 1]!.trim() !== '' && !startsBlock(line, true)) {
      // A lazy continuation line of the item above.
      i++
      end = i
    } else {
      break
    }
  }
  blocks.push({ type: 'list', text: lines.slice(start, end).join('\n').trimEnd() })
  return end
}

/** The parts a list or table may be cut into when it cannot stay whole: items, or rows under the header. */
export function blockParts(block: Block): { header: string; parts: string[] } {
  if (block.type === 'table') {
    const rows = block.text.split('\n')
    const hasHeader = rows.length > 2 && /^\s*\|?[\s:|-]+\|?\s*$/.test(rows[1]!)
    const header = hasHeader ? `${rows[0]}\n${rows[1]}` : ''
    return { header, parts: hasHeader ? rows.slice(2) : rows }
  }
  if (block.type === 'list') {
    const parts: string[] = []
    for (const line of block.text.split('\n')) {
      if (LIST_ITEM.test(line) || parts.length === 0) parts.push(line)
      else parts[parts.length - 1] += `\n${line}`
    }
    return { header: '', parts: parts.map((part) => part.trimEnd()) }
  }
  return { header: '', parts: block.text.split(/\n{2,}/) }
}
