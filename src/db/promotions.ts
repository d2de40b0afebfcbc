import type { Queryable } from './transaction.js'

export interface PromotionRow {
  id: string
  taskId: number
  action: 'promote' | 'rollback'
  model: string | null
  strategy: 'foundation' | 'fine_tuned' | 'split' | null
  fromVersion: number
  toVersion: number
  forced: boolean
  evidence: Record<string, unknown>
  reason: string | null
  createdBy: string | null
  createdAt: Date
}

const COLUMNS = `id, task_id AS "taskId", action, model, strategy, from_version AS "fromVersion",
  to_version AS "toVersion", forced, evidence, reason, created_by AS "createdBy", created_at AS "createdAt"`

export async function insertPromotion(
  db: Queryable,
  row: Omit<PromotionRow, 'id' | 'createdAt'>,
): Promise<PromotionRow> {
  const { rows } = await db.query<PromotionRow>(
    `INSERT INTO promotions (task_id, action, model, strategy, from_version, to_version, forced, evidence, reason, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) RETURNING ${COLUMNS}`,
    [
      row.taskId,
      row.action,
      row.model,
      row.strategy,
      row.fromVersion,
      row.toVersion,
      row.forced,
      JSON.stringify(row.evidence),
      row.reason,
      row.createdBy,
    ],
  )
  return rows[0]!
}

/** A task's promotions and rollbacks, newest first. */
export async function listPromotions(db: Queryable, taskId: number, limit: number): Promise<PromotionRow[]> {
  const { rows } = await db.query<PromotionRow>(
    `SELECT ${COLUMNS} FROM promotions WHERE task_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
    [taskId, limit],
  )
  return rows
}
