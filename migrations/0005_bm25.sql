-- BM25 ranking for the lexical arm (issue 16). ts_rank_cd knows neither how rare a word is in the
-- collection nor how long a chunk is; BM25 needs both, so the collection's term statistics are kept
-- here, maintained by statement-level triggers on chunks: every write path (ingest, deletion, sync,
-- concurrent jobs, cascades from documents) updates them in the same transaction as the chunks.

-- BM25 parameters and the lexical arm's weight in fusion, per collection (requests may override).
ALTER TABLE collections
  ADD COLUMN bm25_k1 double precision NOT NULL DEFAULT 0.9 CHECK (bm25_k1 >= 0 AND bm25_k1 <= 3),
  ADD COLUMN bm25_b double precision NOT NULL DEFAULT 0.4 CHECK (bm25_b >= 0 AND bm25_b <= 1),
  ADD COLUMN lexical_weight double precision NOT NULL DEFAULT 0.8 CHECK (lexical_weight >= 0 AND lexical_weight <= 1);

-- A chunk's BM25 length: how many words its tsvector indexed (stop words excluded), counting repeats.
CREATE FUNCTION tsvector_word_count(tsvector) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT coalesce(sum(greatest(cardinality(u.positions), 1)), 0)::integer FROM unnest($1) u);

-- Generated from the same expression as tsv (a generated column cannot read another one).
ALTER TABLE chunks ADD COLUMN word_count integer NOT NULL
  GENERATED ALWAYS AS (tsvector_word_count(to_tsvector(ts_config, heading_path || ' ' || text))) STORED;

CREATE TABLE collection_text_stats (
  collection_id bigint PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
  chunk_count bigint NOT NULL CHECK (chunk_count >= 0),
  word_count bigint NOT NULL CHECK (word_count >= 0)
);

-- Document frequency: how many of the collection's chunks hold the lexeme. Rows at 0 are removed
-- by the statement that zeroed them, found through the small partial index.
CREATE TABLE collection_terms (
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  term text NOT NULL,
  chunk_count bigint NOT NULL CHECK (chunk_count >= 0),
  PRIMARY KEY (collection_id, term)
);
CREATE INDEX collection_terms_unused_idx ON collection_terms (collection_id) WHERE chunk_count = 0;

-- Rows are locked in key order (stats row first, then terms sorted), so concurrent writers of one
-- collection queue instead of deadlocking.
CREATE FUNCTION chunks_stats_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO collection_text_stats AS s (collection_id, chunk_count, word_count)
  SELECT collection_id, count(*), sum(word_count) FROM new_chunks GROUP BY 1 ORDER BY 1
  ON CONFLICT (collection_id) DO UPDATE
    SET chunk_count = s.chunk_count + excluded.chunk_count, word_count = s.word_count + excluded.word_count;
  INSERT INTO collection_terms AS t (collection_id, term, chunk_count)
  SELECT n.collection_id, u.lexeme, count(*) FROM new_chunks n, unnest(n.tsv) u GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (collection_id, term) DO UPDATE SET chunk_count = t.chunk_count + excluded.chunk_count;
  RETURN NULL;
END $$;

-- Removal runs as separate statements: a DELETE cannot see rows an UPDATE changed in the same statement.
-- (No IN over the transition table: it has no statistics, and the planner may loop over it per row.)
CREATE FUNCTION chunks_stats_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- A collection being deleted has lost its statistics rows already (or will): nothing to update.
  UPDATE collection_text_stats s
  SET chunk_count = s.chunk_count - o.chunks, word_count = s.word_count - o.words
  FROM (SELECT collection_id, count(*) AS chunks, sum(word_count) AS words FROM old_chunks GROUP BY 1 ORDER BY 1) o
  WHERE s.collection_id = o.collection_id;
  UPDATE collection_terms t SET chunk_count = t.chunk_count - r.chunks
  FROM (
    SELECT o.collection_id, u.lexeme AS term, count(*) AS chunks
    FROM old_chunks o, unnest(o.tsv) u GROUP BY 1, 2 ORDER BY 1, 2
  ) r
  WHERE t.collection_id = r.collection_id AND t.term = r.term;
  DELETE FROM collection_terms t
  WHERE t.chunk_count = 0 AND t.collection_id = ANY (ARRAY(SELECT DISTINCT collection_id FROM old_chunks));
  RETURN NULL;
END $$;

