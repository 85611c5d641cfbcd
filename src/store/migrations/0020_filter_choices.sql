-- Schema 20: the areas, tags and issues the People screen's filters offer, counted. Reading them
-- from every person and every conversation (`json_each` over the whole table, then a sort) took
-- about 30 ms at 10,000 people natively, and more in the phone's store worker, again after every
-- save while the People screen was shown. Each value here keeps how many rows hold it: of
-- `people` for an area or a tag, of `conversations` for an issue (a value twice in one row counts
-- twice). The code that writes those rows keeps the counts (`store::choices`), and deletes a
-- value whose count reaches nought, so that what an erasure deletes does not stay behind here.
-- A migration that rebuilds `people` or `conversations` must count this table afresh, as the end
-- of this file does.
CREATE TABLE filter_choices (
    kind  TEXT NOT NULL,     -- 'area', 'tag' or 'issue'
    value TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

INSERT INTO filter_choices (kind, value, n)
SELECT 'area', area, count(*) FROM people WHERE area IS NOT NULL GROUP BY area;
INSERT INTO filter_choices (kind, value, n)
SELECT 'tag', j.value, count(*) FROM people p, json_each(p.tags) j WHERE j.type = 'text'
 GROUP BY j.value;
INSERT INTO filter_choices (kind, value, n)
SELECT 'issue', j.value, count(*) FROM conversations c, json_each(c.issues) j WHERE j.type = 'text'
 GROUP BY j.value;
