-- Issue 16, speed of the lexical arm at 100k chunks: bm25_search without calls to SQL-language helper
-- functions. PostgreSQL 15 plans the body of a SQL function (one not inlined, as these are not: their
-- bodies are sub-selects) afresh in every statement that calls it, and PL/pgSQL runs each of its
-- statements as its own; so bm25_query_vector (0016) three times and lexemes_pairs_tsqueries (0020),
-- which calls lexemes_any_tsquery (0005) once per pair, were planned on every search: 0.8 and 0.6 ms of a
-- 5.5 ms search in one trace (auto_explain, 100k chunks). Their arithmetic now sits in the function's own
-- statements, whose plans PL/pgSQL keeps: the three query vectors and the quoted lexemes in one
-- statement, the pairs in one, the OR of the first words as an expression. Same vectors, same tsqueries,
-- same answers: on 300 SciFact claims at 100k chunks every id and score was equal, and the search took
-- 4.35 instead of 4.93 ms at p50 (5.23 instead of 6.16 in a second run of 150 claims).
--
-- (0020's static statement is parsed once per connection but still planned for each call's values: the
-- plan cache estimates its generic plan costlier and keeps choosing a custom one.)
--
-- The helpers no caller uses any more are dropped: bm25_query_vector, lexemes_pairs_tsquery (0018, unused
-- since 0020) and lexemes_pairs_tsqueries. lexemes_any_tsquery stays (the tests build tsqueries with it).

-- Arguments and results as in 0005, 0006 and 0016–0020; see those for the arithmetic, the passes and
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
  quoted text[];
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
  -- The query's three vectors (as bm25_query_vector of 0016 built them: idf at each word's index for tf
  -- 1, 2 and 3 or more), and each word quoted as a tsquery operand (as lexemes_any_tsquery quotes it).
  SELECT ('{' || string_agg((e.i * 3 + 1)::text || ':' || e.w::text, ',') || '}/805306368')::sparsevec,
    ('{' || string_agg((e.i * 3 + 2)::text || ':' || e.w::text, ',') || '}/805306368')::sparsevec,
    ('{' || string_agg((e.i * 3 + 3)::text || ':' || e.w::text, ',') || '}/805306368')::sparsevec,
    (SELECT array_agg('''' || replace(replace(t, '\', '\\'), '''', '''''') || '''' ORDER BY o)
     FROM unnest(terms) WITH ORDINALITY u(t, o))
  INTO by_tf1, by_tf2, by_tf3, quoted
  FROM (
    SELECT (hashtext(q.term) & 268435455)::bigint AS i, sum(q.idf) AS w
    FROM unnest(terms, idfs) q(term, idf) GROUP BY 1
  ) e;
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
    IF paired > 1 THEN
      -- For each word but the last: it and any word after it (0018, 0020).
      SELECT array_agg(format('%s & (%s)', quoted[i], array_to_string(quoted[i + 1:paired], ' | '))::tsquery
        ORDER BY i)
      INTO pairs FROM generate_series(1, paired - 1) i;
    END IF;
  END IF;
  candidate_queries := CASE WHEN pairs IS NULL THEN ARRAY[array_to_string(quoted[1:taken], ' | ')::tsquery]
    ELSE quoted[1]::tsquery || pairs END;

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
      candidate_queries := array_to_string(quoted[1:taken], ' | ')::tsquery || pairs;
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
    candidate_queries := ARRAY[array_to_string(quoted[1:taken], ' | ')::tsquery];
  END LOOP;

  IF found_ids IS NULL AND must_match IS NOT NULL AND relax_when_empty THEN
    RETURN QUERY SELECT s.chunk_id, s.bm25 FROM bm25_search(target_collection, config, query, NULL, false,
      k1, b, max_rows, kinds, source_prefixes, metadata_filters, max_candidates) s;
    RETURN;
  END IF;
  RETURN QUERY SELECT r.chunk_id, r.bm25 FROM unnest(found_ids, found_scores) r(chunk_id, bm25);
END $$;

DROP FUNCTION bm25_query_vector(text[], float8[], integer);
DROP FUNCTION lexemes_pairs_tsquery(text[]);
DROP FUNCTION lexemes_pairs_tsqueries(text[]);
