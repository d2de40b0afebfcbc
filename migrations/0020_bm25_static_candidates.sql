-- Issue 16, speed of the lexical arm at 100k chunks. Three changes to bm25_search, none to its answers
-- (the same candidates, scored the same way, rescored exactly the same way):
--
-- 1. The candidates of a pass are the chunks matching ANY of an array of tsqueries instead of one
--    tsquery. The full-text (GIN) index answers a tsquery whose top is an OR, like the pairs pass's
--    `r | (w1 & (w2 | …)) | (w2 & (w3 | …)) | …` (0018), by walking the union of all its words' posting
--    lists and testing the whole query at every chunk found there. As separate tsqueries, each part is
--    an index scan of its own, ORed as bitmaps, and for `w1 & (w2 | …)` the index walks w1's list and
--    skips through the others. At 100k chunks, for a SciFact claim whose pairs matched 629 chunks, the
--    candidates took 6.6 ms to find one way and 2.0 ms the other. (The OR of the rarest words in the
--    pass of 0017 stays one tsquery: split by word it measured the same, about 4 ms for 2,000 chunks,
--    most of it reading the rows.)
-- 2. The pass's statement is static SQL instead of text run by EXECUTE, so PL/pgSQL keeps its plan:
--    EXECUTE parsed and planned it on every pass (0.9 ms of planning alone for the claim above).
--    Filters and the websearch match are conditions that a NULL argument switches off, rather than text
--    left out of the statement; the documents row is read only when a filter is given, as before.
-- 3. The three query vectors are built in one statement, and the pairs' posting budget computed once.

-- The parts of lexemes_pairs_tsquery (0018) as an array: for each lexeme but the last, a tsquery
-- matching chunks that hold it and any lexeme after it (NULL for fewer than two lexemes).
CREATE FUNCTION lexemes_pairs_tsqueries(lexemes text[]) RETURNS tsquery[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
  SELECT array_agg(format('%s & (%s)', lexemes_any_tsquery(ARRAY[a.lexeme]),
      lexemes_any_tsquery(lexemes[a.i + 1:]))::tsquery ORDER BY a.i)
  FROM unnest(lexemes) WITH ORDINALITY a(lexeme, i)
  WHERE a.i < cardinality(lexemes)
);

