import { openDatabase } from './src/db/pool.js'
import { migrate, ensureVectorAvailable } from './src/db/migrate.js'
for (const url of [undefined, 'postgres://postgres@127.0.0.1:5432/postgres']) {
  const db = await openDatabase({ url, dataDir: 'memory://', poolSize: 4 })
  if (url) { await db.pool.query('drop database if exists scratch'); await db.pool.query('create database scratch'); await db.close() }
  const d = url ? await openDatabase({ url: url.replace(/postgres$/, 'scratch'), dataDir: '', poolSize: 4 }) : db
  const t = Date.now()
  await ensureVectorAvailable(d.pool)
  console.log(d.kind, await migrate(d.pool), await migrate(d.pool), Date.now() - t, 'ms')
  await d.pool.query(`insert into collections(name, embedding_model, embedding_dimensions) values ('a','m',3)`)
  await d.pool.query(`create index c1_hnsw on chunks using hnsw ((embedding::vector(3)) vector_cosine_ops) where collection_id = 1`)
  await d.pool.query(`insert into documents(collection_id, source_id, kind, content_hash) values (1,'x','guideline','h')`)
  await d.pool.query(`insert into chunks(document_id, collection_id, ordinal, text, token_count, content_hash, ts_config, embedding, embedding_model) values (1,1,0,'Hello world voices',3,'h','english','[1,2,3]','m')`)
  console.log((await d.pool.query(`select tsv::text, id from chunks where tsv @@ websearch_to_tsquery('english','voice')`)).rows)
  await d.close()
}
