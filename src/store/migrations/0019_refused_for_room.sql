-- Schema 19: a blob refused only because the room for blobs waiting for a key was full is
-- marked so. Such a refusal says nothing against the blob: served again (a repair asks for its
-- document once there is room), it is judged again rather than skipped as one already judged.
ALTER TABLE quarantine ADD COLUMN for_room INTEGER NOT NULL DEFAULT 0;

-- Refusals for want of room made before this schema, known by their reasons.
UPDATE quarantine SET for_room = 1
 WHERE reason LIKE '%changes already wait for keys here'
    OR reason LIKE 'it waited for a key with more than % other changes%';
