-- Schema 6: indexes for the People screen's filters and the Due screen's "mine" (issue 9).
-- Indexes only: no table changes, nothing to migrate.

-- Filter by area, whatever its case ("Elm Road" and "elm road" are one area).
CREATE INDEX people_by_area ON people (area COLLATE NOCASE);

-- A person's latest conversation (by time, then id) with its engagement and follow-up,
-- read from the index alone: the engagement and "follow-up due" filters ask it per person.
CREATE INDEX conversations_latest ON conversations (person_id, at, id, engagement, follow_up);
