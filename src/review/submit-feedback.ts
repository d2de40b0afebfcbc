import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { canUseCollection } from '../collections/access.js'
import {
  type FeedbackInput,
  type LockedGeneration,
  lockGeneration,
  refreshReviewState,
  upsertFeedback,
} from '../db/feedback.js'
import { findGenerationRow } from '../db/generation-reads.js'
import { withTransaction } from '../db/transaction.js'
import { AppError, type FieldIssue } from '../errors.js'
import { compileJsonSchema } from '../generation/json-output.js'
import {
  type FeedbackView,
  feedbackView,
  type GenerationSummary,
  summarize,
} from '../generation/read-generations.js'

export interface FeedbackRequest {
  rating?: number | 'up' | 'down'
  approved?: boolean
  correctedOutput?: string
  comment?: string
  labels?: string[]
}

export interface FeedbackResult {
  feedback: FeedbackView
  /** The generation as it now stands, route and model included: revealed once the reviewer has submitted. */
  generation: GenerationSummary
}

/** Review keys (and admins) approve and correct; a key with only `generate` may rate its own outputs. */
export function canReview(key: ApiKey): boolean {
  return key.scopes.includes('review') || key.scopes.includes('admin')
}

/**
 * Set the key's current feedback on a generation (PUT semantics: fields left out are cleared). One row
 * per (generation, key), updated in place, with every change appended to the history; concurrent
 * submissions on one generation run one after another (the generation's row is locked), so a flipped
 * vote never duplicates and the review state always reflects the last committed verdicts.
 */
export async function submitFeedback(
  db: pg.Pool,
  key: ApiKey,
  generationId: string,
  request: FeedbackRequest,
  flushLog: () => Promise<void>,
): Promise<FeedbackResult> {
  const reviewer = canReview(key)
  if (!reviewer && (request.approved !== undefined || request.correctedOutput !== undefined)) {
    throw new AppError(
      'forbidden',
      'Approving and correcting need an API key with the review or admin scope.',
    )
  }
  const input: FeedbackInput = {
    rating: typeof request.rating === 'number' ? request.rating : null,
    thumb: typeof request.rating === 'string' ? request.rating : null,
    approved: request.approved ?? null,
    correctedOutput: request.correctedOutput ?? null,
    comment: request.comment ?? null,
    labels: [...new Set(request.labels ?? [])],
  }
  const attempt = () =>
    withTransaction(db, async (client) => {
      const generation = await lockGeneration(client, generationId)
      if (!generation || !mayGiveFeedback(key, reviewer, generation)) return undefined
      if (input.correctedOutput !== null) checkCorrection(generation, input.correctedOutput)
      const row = await upsertFeedback(client, generationId, key.id, input)
      await refreshReviewState(client, generationId)
      const current = await findGenerationRow(client, generationId, {})
      return { feedback: feedbackView(row), generation: summarize(current!) }
    })
  // The log is written in batches: a generation answered a moment ago may still be queued here.
  const result = (await attempt()) ?? (await flushLog().then(attempt))
  if (!result)
    throw new AppError('not_found', `No generation ${generationId} that this key may give feedback on.`)
  return result
}

function mayGiveFeedback(key: ApiKey, reviewer: boolean, generation: LockedGeneration): boolean {
  if (!reviewer) return generation.apiKeyId === key.id
  if (key.collections === undefined) return true
  return generation.collection !== null && canUseCollection(key, generation.collection)
}

/** A JSON task's correction must be JSON that matches the task's schema: it becomes a training answer. */
function checkCorrection(generation: LockedGeneration, corrected: string): void {
  if (corrected.trim() === '') {
    throw new AppError('validation_failed', 'The corrected output is empty.', {
      errors: [{ path: 'correctedOutput', message: 'must not be empty' }],
    })
  }
  const output = generation.output
  if (output?.type !== 'json' || !output.schema) return
  let value: unknown
  try {
    value = JSON.parse(corrected)
  } catch {
    throw new AppError('validation_failed', 'The corrected output of a JSON task must be valid JSON.', {
      errors: [{ path: 'correctedOutput', message: 'not valid JSON' }],
    })
  }
  const result = compileJsonSchema(output.schema).safeParse(value)
  if (result.success) return
  const errors: FieldIssue[] = result.error.issues.slice(0, 20).map((issue) => ({
    path: ['correctedOutput', ...issue.path.map(String)].join('.'),
    message: issue.message,
  }))
  throw new AppError('validation_failed', "The corrected output does not match the task's JSON Schema.", {
    errors,
  })
}
