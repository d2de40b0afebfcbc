import pino from 'pino'
import { createApp } from '../../src/app.js'
import { createKey } from '../../src/auth/manage-keys.js'
import { loadConfig } from '../../src/config.js'
import { loadMigrations } from '../../src/db/migrate.js'
import type { Database } from '../../src/db/pool.js'
import { buildServices } from '../../src/services.js'
import type { ResultStore } from './bench-cache.js'
import { mean, ndcgAt, recallAt } from './ranking-metrics.js'

/** A query with the ids of the documents judged relevant to it. */
export interface JudgedQuery {
  text: string
  relevant: ReadonlySet<string>
}

export interface Scores {
  ndcg10: number
  recall10: number
  recall100: number
}

/** One system measured on a suite: a lexical weight for /v1/retrieve (undefined: the collection default). */
export interface Arm {
  label: string
  lexicalWeight?: number
  /** The mode /v1/retrieve must answer in, checked on every query. */
  mode: 'lexical' | 'hybrid' | 'vector'
  /** Server settings for this arm (e.g. BM25_MAX_CANDIDATES); default: the server's defaults. */
  env?: Record<string, string>
}

export function scoreRankings(queries: readonly JudgedQuery[], rankings: readonly string[][]): Scores {
  return {
    ndcg10: mean(queries.map((q, i) => ndcgAt(10, rankings[i]!, q.relevant))),
    recall10: mean(queries.map((q, i) => recallAt(10, rankings[i]!, q.relevant))),
    recall100: mean(queries.map((q, i) => recallAt(100, rankings[i]!, q.relevant))),
  }
}

/**
 * Onbrand's app over a benchmark database, with the embedder at `embeddingsUrl`, and a function that
 * sends one query through POST /v1/retrieve (k documents) and returns the distinct document ids, best first.
 */
export async function retrievalClient(options: {
  db: Database
  url: string
  embeddingsUrl: string
  embeddingModel: string
  embeddingDimensions: number
  collection: string
  /** Source id → the suite's document id. */
  documentId: (sourceId: string) => string
}): Promise<(query: string, arm: Arm) => Promise<string[]>> {
  const appFor = (env: Record<string, string>) => {
    const config = loadConfig({
      DATABASE_URL: options.url,
      OPENAI_BASE_URL: options.embeddingsUrl,
      OPENAI_API_KEY: 'bench',
      EMBEDDING_MODEL: options.embeddingModel,
      EMBEDDING_DIMENSIONS: String(options.embeddingDimensions),
      LOG_LEVEL: 'silent',
      RATE_LIMIT_RPM: '0',
      RATE_LIMIT_TPM: '0',
      ...env,
    })
    const logger = pino({ level: 'silent' })
    return createApp(buildServices({ config, db: options.db, logger, migrations: loadMigrations() }))
  }
  const apps = new Map<string, ReturnType<typeof appFor>>()
  const { key } = await createKey(options.db.pool, { name: 'bench', scopes: ['generate'] })
  return async (query, arm) => {
    const envKey = JSON.stringify(arm.env ?? {})
    if (!apps.has(envKey)) apps.set(envKey, appFor(arm.env ?? {}))
    const res = await apps.get(envKey)!.request('/v1/retrieve', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        collection: options.collection,
        query,
        k: 100,
        kUnit: 'documents',
        budgetTokens: 32_000,
        ...(arm.lexicalWeight === undefined ? {} : { lexicalWeight: arm.lexicalWeight }),
      }),
    })
    if (res.status !== 200) throw new Error(`retrieve answered ${res.status}: ${await res.text()}`)
    const body = (await res.json()) as { mode: string; passages: { sourceId: string }[] }
    if (body.mode !== arm.mode) throw new Error(`${arm.label}: expected ${arm.mode} mode, got ${body.mode}`)
    return [...new Set(body.passages.map((p) => options.documentId(p.sourceId)))]
  }
}

/** Each arm over every query, reusing what `store` kept from an interrupted run of the same code and data. */
export async function measureArms(options: {
  queries: readonly JudgedQuery[]
  arms: readonly Arm[]
  retrieve: (query: string, arm: Arm) => Promise<string[]>
  store: ResultStore<Scores>
  log: (message: string) => void
  /** Called after each arm, so the caller can write a partial table. */
  measured: (label: string, scores: Scores) => void
}): Promise<void> {
  for (const arm of options.arms) {
    const kept = options.store.get(arm.label)
    if (kept) {
      options.log(
        `${arm.label}: nDCG@10 ${kept.ndcg10.toFixed(3)} (kept from an interrupted run of this code)`,
      )
      options.measured(arm.label, kept)
      continue
    }
    const rankings: string[][] = []
    for (const query of options.queries) rankings.push(await options.retrieve(query.text, arm))
    const scores = scoreRankings(options.queries, rankings)
    options.store.set(arm.label, scores)
    options.log(`${arm.label}: nDCG@10 ${scores.ndcg10.toFixed(3)}`)
    options.measured(arm.label, scores)
  }
}

/** Rows of a results table; a system not measured (phase not selected, or the run stopped) says so. */
export function scoreRows(rows: readonly { name: string; scores?: Scores }[]): string {
  const f = (x: number) => x.toFixed(3)
  return [
    '| System | nDCG@10 | Recall@10 | Recall@100 |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(({ name, scores }) =>
      scores
        ? `| ${name} | ${f(scores.ndcg10)} | ${f(scores.recall10)} | ${f(scores.recall100)} |`
        : `| ${name} | not measured in this run | | |`,
    ),
  ].join('\n')
}