-- Arguments and results as in 0005, 0006 and 0016–0019; see those for the arithmetic, the passes and
-- the candidate cap.
CREATE OR REPLACE FUNCTION bm25_search(
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
  found_ids bigint[];
  found_scores float8[];
  taken integer;
  next_taken integer;
  paired integer;
  pair_budget bigint;
  pairs tsquery[];
  candidate_queries tsquery[];
  term_count integer;
  filtered boolean;
  by_tf1 sparsevec;
  by_tf2 sparsevec;
  by_tf3 sparsevec;
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
  SELECT bm25_query_vector(terms, idfs, 1), bm25_query_vector(terms, idfs, 2), bm25_query_vector(terms, idfs, 3)
  INTO by_tf1, by_tf2, by_tf3;
  filtered := coalesce(cardinality(kinds), 0) + coalesce(cardinality(source_prefixes), 0)
    + coalesce(cardinality(metadata_filters), 0) > 0;

  -- bounds_after[i]: the most the words after the i-th can add to a chunk holding none of the first i.
  bounds_after := array_fill(0::float8, ARRAY[term_count]);
  FOR i IN REVERSE term_count - 1 .. 1 LOOP
    bounds_after[i] := bounds_after[i + 1] + idfs[i + 1] * (k1 + 1);
  END LOOP;

  -- df_sum[i] becomes the number of (chunk, word) postings of the first i words: at most that many
  -- chunks are scored when they are taken.
  FOR i IN 2 .. term_count LOOP
    df_sum[i] := df_sum[i - 1] + df_sum[i];
  END LOOP;
  -- Exact: start with the fewest words whose chunks can fill the answer, then widen until the bound
  -- holds. Capped: start with as many words as the cap allows (0017).
  taken := 1;
  WHILE taken < term_count AND (df_sum[taken] < max_rows OR max_candidates IS NOT NULL)
    AND (max_candidates IS NULL OR df_sum[taken + 1] <= max_candidates) LOOP
    taken := taken + 1;
  END LOOP;
  -- Capped, and the cap stops short of the question's words: the chunks holding the rarest word or two
  -- of the words that fit under the pair budget (0018, 0019) are scored first.
  IF max_candidates IS NOT NULL AND taken < term_count THEN
    paired := taken;
    pair_budget := bm25_pair_budget(max_candidates);
    WHILE paired < term_count AND df_sum[paired + 1] <= pair_budget LOOP
      paired := paired + 1;
    END LOOP;
    pairs := lexemes_pairs_tsqueries(terms[1:paired]);
  END IF;
  candidate_queries := CASE WHEN pairs IS NULL THEN ARRAY[lexemes_any_tsquery(terms[1:taken])]
    ELSE lexemes_any_tsquery(terms[1:1]) || pairs END;

  LOOP
    -- lo and hi: the bounds of a candidate's score (k: its K). threshold: the max_rows-th best lower
    -- bound. Candidates whose upper bound reaches it are rescored exactly from their tsvector.
    WITH candidates AS MATERIALIZED (
      SELECT x.id, (k1 + 1) * (x.p1 / (1 + x.k) + 2 * x.p2 / (2 + x.k) + 3 * x.p3 / (3 + x.k)) AS lo,
        (k1 + 1) * (x.p1 / (1 + x.k) + 2 * x.p2 / (2 + x.k) + x.p3) AS hi
      FROM (
        SELECT c.id, inner_product(c.bm25_terms, by_tf1) AS p1, inner_product(c.bm25_terms, by_tf2) AS p2,
          inner_product(c.bm25_terms, by_tf3) AS p3, k1 * (1 - b + b * c.word_count / average_length) AS k
        FROM chunks c
        WHERE c.collection_id = target_collection AND c.tsv @@ ANY (candidate_queries)
          AND (must_match IS NULL OR c.tsv @@ must_match)
          AND (NOT filtered OR EXISTS (
            SELECT 1 FROM documents d
            WHERE d.id = c.document_id AND d.kind = ALL (coalesce(kinds, '{}'))
              AND NOT EXISTS (SELECT 1 FROM unnest(source_prefixes) p WHERE NOT starts_with(d.source_id, p))
              AND d.metadata @> ALL (coalesce(metadata_filters, '{}'))))
        OFFSET 0
      ) x
    ),
    threshold AS (SELECT x.lo FROM candidates x ORDER BY x.lo DESC LIMIT 1 OFFSET max_rows - 1)
    SELECT array_agg(r.id ORDER BY r.score DESC, r.id), array_agg(r.score ORDER BY r.score DESC, r.id)
    INTO found_ids, found_scores
    FROM (
      SELECT c.id,
        sum(w.idf * u.tf * (k1 + 1) / (u.tf + k1 * (1 - b + b * c.word_count / average_length))) AS score
      FROM candidates x JOIN chunks c ON c.id = x.id
      CROSS JOIN LATERAL (
        SELECT f.lexeme, greatest(cardinality(f.positions), 1) AS tf
        FROM unnest(ts_filter(setweight(c.tsv, 'A', terms), '{a}')) f
      ) u
      JOIN unnest(terms, idfs) w(term, idf) ON w.term = u.lexeme
      WHERE x.hi >= coalesce((SELECT t.lo FROM threshold t), 0) * (1 - 1e-4)
      GROUP BY c.id
      ORDER BY score DESC, c.id
      LIMIT max_rows
    ) r;

    IF pairs IS NOT NULL THEN
      -- The pairs pass: enough chunks, and they are the answer (0018). If not, the capped pass of the
      -- words that fit under the cap, with the pairs' chunks added to its candidates.
      EXIT WHEN cardinality(found_ids) >= max_rows OR taken = 1;
      candidate_queries := lexemes_any_tsquery(terms[1:taken]) || pairs;
      pairs := NULL;
      CONTINUE;
    END IF;
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
    candidate_queries := ARRAY[lexemes_any_tsquery(terms[1:taken])];
  END LOOP;

  IF found_ids IS NULL AND must_match IS NOT NULL AND relax_when_empty THEN
    RETURN QUERY SELECT s.chunk_id, s.bm25 FROM bm25_search(target_collection, config, query, NULL, false,
      k1, b, max_rows, kinds, source_prefixes, metadata_filters, max_candidates) s;
    RETURN;
  END IF;
  RETURN QUERY SELECT r.chunk_id, r.bm25 FROM unnest(found_ids, found_scores) r(chunk_id, bm25);
END $$;
