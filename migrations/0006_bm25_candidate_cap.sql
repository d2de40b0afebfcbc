-- Issue 16, speed of the lexical arm at scale. A natural-language question shares a common word or
-- two with most chunks, so exact BM25 (MaxScore over whole words) ends up scoring a large share of
-- the collection. bm25_search gains max_candidates: words are still taken rarest first, but no pass
-- scores more chunks than max_candidates (counted as the postings of the words taken, from the term
-- statistics). When the MaxScore bound stops the widening first, the answer is exact as before; when
-- the cap does, it is the exact BM25 top of the chunks holding the question's rarest words (every
-- query word still counts in their scores). NULL: exact always.
--
-- Also: the update trigger of 0005 spelled out the same change list three times; it is one CTE now,
-- and the statistics and term counts move in one statement instead of three.

CREATE OR REPLACE FUNCTION chunks_stats_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM old_chunks o JOIN new_chunks n ON n.id = o.id
    WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
  ) THEN
    RETURN NULL;
  END IF;
  -- One statement, the change list computed once: every changed row as the removal (-1) of its old
  -- version and the addition (+1) of its new one. The stats rows are updated first (the InitPlan in
  -- delta completes that update before delta yields a row): the stats row is the collection's lock,
  -- taken before any of its term rows by every trigger, so concurrent writers of one collection queue
  -- instead of deadlocking. A term's count either rises or falls, never both: the insert and the update
  -- below touch disjoint rows.
  WITH changed AS MATERIALIZED (
    SELECT v.collection_id, v.sign, v.words, v.tsv
    FROM old_chunks o JOIN new_chunks n ON n.id = o.id,
      LATERAL (VALUES (o.collection_id, -1, o.word_count, o.tsv), (n.collection_id, 1, n.word_count, n.tsv))
        v(collection_id, sign, words, tsv)
    WHERE n.tsv IS DISTINCT FROM o.tsv OR n.collection_id <> o.collection_id
  ),
  stats AS (
    UPDATE collection_text_stats s
    SET chunk_count = s.chunk_count + d.chunks, word_count = s.word_count + d.words
    FROM (SELECT collection_id, sum(sign) AS chunks, sum(sign * words) AS words FROM changed GROUP BY 1 ORDER BY 1) d
    WHERE s.collection_id = d.collection_id
    RETURNING s.collection_id
  ),
  delta AS MATERIALIZED (
    SELECT c.collection_id, u.lexeme AS term, sum(c.sign) AS chunks
    FROM changed c, unnest(c.tsv) u
    WHERE (SELECT count(*) FROM stats) >= 0
    GROUP BY 1, 2
  ),
  added AS (
    INSERT INTO collection_terms AS t (collection_id, term, chunk_count)
    SELECT collection_id, term, chunks FROM delta WHERE chunks > 0 ORDER BY 1, 2
    ON CONFLICT (collection_id, term) DO UPDATE SET chunk_count = t.chunk_count + excluded.chunk_count
  )
  UPDATE collection_terms t SET chunk_count = t.chunk_count + r.chunks
  FROM (SELECT * FROM delta WHERE chunks < 0 ORDER BY 1, 2) r
  WHERE t.collection_id = r.collection_id AND t.term = r.term;
  -- A separate statement: it could not see the rows the one above brought to 0.
  DELETE FROM collection_terms t
  WHERE t.chunk_count = 0 AND t.collection_id = ANY (ARRAY(SELECT DISTINCT collection_id FROM old_chunks));
  RETURN NULL;
END $$;

DROP FUNCTION bm25_search(bigint, regconfig, text, tsquery, boolean, float8, float8, integer, text[], text[], jsonb[]);

CREATE FUNCTION bm25_search(
  target_collection bigint, config regconfig, query text, must_match tsquery, relax_when_empty boolean,
  k1 float8, b float8, max_rows integer, kinds text[], source_prefixes text[], metadata_filters jsonb[],
  max_candidates integer
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
  -- df_sum[i] becomes the number of (chunk, word) postings of the first i words: at most that many
  -- chunks are scored when they are taken.
  FOR i IN 2 .. term_count LOOP
    df_sum[i] := df_sum[i - 1] + df_sum[i];
  END LOOP;
  taken := 1;
  WHILE taken < term_count AND df_sum[taken] < max_rows
    AND (max_candidates IS NULL OR df_sum[taken + 1] <= max_candidates) LOOP
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
    ELSE
      next_taken := taken + 1;
    END IF;
    -- The candidate cap: no pass scores more than max_candidates postings. Past it, the last pass
    -- takes as many words as the cap allows, and its answer is the exact top of the chunks holding
    -- those (the rarest) words instead of all chunks.
    IF max_candidates IS NOT NULL AND df_sum[next_taken] > max_candidates THEN
      next_taken := taken;
      WHILE next_taken < term_count AND df_sum[next_taken + 1] <= max_candidates LOOP
        next_taken := next_taken + 1;
      END LOOP;
      EXIT WHEN next_taken = taken;
    END IF;
    taken := next_taken;
  END LOOP;

  IF found_ids IS NULL AND must_match IS NOT NULL AND relax_when_empty THEN
    RETURN QUERY SELECT s.chunk_id, s.bm25 FROM bm25_search(target_collection, config, query, NULL, false,
      k1, b, max_rows, kinds, source_prefixes, metadata_filters, max_candidates) s;
    RETURN;
  END IF;
  RETURN QUERY SELECT r.chunk_id, r.bm25 FROM unnest(found_ids, found_scores) r(chunk_id, bm25);
END $$;