-- An update that changes the indexed text counts as removing the old row and adding the new one.
-- Updates that leave it alone (ordinals during a swap, embeddings) change nothing and cost one join.
-- (Transition tables cannot be passed to a function, hence the repeated change list.)
CREATE FUNCTION chunks_stats_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM old_chunks o JOIN new_chunks n ON n.id = o.id
    WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
  ) THEN
    RETURN NULL;
  END IF;
  UPDATE collection_text_stats s
  SET chunk_count = s.chunk_count + d.chunks, word_count = s.word_count + d.words
  FROM (
    SELECT c.collection_id, sum(c.sign) AS chunks, sum(c.sign * c.words) AS words
    FROM (
      SELECT o.collection_id, -1 AS sign, o.word_count AS words, o.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
      UNION ALL
      SELECT n.collection_id, 1, n.word_count, n.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
    ) c GROUP BY 1 ORDER BY 1
  ) d
  WHERE s.collection_id = d.collection_id;
  INSERT INTO collection_terms AS t (collection_id, term, chunk_count)
  SELECT c.collection_id, u.lexeme, sum(c.sign)
  FROM (
      SELECT o.collection_id, -1 AS sign, o.word_count AS words, o.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
      UNION ALL
      SELECT n.collection_id, 1, n.word_count, n.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
    ) c, unnest(c.tsv) u
  GROUP BY 1, 2 HAVING sum(c.sign) > 0 ORDER BY 1, 2
  ON CONFLICT (collection_id, term) DO UPDATE SET chunk_count = t.chunk_count + excluded.chunk_count;
  UPDATE collection_terms t SET chunk_count = t.chunk_count + r.chunks
  FROM (
    SELECT c.collection_id, u.lexeme AS term, sum(c.sign) AS chunks
    FROM (
      SELECT o.collection_id, -1 AS sign, o.word_count AS words, o.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
      UNION ALL
      SELECT n.collection_id, 1, n.word_count, n.tsv
      FROM old_chunks o JOIN new_chunks n ON n.id = o.id
      WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
    ) c, unnest(c.tsv) u
    GROUP BY 1, 2 HAVING sum(c.sign) < 0 ORDER BY 1, 2
  ) r
  WHERE t.collection_id = r.collection_id AND t.term = r.term;
  DELETE FROM collection_terms t
  WHERE t.chunk_count = 0 AND t.collection_id = ANY (ARRAY(SELECT DISTINCT collection_id FROM old_chunks));
  RETURN NULL;
END $$;

CREATE TRIGGER chunks_stats_insert AFTER INSERT ON chunks
  REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_stats_after_insert();
CREATE TRIGGER chunks_stats_delete AFTER DELETE ON chunks
  REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_stats_after_delete();
CREATE TRIGGER chunks_stats_update AFTER UPDATE ON chunks
  REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION chunks_stats_after_update();

-- Statistics of the chunks stored before this migration.
INSERT INTO collection_text_stats (collection_id, chunk_count, word_count)
SELECT collection_id, count(*), sum(word_count) FROM chunks GROUP BY 1;
INSERT INTO collection_terms (collection_id, term, chunk_count)
SELECT c.collection_id, u.lexeme, count(*) FROM chunks c, unnest(c.tsv) u GROUP BY 1, 2;

-- A tsquery matching chunks that hold ANY of these lexemes, built without re-parsing them as words.
CREATE FUNCTION lexemes_any_tsquery(lexemes text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
  SELECT string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
  FROM unnest(lexemes) l
);

-- The exact BM25 top `max_rows` chunks of a collection for a query's words (Lucene's idf,
-- ln(1 + (N − df + 0.5) / (df + 0.5)), and tf·(k1 + 1) / (tf + k1·(1 − b + b·len / avglen))).
--
-- Scoring every chunk that holds any word of a natural-language question would score a large share
-- of the collection, so it prunes MaxScore-style: a word adds at most idf·(k1 + 1) to a chunk's score.
-- Words are taken rarest first; the chunks holding any of the words taken so far are scored in full
-- and, once the max_rows-th best of them beats the sum of the bounds of the words not taken, no
-- chunk holding only those words can enter the top: the answer is exact without reading them.
--
-- must_match (websearch syntax, or NULL) further restricts the chunks; relax_when_empty drops it
-- when nothing matches. Every filter in the arrays applies (the document's kind equals each of kinds,
-- its source id starts with each prefix, its metadata contains each object); NULL or empty: none.
CREATE FUNCTION bm25_search(
  target_collection bigint, config regconfig, query text, must_match tsquery, relax_when_empty boolean,
  k1 float8, b float8, max_rows integer, kinds text[], source_prefixes text[], metadata_filters jsonb[]
) RETURNS TABLE (chunk_id bigint, bm25 float8)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  total_chunks float8;
  average_length float8;
  terms text[];
  idfs float8[];
  df_sum bigint[];
  bounds_after float8[];
  statement text;
  found_ids bigint[];
  found_scores float8[];
  taken integer;
  next_taken integer;
  term_count integer;
