import type { Logger } from 'pino'
import type { Config } from '../../src/config.js'
import type { Database } from '../../src/db/pool.js'
import type { EmbedderFactory } from '../../src/embedding/embedder.js'
import type { Metrics } from '../../src/observability/metrics.js'

type IngestConfig = Pick<
  Config,
  | 'CHUNK_MAX_TOKENS'
  | 'CHUNK_OVERLAP_TOKENS'
  | 'EMBEDDING_BATCH_SIZE'
  | 'EMBEDDING_CONCURRENCY'
  | 'EMBEDDING_MAX_RETRIES'
  | 'INGEST_GROUP_DOCUMENTS'
  | 'INGEST_FILE_RETENTION_HOURS'
  | 'GENERATION_PROMPT_RETENTION_DAYS'
  | 'JOB_LEASE_MS'
  | 'WORKER_POLL_MS'
>

/** What ingestion needs from the outside: `services.ingest` (src/services.ts); tests build their own. */
export interface IngestDeps {
  db: Database
  config: IngestConfig
  createEmbedder: EmbedderFactory
  logger: Logger
  /** Where embedded and reused chunks are counted (served on /metrics when ingestion runs in the API process). */
  metrics?: Metrics
  /** Backoff base for embedding retries (tests shorten it). */
  retryBaseMs?: number
}
