-- Issue 16, speed of the lexical arm: a version of each collection's indexed text, for the in-process BM25
-- index (src/retrieval/bm25-memory-index.ts). The API process may keep a collection's postings in memory
-- and rank with them instead of bm25_search; it must know when they no longer match the table. The
-- version rises in the same transaction as every change to the collection's indexed text (chunks added
-- or removed, a chunk's text or collection changed), so a statement that reads version V and the chunks
-- sees exactly the chunks the index built at version V holds: the search fetches its rows with that
-- check, and searches with SQL when it fails.
--
-- One statement-level trigger per event, each after the statistics triggers of 0005 (triggers of one
-- event fire in name order: chunks_stats_insert < chunks_stats_version_insert), which have already
-- created and locked the collection's statistics row in this transaction: no new lock order. Updates that
-- leave the text alone (embeddings, ordinals) do not count, as they do not change the statistics.
ALTER TABLE collection_text_stats ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION chunks_text_version_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE collection_text_stats s SET version = s.version + 1
    FROM (SELECT DISTINCT collection_id FROM new_chunks ORDER BY 1) n WHERE s.collection_id = n.collection_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE collection_text_stats s SET version = s.version + 1
    FROM (SELECT DISTINCT collection_id FROM old_chunks ORDER BY 1) o WHERE s.collection_id = o.collection_id;
  ELSE
    UPDATE collection_text_stats s SET version = s.version + 1
    FROM (
      SELECT v.collection_id
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id,
        LATERAL (VALUES (o.collection_id), (n.collection_id)) v(collection_id)
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
      GROUP BY 1 ORDER BY 1
    ) c
    WHERE s.collection_id = c.collection_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER chunks_stats_version_insert AFTER INSERT ON chunks
  REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_text_version_bump();
CREATE TRIGGER chunks_stats_version_delete AFTER DELETE ON chunks
  REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_text_version_bump();
CREATE TRIGGER chunks_stats_version_update AFTER UPDATE ON chunks
  REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION chunks_text_version_bump();
