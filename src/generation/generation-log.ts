import type { Logger } from 'pino'
import { type GenerationLog, insertGenerations } from '../db/generations.js'
import { isDatabaseUnavailable } from '../db/pg-errors.js'
import type { Queryable } from '../db/transaction.js'
import { sleep } from '../lib/sleep.js'

export interface GenerationLogOptions {
  /** How long a row may wait for others to share its statement. */
  flushMs: number
  /** Rows per statement at most. */
  maxBatch?: number
  /** Rows held while the database is unreachable; beyond this the oldest are dropped (and logged). */
  maxQueued?: number
}

type Row = GenerationLog & { createdAt: Date }

const RETRY_MS = 1000

/**
 * The generation log, written in batches off the request path: a finished generation is queued, and the
 * queue is written in one statement `flushMs` later (at once when `maxBatch` rows are waiting), so under
 * load one round trip carries many rows instead of one per request. Nothing waits on these rows, and
 * a response no longer waits for its own.
 *
 * Failures lose as little as possible: when the database is unreachable the rows stay queued and are
 * retried (up to `maxQueued`); when a batch is refused for its content, its rows are retried one at a
 * time so one bad row cannot take the others with it. A row whose batch committed but whose reply was
 * lost is not written twice (the insert skips ids already there). `flush()` writes everything queued
 * so far; shutdown calls `close()` before the pool closes. A crash (SIGKILL, power loss) loses the rows
 * still queued: at most `flushMs` of generations.
 */
export class GenerationLogWriter {
  private queue: Row[] = []
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<boolean> | undefined
  private readonly maxBatch: number
  private readonly maxQueued: number
  private closed = false

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
    if (this.closed) {
      this.logger.error({ generationId: log.id }, 'generation log already closed; row not written')
      return
    }
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
   * Write everything queued so far. While the database is unreachable, retries every second and gives
   * up after `attempts` failed writes, logging what is still queued (shutdown must not hang on a
   * database that is gone).
   */
  async flush(attempts = 5): Promise<void> {
    let failures = 0
    for (;;) {
      if (this.writing) {
        if (!(await this.writing) && ++failures >= attempts) {
          this.logger.error(
            { queued: this.queue.length },
            'generation log rows not written: database unreachable',
          )
          return
        }
        continue
      }
      if (this.queue.length === 0) return
      // A referenced timer: the process waits for the retry instead of exiting under it.
      if (failures > 0) await sleep(RETRY_MS)
      this.start()
    }
  }

  /** Write what is queued and refuse later rows (logging them): for shutdown. */
  async close(): Promise<void> {
    this.closed = true
    await this.flush()
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.writing || this.queue.length === 0) return
    this.writing = this.drain().then((written) => {
      this.writing = undefined
      // Unreachable: try again in a while. Otherwise rows that arrived during the write go out at
      // once: they have already waited.
      if (!written) this.timer ??= setTimeout(() => this.start(), RETRY_MS).unref()
      else if (this.queue.length > 0) this.start()
      return written
    })
  }

  /** Write one batch; false when the database was unreachable (the unwritten rows are queued again). */
  private async drain(): Promise<boolean> {
    const batch = this.queue.splice(0, this.maxBatch)
    try {
      await insertGenerations(this.db, batch)
      return true
    } catch (error) {
      if (isDatabaseUnavailable(error)) return this.requeue(batch, error)
      // Refused for its content: one row at a time, so one bad row does not take the others with it.
      for (const [index, row] of batch.entries()) {
        try {
          await insertGenerations(this.db, [row])
        } catch (rowError) {
          if (isDatabaseUnavailable(rowError)) return this.requeue(batch.slice(index), rowError)
          this.logger.error({ err: rowError, generationId: row.id }, 'writing the generation log failed')
        }
      }
      return true
    }
  }

  private requeue(rows: Row[], error: unknown): false {
    this.queue.unshift(...rows)
    this.logger.error(
      { err: error, queued: this.queue.length },
      'writing the generation log failed; will retry',
    )
    return false
  }
}
