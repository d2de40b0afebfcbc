import type { Queryable } from '../db/transaction.js'
import type { SearchTarget } from './search-sql.js'

export interface SearchableCollection extends SearchTarget {
  name: string
  /** Whether any chunk carries an embedding from the collection's model; if not, search is lexical. */
  hasEmbeddings: boolean
}

/**
 * The collection row plus whether it has comparable embeddings, in one query: knowing that before
 * embedding the query saves a model call for collections that are still lexical-only.
 */
export async function findSearchableCollection(
  db: Queryable,
  name: string,
): Promise<SearchableCollection | undefined> {
  const { rows } = await db.query<SearchableCollection>(
    `SELECT col.id AS "collectionId", col.name, col.embedding_model AS "embeddingModel",
       col.embedding_dimensions AS "embeddingDimensions", col.text_search_config::text AS "textSearchConfig",
       EXISTS (
         SELECT 1 FROM chunks c
         WHERE c.collection_id = col.id AND c.embedding IS NOT NULL AND c.embedding_model = col.embedding_model
       ) AS "hasEmbeddings"
     FROM collections col WHERE col.name = $1`,
    [name],
  )
  return rows[0]
}
