import type { Logger } from 'pino'
import { type GenerationLog, insertGenerations } from '../db/generations.js'
import { isDatabaseUnavailable } from '../db/pg-errors.js'
import type { Queryable } from '../db/transaction.js'

export interface GenerationLogOptions {
  /** How long a row may wait for others to share its statement. */
  flushMs: number
  /** Rows per statement at most. */
  maxBatch?: number
  /** Rows held while the database is unreachable; beyond this the oldest are dropped (and logged). */
  maxQueued?: number
}

type Row = GenerationLog & { createdAt: Date }

/**
 * The generation log, written in batches off the request path: a finished generation is queued, and the
 * queue is written in one statement `flushMs` later (at once when `maxBatch` rows are waiting), so under
 * load one round trip carries many rows instead of one per request. Nothing waits on these rows, and
 * a response no longer waits for its own.
 *
 * Failures lose as little as possible: when the database is unreachable the rows stay queued and are
 * retried (up to `maxQueued`); when a batch is refused for its content, its rows are retried one at a
 * time so one bad row cannot take the others with it. `flush()` writes everything queued so far;
 * shutdown calls it before the pool closes. A crash (SIGKILL, power loss) loses the rows still queued:
 * at most `flushMs` of generations.
 */
export class GenerationLogWriter {
  private queue: Row[] = []
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  private readonly maxBatch: number
  private readonly maxQueued: number
  private lastWriteFailed = false

  constructor(
    private readonly db: Queryable,
    private readonly logger: Logger,
    private readonly options: GenerationLogOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 500
    this.maxQueued = options.maxQueued ?? 20_000
  }

  /** Queue one row; it is written within `flushMs` (sooner under load). */
  write(log: GenerationLog): void {
    this.queue.push({ ...log, createdAt: new Date() })
    if (this.queue.length > this.maxQueued) {
      const dropped = this.queue.splice(0, this.queue.length - this.maxQueued)
      this.logger.error(
        { dropped: dropped.length, generationIds: dropped.map((row) => row.id) },
        'generation log queue full; oldest rows dropped',
      )
    }
    if (this.writing) return // the running write picks the queue up when it ends
    if (this.queue.length >= this.maxBatch) this.start()
    else this.timer ??= setTimeout(() => this.start(), this.options.flushMs).unref()
  }

  /**
   * Write everything queued so far. While the database is unreachable, gives up after `attempts` tries
   * and logs what is still queued (shutdown must not hang on a database that is gone).
   */
  async flush(attempts = 5): Promise<void> {
    let failures = 0
    while (this.writing || this.queue.length > 0) {
      if (!this.writing) this.start()
      await this.writing
      if (this.lastWriteFailed && ++failures >= attempts) {
        this.logger.error(
          { queued: this.queue.length },
          'generation log rows not written: database unreachable',
        )
        return
      }
    }
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.writing || this.queue.length === 0) return
    this.writing = this.drain().finally(() => {
      this.writing = undefined
      // Rows that arrived during the write go out at once: they have already waited.
      if (this.queue.length > 0) this.start()
    })
  }

  private async drain(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch)
    this.lastWriteFailed = false
    try {
      await insertGenerations(this.db, batch)
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        this.lastWriteFailed = true
        this.queue.unshift(...batch)
        this.logger.error(
          { err: error, queued: this.queue.length },
          'writing the generation log failed; will retry',
        )
        await new Promise((resolve) => setTimeout(resolve, 1000).unref())
        return
      }
      for (const row of batch) {
        try {
          await insertGenerations(this.db, [row])
        } catch (rowError) {
          this.logger.error({ err: rowError, generationId: row.id }, 'writing the generation log failed')
        }
      }
    }
  }
}
