import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { CORPORA } from './ingest-corpus.js'

/** SciFact from ../shared (read, never copied): 5,183 abstracts, the 300 validation claims, cited docs as relevant. */
export interface ScifactDocument {
  id: string
  title: string
  text: string
  sentences: string[]
}

export interface ScifactClaim {
  id: string
  text: string
  relevant: Set<string>
}

const DIR = join(CORPORA, 'benchmark-scifact', 'data', 'scifact')

/** `abstract` is a Python list repr of sentences: ['One.'\n 'It's "two".' ...]. */
function sentences(listRepr: string): string[] {
  const out: string[] = []
  for (const match of listRepr.matchAll(/'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"/g)) {
    out.push((match[1] ?? match[2] ?? '').replace(/\\(.)/g, '$1'))
  }
  return out
}

export function loadScifact(): { documents: ScifactDocument[]; claims: ScifactClaim[] } {
  const corpus = parse(readFileSync(join(DIR, 'corpus_train.csv')), { columns: true }) as Record<
    string,
    string
  >[]
  const documents = corpus.map((row) => {
    const list = sentences(row.abstract!)
    return { id: row.doc_id!, title: row.title!, text: list.join(' '), sentences: list }
  })
  const rows = parse(readFileSync(join(DIR, 'claims_validation.csv')), { columns: true }) as Record<
    string,
    string
  >[]
  const claims = new Map<string, ScifactClaim>()
  for (const row of rows) {
    const claim = claims.get(row.id!) ?? { id: row.id!, text: row.claim!, relevant: new Set<string>() }
    for (const id of row.cited_doc_ids!.match(/\d+/g) ?? []) claim.relevant.add(id)
    claims.set(claim.id, claim)
  }
  return { documents, claims: [...claims.values()].filter((claim) => claim.relevant.size > 0) }
}
