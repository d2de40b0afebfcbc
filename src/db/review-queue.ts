import type { StoredMessage, StoredPassage } from './generations.js'
import type { Queryable } from './transaction.js'

// Claims on one task run one after another (a transaction-scoped advisory lock on this class and the
// task), so two reviewers asking at once are handed disjoint items.
const CLAIM_LOCK_CLASS = 720_155_507

/**
 * The generations a reviewer may be handed (a WHERE fragment over `generations g` joined to
 * `collections c`; the parameters name the key id and its collection allowlist, NULL for every one):
 * succeeded, unreviewed, prompt still stored, of an allowed collection, not yet given feedback by this
 * reviewer, and not held by anyone else.
 */
function eligibleForReviewer(keyParam: string, collectionsParam: string): string {
  return `g.status = 'succeeded' AND g.review_state = 'unreviewed' AND g.messages IS NOT NULL
         AND (${collectionsParam}::text[] IS NULL OR c.name = ANY (${collectionsParam}::text[]))
         AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.generation_id = g.id AND f.api_key_id = ${keyParam})
         AND NOT EXISTS (SELECT 1 FROM review_leases l WHERE l.generation_id = g.id
                         AND l.api_key_id <> ${keyParam} AND l.leased_until > now())`
}

export interface ClaimedRow {
  id: string
  taskName: string
  taskVersion: number
  input: Record<string, unknown>
  messages: StoredMessage[]
  passages: StoredPassage[] | null
  output: string | null
  leasedUntil: Date
}

export async function lockTaskClaims(db: Queryable, taskName: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [CLAIM_LOCK_CLASS, taskName])
}

/**
 * Lease up to `count` unreviewed generations of a task to a reviewer for `leaseMs`: first those it
 * already holds (renewed, so asking again loses nothing), then new ones taken in turn from each route
 * arm (the first of every arm, then the second, …), so both arms of a split are reviewed at the same
 * rate. Only succeeded generations whose prompt is still stored, that the reviewer has not given
 * feedback on, that no one else holds, and (with an allowlist) of its collections. Call inside a
 * transaction holding lockTaskClaims.
 */
export async function leaseForReview(
  db: Queryable,
  input: { taskName: string; keyId: string; collections?: string[]; count: number; leaseMs: number },
): Promise<ClaimedRow[]> {
  const { rows } = await db.query<ClaimedRow>(
    `WITH eligible AS (
       SELECT g.id, g.created_at, coalesce(g.route_arm, 'foundation') AS arm,
         EXISTS (SELECT 1 FROM review_leases l WHERE l.generation_id = g.id AND l.api_key_id = $2
                 AND l.leased_until > now()) AS held
       FROM generations g
       JOIN task_versions v ON v.id = g.task_version_id
       JOIN tasks t ON t.id = v.task_id
       LEFT JOIN collections c ON c.id = g.collection_id
       WHERE t.name = $1 AND ${eligibleForReviewer('$2', '$3')}),
     ranked AS (
       SELECT id, held, row_number() OVER (PARTITION BY arm ORDER BY random()) AS turn FROM eligible),
     chosen AS (
       SELECT id FROM ranked ORDER BY held DESC, turn, random() LIMIT $4),
     leased AS (
       INSERT INTO review_leases (generation_id, api_key_id, leased_until)
       SELECT id, $2, now() + make_interval(secs => $5::float8 / 1000) FROM chosen
       ON CONFLICT (generation_id) DO UPDATE SET api_key_id = EXCLUDED.api_key_id,
         leased_until = EXCLUDED.leased_until, created_at = now()
       WHERE review_leases.api_key_id = EXCLUDED.api_key_id OR review_leases.leased_until <= now()
       RETURNING generation_id, leased_until)
     SELECT g.id, t.name AS "taskName", v.version AS "taskVersion", g.input, g.messages, g.passages, g.output,
       leased.leased_until AS "leasedUntil"
     FROM leased
     JOIN generations g ON g.id = leased.generation_id
     JOIN task_versions v ON v.id = g.task_version_id
     JOIN tasks t ON t.id = v.task_id
     ORDER BY g.created_at, g.id`,
    [input.taskName, input.keyId, input.collections ?? null, input.count, input.leaseMs],
  )
  return rows
}

export interface QueueCountRow {
  taskName: string
  waiting: number
  heldByYou: number
}

/** Per task, what a reviewer may claim: items no one holds and items it holds now. */
export async function countReviewQueue(
  db: Queryable,
  input: { keyId: string; collections?: string[] },
): Promise<QueueCountRow[]> {
  const { rows } = await db.query<QueueCountRow>(
    `SELECT t.name AS "taskName",
       count(*) FILTER (WHERE held.generation_id IS NULL)::int AS waiting,
       count(held.generation_id)::int AS "heldByYou"
     FROM generations g
     JOIN task_versions v ON v.id = g.task_version_id
     JOIN tasks t ON t.id = v.task_id
     LEFT JOIN collections c ON c.id = g.collection_id
     LEFT JOIN review_leases held ON held.generation_id = g.id AND held.api_key_id = $1
       AND held.leased_until > now()
     WHERE ${eligibleForReviewer('$1', '$2')}
     GROUP BY t.name
     ORDER BY t.name`,
    [input.keyId, input.collections ?? null],
  )
  return rows
}

export interface ReviewerTallyRow {
  approved: number
  rejected: number
  corrected: number
  today: number
}

/**
 * A reviewer's own verdicts (its current feedback rows that approve, reject or correct), each counted
 * once by what it says now: a correction, else a rejection, else an approval; `today` since midnight UTC.
 */
export async function tallyReviewer(db: Queryable, keyId: string): Promise<ReviewerTallyRow> {
  const { rows } = await db.query<ReviewerTallyRow>(
    `SELECT count(*) FILTER (WHERE corrected_output IS NULL AND approved)::int AS approved,
       count(*) FILTER (WHERE corrected_output IS NULL AND NOT approved)::int AS rejected,
       count(*) FILTER (WHERE corrected_output IS NOT NULL)::int AS corrected,
       count(*) FILTER (WHERE updated_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::int AS today
     FROM feedback
     WHERE api_key_id = $1 AND (approved IS NOT NULL OR corrected_output IS NOT NULL)`,
    [keyId],
  )
  return rows[0] as ReviewerTallyRow
}
