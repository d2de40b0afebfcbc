import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import type { StoredMessage, StoredPassage } from '../db/generations.js'
import { countReviewQueue, leaseForReview, lockTaskClaims, tallyReviewer } from '../db/review-queue.js'
import { findTask } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'

/** How long a claimed item stays with its reviewer. */
export const REVIEW_LEASE_MS = 10 * 60_000

/**
 * One item to review, blind: the request, the passages and the output, but nothing that tells which
 * model or arm produced it (no model, route, template, usage, cost or latency, and no system message,
 * whose template differs between arms). PUT /v1/generations/{id}/feedback answers with the route.
 */
export interface ReviewItem {
  generationId: string
  leasedUntil: string
  task: { name: string; version: number }
  input: string | null
  variables: Record<string, string> | null
  /** The messages after the system message: the input, or the caller's conversation. */
  conversation: StoredMessage[]
  passages: StoredPassage[]
  output: string | null
}

export async function claimForReview(
  db: pg.Pool,
  key: ApiKey,
  request: { task: string; count: number },
  leaseMs = REVIEW_LEASE_MS,
): Promise<{ items: ReviewItem[] }> {
  if (!(await findTask(db, request.task, key.collections)))
    throw new AppError('not_found', `No task named ${request.task}.`)
  const rows = await withTransaction(db, async (client) => {
    await lockTaskClaims(client, request.task)
    return leaseForReview(client, {
      taskName: request.task,
      keyId: key.id,
      ...(key.collections !== undefined ? { collections: key.collections } : {}),
      count: request.count,
      leaseMs,
    })
  })
  return {
    items: rows.map((row) => {
      const input = row.input as { input?: unknown; variables?: Record<string, string> }
      return {
        generationId: row.id,
        leasedUntil: row.leasedUntil.toISOString(),
        task: { name: row.taskName, version: row.taskVersion },
        input: typeof input.input === 'string' ? input.input : null,
        variables: input.variables ?? null,
        conversation: row.messages.filter((message, index) => !(index === 0 && message.role === 'system')),
        passages: row.passages ?? [],
        output: row.output,
      }
    }),
  }
}

export interface ReviewQueueOverview {
  /** Tasks with something this reviewer may claim, by name. */
  tasks: { name: string; waiting: number; heldByYou: number }[]
  /** This reviewer's own verdicts so far. */
  you: { reviewed: number; approved: number; rejected: number; corrected: number; today: number }
}

/** What waits for a reviewer, per task, and how far the reviewer has got: the review page's header. */
export async function reviewQueueOverview(db: pg.Pool, key: ApiKey): Promise<ReviewQueueOverview> {
  const [tasks, tally] = await Promise.all([
    countReviewQueue(db, {
      keyId: key.id,
      ...(key.collections !== undefined ? { collections: key.collections } : {}),
    }),
    tallyReviewer(db, key.id),
  ])
  return {
    tasks: tasks.map((row) => ({ name: row.taskName, waiting: row.waiting, heldByYou: row.heldByYou })),
    you: { reviewed: tally.approved + tally.rejected + tally.corrected, ...tally },
  }
}
