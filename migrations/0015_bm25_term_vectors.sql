-- Issue 16, speed of the lexical arm at scale. bm25_search scored each candidate chunk by detoasting its
-- tsvector and unnesting it in SQL (10–80 µs a chunk). This migration stores, next to `tsv`, the same
-- words as a pgvector sparsevec the BM25 arm can score in C: one entry a distinct word, at
--   hash(word) × 3 + tf bucket   (bucket 1: the word occurs once, 2: twice, 3: three times or more),
-- value 1. The inner product with a query vector holding each query word's idf at its bucket-j index
-- is the sum of the idfs of the query words the chunk holds exactly j times (j = 3: at least 3 times),
-- so with K = k1·(1 − b + b·len/avglen) a chunk's BM25 score is
--   (k1 + 1) · (p1/(1 + K) + 2·p2/(2 + K) + Σ over words held ≥ 3 times of idf·tf/(tf + K)),
-- exact up to the last term, which lies between 3·p3/(3 + K) and p3. Only the statistics-free parts live
-- in the vector: idf, k1, b and the average length are applied at query time, so the vectors never go
-- stale as the collection grows or shrinks. See bm25_search in 0016 for how the bounds are used.
--
-- The hash is hashtext's low 28 bits (805,306,368 dimensions, under sparsevec's 10^9). Two words of one
-- chunk rarely share an index (then the entry counts both: the value is the number of such words); a
-- chunk's entry matching a query word it does not hold can only raise the bound of that chunk, never
-- lower one. hashtext is the server's own and its values depend on the platform's byte order, so the
-- vectors are recomputed by the server that stores them (the trigger below), never carried over as data
-- from a machine of the other byte order.
CREATE FUNCTION bm25_term_vector(tsvector) RETURNS sparsevec
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
  SELECT ('{' || coalesce(string_agg(e.i::text || ':' || e.n::text, ','), '') || '}/805306368')::sparsevec
  FROM (
    SELECT (hashtext(u.lexeme) & 268435455)::bigint * 3 + least(greatest(cardinality(u.positions), 1), 3) AS i,
      count(*) AS n
    FROM unnest($1) u GROUP BY 1
  ) e
);

ALTER TABLE chunks ADD COLUMN bm25_terms sparsevec;
-- Kept in the row, uncompressed, unless the row cannot fit a page otherwise: the BM25 arm reads it for
-- every candidate chunk, and the row is read anyway to find the candidate.
ALTER TABLE chunks ALTER COLUMN bm25_terms SET STORAGE MAIN;

-- Chunks stored before this migration. The statistics trigger is off meanwhile: no text changes, and its
-- change list joins the statement's old and new rows, which for a whole table is slow for nothing.
ALTER TABLE chunks DISABLE TRIGGER chunks_stats_update;
UPDATE chunks SET bm25_terms = bm25_term_vector(tsv);
ALTER TABLE chunks ENABLE TRIGGER chunks_stats_update;
ALTER TABLE chunks ALTER COLUMN bm25_terms SET NOT NULL;

-- The trigger of 0010 fills the new column from the same to_tsvector call, and overwrites whatever a
-- statement sets it to: it stays derived from the text like `tsv` and `word_count`.
CREATE OR REPLACE FUNCTION chunks_text_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.tsv := to_tsvector(NEW.ts_config, NEW.heading_path || ' ' || NEW.text);
  NEW.word_count := tsvector_word_count(NEW.tsv);
  NEW.bm25_terms := bm25_term_vector(NEW.tsv);
  RETURN NEW;
END $$;

DROP TRIGGER chunks_text_search ON chunks;
CREATE TRIGGER chunks_text_search
  BEFORE INSERT OR UPDATE OF heading_path, text, ts_config, tsv, word_count, bm25_terms
  ON chunks FOR EACH ROW EXECUTE FUNCTION chunks_text_search();
