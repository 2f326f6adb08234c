-- The planner guesses how many tickets match a search word from the tsvector column's statistics.
-- With the default sample it over-estimates rare words, walks tickets newest-first and filters the
-- whole tenant when fewer than a page match (bench: 56 ms at 100k tickets, growing with tenant size).
-- A larger sample lets it pick the GIN index for rare words (1.8 ms) and keep the ordered walk for
-- common ones.
ALTER TABLE tickets ALTER COLUMN search SET STATISTICS 1000;
