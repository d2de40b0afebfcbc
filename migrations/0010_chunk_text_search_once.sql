-- Ingestion speed (issue 17): a chunk's text search vector was computed twice per row, once for the
-- generated `tsv` and once more for the generated `word_count` (a generated column cannot read another
-- one). to_tsvector is most of the server's work on a chunk insert, so both columns become plain ones
-- that one BEFORE trigger fills from a single to_tsvector call. They stay derived, whoever writes: the
-- trigger also runs when a statement sets them directly, and overwrites what it set.
ALTER TABLE chunks ALTER COLUMN word_count DROP EXPRESSION;
ALTER TABLE chunks ALTER COLUMN tsv DROP EXPRESSION;

CREATE FUNCTION chunks_text_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.tsv := to_tsvector(NEW.ts_config, NEW.heading_path || ' ' || NEW.text);
  NEW.word_count := tsvector_word_count(NEW.tsv);
  RETURN NEW;
END $$;

-- Row triggers run before the statement-level BM25 triggers of 0005, which read the finished rows.
CREATE TRIGGER chunks_text_search BEFORE INSERT OR UPDATE OF heading_path, text, ts_config, tsv, word_count
  ON chunks FOR EACH ROW EXECUTE FUNCTION chunks_text_search();