BEGIN
  SELECT s.chunk_count, s.word_count::float8 / greatest(s.chunk_count, 1) INTO total_chunks, average_length
  FROM collection_text_stats s WHERE s.collection_id = target_collection;
  IF NOT FOUND OR total_chunks = 0 OR max_rows < 1 THEN RETURN; END IF;

  SELECT array_agg(w.term ORDER BY w.idf DESC, w.term), array_agg(w.idf ORDER BY w.idf DESC, w.term),
    array_agg(w.df ORDER BY w.idf DESC, w.term)
  INTO terms, idfs, df_sum
  FROM (
    SELECT t.term, t.chunk_count AS df,
      ln(1 + (total_chunks - t.chunk_count + 0.5) / (t.chunk_count + 0.5)) AS idf
    FROM (SELECT DISTINCT u.lexeme FROM unnest(to_tsvector(config, query)) u) q
    JOIN collection_terms t ON t.collection_id = target_collection AND t.term = q.lexeme
  ) w;
  IF terms IS NULL THEN RETURN; END IF;
  term_count := cardinality(terms);

  -- bounds_after[i]: the most the words after the i-th can add to a chunk holding none of the first i.
  bounds_after := array_fill(0::float8, ARRAY[term_count]);
  FOR i IN REVERSE term_count - 1 .. 1 LOOP
    bounds_after[i] := bounds_after[i + 1] + idfs[i + 1] * (k1 + 1);
  END LOOP;

  statement := format(
    'SELECT array_agg(r.id ORDER BY r.score DESC, r.id), array_agg(r.score ORDER BY r.score DESC, r.id)
     FROM (
       SELECT c.id, sum(w.idf * u.tf * ($6 + 1) / (u.tf + $6 * (1 - $7 + $7 * c.word_count / $8))) AS score
       FROM chunks c %s
       CROSS JOIN LATERAL (
         SELECT f.lexeme, greatest(cardinality(f.positions), 1) AS tf
         FROM unnest(ts_filter(setweight(c.tsv, %L, $2), %L)) f
       ) u
       JOIN unnest($2, $3) w(term, idf) ON w.term = u.lexeme
       WHERE c.collection_id = $1 AND c.tsv @@ $4 %s %s
       GROUP BY c.id
       ORDER BY score DESC, c.id
       LIMIT $5
     ) r',
    CASE WHEN coalesce(cardinality(kinds), 0) + coalesce(cardinality(source_prefixes), 0)
      + coalesce(cardinality(metadata_filters), 0) = 0 THEN ''
      ELSE 'JOIN documents d ON d.id = c.document_id' END,
    'A', '{a}',
    CASE WHEN must_match IS NULL THEN '' ELSE 'AND c.tsv @@ $9' END,
    concat_ws(' ',
      CASE WHEN cardinality(kinds) > 0 THEN 'AND d.kind = ALL ($10)' END,
      CASE WHEN cardinality(source_prefixes) > 0
        THEN 'AND NOT EXISTS (SELECT 1 FROM unnest($11) p WHERE NOT starts_with(d.source_id, p))' END,
      CASE WHEN cardinality(metadata_filters) > 0 THEN 'AND d.metadata @> ALL ($12)' END));

  -- Start with the fewest words whose chunks can fill the answer, then widen until the bound holds.
  taken := 1;
  WHILE taken < term_count AND (SELECT sum(x) FROM unnest(df_sum[1:taken]) x) < max_rows LOOP
    taken := taken + 1;
  END LOOP;
  LOOP
    EXECUTE statement INTO found_ids, found_scores
      USING target_collection, terms, idfs, lexemes_any_tsquery(terms[1:taken]), max_rows, k1, b,
        average_length, must_match, kinds, source_prefixes, metadata_filters;
    EXIT WHEN taken >= term_count;
    IF cardinality(found_ids) >= max_rows THEN
      EXIT WHEN found_scores[max_rows] > bounds_after[taken];
      -- More words can only raise the max_rows-th score: jump to the fewest words its bound allows.
      next_taken := taken + 1;
      WHILE next_taken < term_count AND bounds_after[next_taken] >= found_scores[max_rows] LOOP
        next_taken := next_taken + 1;
      END LOOP;
      taken := next_taken;
    ELSE
      taken := taken + 1;
    END IF;
  END LOOP;

  IF found_ids IS NULL AND must_match IS NOT NULL AND relax_when_empty THEN
    RETURN QUERY SELECT s.chunk_id, s.bm25 FROM bm25_search(target_collection, config, query, NULL, false,
      k1, b, max_rows, kinds, source_prefixes, metadata_filters) s;
    RETURN;
  END IF;
  RETURN QUERY SELECT r.chunk_id, r.bm25 FROM unnest(found_ids, found_scores) r(chunk_id, bm25);
END $$;
