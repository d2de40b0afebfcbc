-- Issue 16, speed of the lexical arm at scale. With a candidate cap, bm25_search scored every chunk holding
-- any of the question's rarest words, as many words as fit under the cap. Most of those chunks hold just
-- one of the question's words and cannot reach the top; a chunk that does usually holds several of them.
--
-- So, when the cap stops short of the question's words, a first pass now takes the words whose postings
-- fit under 6 × the cap (rarest first) and scores only the chunks holding the rarest word or at least two
-- of those words. Which chunks those are, the full-text index answers from its posting lists (a tsquery
-- `r | (w1 & (w2 | w3 | …)) | (w2 & (w3 | …)) | …`), without reading the chunks that hold one word only.
-- If that pass finds max_rows chunks, they are the answer: the exact BM25 top of those chunks, every word
-- of the question counting in their scores. Otherwise the capped pass of 0017 runs as before, with the
-- pairs added to its candidates (so it finds at least what it found before).
--
-- Measured at 100k chunks (100 SciFact claims, 40 rows, BENCHMARKS.md "Retrieval latency at 100k
-- chunks"): at a cap of 2,000 the share of exact BM25's top 10 kept went from 0.963 to 0.995 with the
-- arm's p50 a little lower. Without a cap (exact BM25) nothing changes. With a cap that all the words
-- fit under, nothing changes either: the one pass over all of them is exact.

-- A tsquery matching chunks that hold at least two of these lexemes (NULL for fewer than two).
CREATE FUNCTION lexemes_pairs_tsquery(lexemes text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
  SELECT string_agg(format('(%s & (%s))', lexemes_any_tsquery(ARRAY[a.lexeme]),
      lexemes_any_tsquery(lexemes[a.i + 1:])), ' | ')::tsquery
  FROM unnest(lexemes) WITH ORDINALITY a(lexeme, i)
  WHERE a.i < cardinality(lexemes)
);

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
  -- of the words that fit under 6 × the cap, enough of them to fill the answer (see the top of this file).
  IF max_candidates IS NOT NULL AND taken < term_count THEN
    paired := taken;
    WHILE paired < term_count AND df_sum[paired + 1] <= 6::bigint * max_candidates LOOP
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
