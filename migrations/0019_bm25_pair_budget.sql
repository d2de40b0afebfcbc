-- Issue 16: the pairs pass of 0018 read the posting lists of the words under 6 × the cap. The full-text
-- index answers `r | (w1 & (w2 | …)) | …` by testing every chunk in the union of those lists against the
-- whole query, so its cost grows with the postings, and at large caps it outgrew what the pass saves:
-- at 100k chunks (100 SciFact claims, 40 rows) cap 8,000 took 23.3 ms at p50 and cap 16,000 56.6 ms
-- (p99 650 ms); the run before 0018 measured 17.9 and 34.7 ms (p99 29 and 52 ms). The extra words now stop at 10,000
-- postings past the cap, or 6 × the cap when that is less: the same budget at the default 2,000 (12,000
-- postings) and below, and in the same run cap 8,000 took 7.6 ms and cap 16,000 10.8 ms (p99 61.7 ms),
-- both still with all of exact BM25's top 10 (agreement 1.000).

-- Postings the pairs pass may read, for a cap of max_candidates postings.
CREATE FUNCTION bm25_pair_budget(max_candidates integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN least(6::bigint * max_candidates, max_candidates::bigint + 10000);

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
  statement text;
  found_ids bigint[];
  found_scores float8[];
  taken integer;
  next_taken integer;
  paired integer;
  pairs tsquery;
  term_count integer;
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
  by_tf1 := bm25_query_vector(terms, idfs, 1);
  by_tf2 := bm25_query_vector(terms, idfs, 2);
  by_tf3 := bm25_query_vector(terms, idfs, 3);

  -- bounds_after[i]: the most the words after the i-th can add to a chunk holding none of the first i.
  bounds_after := array_fill(0::float8, ARRAY[term_count]);
  FOR i IN REVERSE term_count - 1 .. 1 LOOP
    bounds_after[i] := bounds_after[i + 1] + idfs[i + 1] * (k1 + 1);
  END LOOP;

  -- lo and hi: the bounds of a candidate's score (k: its K). threshold: the max_rows-th best lower bound.
  statement := format(
    'WITH candidates AS MATERIALIZED (
       SELECT x.id, ($6 + 1) * (x.p1 / (1 + x.k) + 2 * x.p2 / (2 + x.k) + 3 * x.p3 / (3 + x.k)) AS lo,
         ($6 + 1) * (x.p1 / (1 + x.k) + 2 * x.p2 / (2 + x.k) + x.p3) AS hi
       FROM (
         SELECT c.id, inner_product(c.bm25_terms, $13) AS p1, inner_product(c.bm25_terms, $14) AS p2,
           inner_product(c.bm25_terms, $15) AS p3, $6 * (1 - $7 + $7 * c.word_count / $8) AS k
         FROM chunks c %s
         WHERE c.collection_id = $1 AND c.tsv @@ $4 %s %s
         OFFSET 0
       ) x
     ),
     threshold AS (SELECT lo FROM candidates ORDER BY lo DESC LIMIT 1 OFFSET $5 - 1)
     SELECT array_agg(r.id ORDER BY r.score DESC, r.id), array_agg(r.score ORDER BY r.score DESC, r.id)
     FROM (
       SELECT c.id, sum(w.idf * u.tf * ($6 + 1) / (u.tf + $6 * (1 - $7 + $7 * c.word_count / $8))) AS score
       FROM candidates x JOIN chunks c ON c.id = x.id
       CROSS JOIN LATERAL (
         SELECT f.lexeme, greatest(cardinality(f.positions), 1) AS tf
         FROM unnest(ts_filter(setweight(c.tsv, %L, $2), %L)) f
       ) u
       JOIN unnest($2, $3) w(term, idf) ON w.term = u.lexeme
       WHERE x.hi >= coalesce((SELECT t.lo FROM threshold t), 0) * (1 - 1e-4)
       GROUP BY c.id
       ORDER BY score DESC, c.id
       LIMIT $5
     ) r',
    CASE WHEN coalesce(cardinality(kinds), 0) + coalesce(cardinality(source_prefixes), 0)
      + coalesce(cardinality(metadata_filters), 0) = 0 THEN ''
      ELSE 'JOIN documents d ON d.id = c.document_id' END,
    CASE WHEN must_match IS NULL THEN '' ELSE 'AND c.tsv @@ $9' END,
    concat_ws(' ',
      CASE WHEN cardinality(kinds) > 0 THEN 'AND d.kind = ALL ($10)' END,
      CASE WHEN cardinality(source_prefixes) > 0
        THEN 'AND NOT EXISTS (SELECT 1 FROM unnest($11) p WHERE NOT starts_with(d.source_id, p))' END,
      CASE WHEN cardinality(metadata_filters) > 0 THEN 'AND d.metadata @> ALL ($12)' END),
    'A', '{a}');

  -- df_sum[i] becomes the number of (chunk, word) postings of the first i words: at most that many
  -- chunks are scored when they are taken.
  FOR i IN 2 .. term_count LOOP
    df_sum[i] := df_sum[i - 1] + df_sum[i];
  END LOOP;
  -- Exact: start with the fewest words whose chunks can fill the answer, then widen until the bound
  -- holds. Capped: start with as many words as the cap allows (see the top of this file).
  taken := 1;
  WHILE taken < term_count AND (df_sum[taken] < max_rows OR max_candidates IS NOT NULL)
    AND (max_candidates IS NULL OR df_sum[taken + 1] <= max_candidates) LOOP
    taken := taken + 1;
  END LOOP;
  -- Capped, and the cap stops short of the question's words: the chunks holding the rarest word or two
  -- of the words that fit under the pair budget (0019), enough of them to fill the answer (see 0018).
  IF max_candidates IS NOT NULL AND taken < term_count THEN
    paired := taken;
    WHILE paired < term_count AND df_sum[paired + 1] <= bm25_pair_budget(max_candidates) LOOP
      paired := paired + 1;
    END LOOP;
    pairs := lexemes_pairs_tsquery(terms[1:paired]);
    IF pairs IS NOT NULL THEN
      EXECUTE statement INTO found_ids, found_scores
        USING target_collection, terms, idfs, lexemes_any_tsquery(terms[1:1]) || pairs, max_rows, k1, b,
          average_length, must_match, kinds, source_prefixes, metadata_filters,
          by_tf1, by_tf2, by_tf3;
      IF cardinality(found_ids) >= max_rows THEN
        RETURN QUERY SELECT r.chunk_id, r.bm25 FROM unnest(found_ids, found_scores) r(chunk_id, bm25);
        RETURN;
      END IF;
    END IF;
  END IF;
  LOOP
    EXECUTE statement INTO found_ids, found_scores
      USING target_collection, terms, idfs,
        CASE WHEN pairs IS NULL THEN lexemes_any_tsquery(terms[1:taken])
          ELSE lexemes_any_tsquery(terms[1:taken]) || pairs END,
        max_rows, k1, b, average_length, must_match, kinds, source_prefixes, metadata_filters,
        by_tf1, by_tf2, by_tf3;
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
