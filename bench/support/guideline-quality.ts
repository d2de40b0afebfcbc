import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCollection } from '../../src/collections/manage-collections.js'
import { cachedBenchDatabase, fingerprintOf, ResultStore } from './bench-cache.js'
import { GLOVE_DIMENSIONS, GLOVE_MODEL } from './glove-embeddings.js'
import { CORPORA, isGuidePage, readTree } from './ingest-corpus.js'
import { ingestAll, ingestSession } from './ingest-session.js'
import {
  type Arm,
  type JudgedQuery,
  measureArms,
  retrievalClient,
  type Scores,
  scoreRows,
} from './quality-suite.js'

/**
 * The guideline suite: the govau and 18F style guides (read from ../shared, never copied) ingested
 * through the pipeline with the GloVe embedder, and the judged questions of
 * bench/fixtures/guideline-queries.json through POST /v1/retrieve, lexical, vector and hybrid.
 */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'guideline-queries.json')

export async function measureGuidelineSuite(options: {
  serverUrl: string
  embeddingsUrl: string
  weights: readonly number[]
  code: string
  log: (message: string) => void
}): Promise<string> {
  const files = ['style-guide-govau', 'style-guide-18f'].flatMap((dir) =>
    readTree(join(CORPORA, dir), isGuidePage),
  )
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
    queries: { text: string; relevant: string[] }[]
  }
  const queries: JudgedQuery[] = fixture.queries.map((q) => ({ text: q.text, relevant: new Set(q.relevant) }))
  const known = new Set(files.map((f) => f.name))
  for (const q of fixture.queries) {
    for (const id of q.relevant) if (!known.has(id)) throw new Error(`judged page ${id} is not in the corpus`)
  }
  const fingerprint = fingerprintOf(
    [
      'guidelines-v1',
      GLOVE_MODEL,
      ...files.map((f) => `${f.name}\t${Buffer.from(f.content).toString('utf8')}`),
    ],
    [join(import.meta.dirname, '..', '..', 'ingest')],
  )
  const { db, url } = await cachedBenchDatabase({
    serverUrl: options.serverUrl,
    name: 'onbrand_bench_guidelines',
    fingerprint,
    log: options.log,
    build: async (db) => {
      const collection = await createCollection(db.pool, {
        name: 'guidelines',
        embeddingModel: GLOVE_MODEL,
        embeddingDimensions: GLOVE_DIMENSIONS,
      })
      const session = ingestSession({ db }, options.embeddingsUrl)
      await ingestAll(session, collection, [{ label: 'guides', files, load: { kind: 'guideline' } }])
    },
  })
  const { rows } = await db.pool.query<{ chunks: number; documents: number; weight: number }>(
    `SELECT (SELECT count(*) FROM chunks c WHERE c.collection_id = col.id)::int AS chunks,
       (SELECT count(*) FROM documents d WHERE d.collection_id = col.id)::int AS documents,
       col.lexical_weight AS weight
     FROM collections col WHERE col.name = 'guidelines'`,
  )
  const { chunks, documents, weight } = rows[0]!
  const retrieve = await retrievalClient({
    db,
    url,
    embeddingsUrl: options.embeddingsUrl,
    embeddingModel: GLOVE_MODEL,
    embeddingDimensions: GLOVE_DIMENSIONS,
    collection: 'guidelines',
    documentId: (sourceId) => sourceId,
  })
  const arms: (Arm & { name: string })[] = [
    { label: 'lexical', name: 'Onbrand lexical (`lexicalWeight: 1`)', lexicalWeight: 1, mode: 'lexical' },
    {
      label: 'vector',
      name: 'Onbrand vector (GloVe SIF, `lexicalWeight: 0`)',
      lexicalWeight: 0,
      mode: 'vector',
    },
    {
      label: 'hybrid',
      name: `**Onbrand hybrid (collection default, lexical weight ${weight})**`,
      mode: 'hybrid',
    },
    ...options.weights.map((w) => ({
      label: `sweep ${w}`,
      name: `Onbrand hybrid, \`lexicalWeight: ${w}\``,
      lexicalWeight: w,
      mode: 'hybrid' as const,
    })),
  ]
  const results = new Map<string, Scores>()
  await measureArms({
    queries,
    arms,
    retrieve,
    store: new ResultStore<Scores>('retrieval-quality-guidelines', `${fingerprint}:${options.code}`),
    log: options.log,
    measured: (label, scores) => results.set(label, scores),
  })
  await db.close()
  const lexical = results.get('lexical')!
  const vector = results.get('vector')!
  const hybrid = results.get('hybrid')!
  const better = Math.max(lexical.ndcg10, vector.ndcg10)
  const f = (x: number) => x.toFixed(3)
  const judgments = queries.reduce((n, q) => n + q.relevant.size, 0)
  return `The govau (CC BY 4.0, Digital Transformation Agency) and 18F (public domain) style guides from \`../shared/corpora\`:
${documents} pages, ${chunks} chunks, ingested through the pipeline with the same GloVe embedder. ${queries.length} questions with
${judgments} judged-relevant pages in \`bench/fixtures/guideline-queries.json\` (how they were made: \`bench/fixtures/README.md\`;
a small suite written for this benchmark, not an external judgment set). Same measurement as above (\`k: 100, kUnit: "documents"\`).

${scoreRows(arms.map((arm) => ({ name: arm.name, scores: results.get(arm.label) })))}

- Hybrid (default weight) vs the better arm (${f(better)}): ${f(hybrid.ndcg10 - better)} nDCG@10 (target ≥ −0.01): **${hybrid.ndcg10 >= better - 0.01 ? 'met' : 'not met'}**.
- With ${queries.length} queries one query moves nDCG@10 by up to ${f(1 / queries.length)}: read differences below that as noise.
`
}
