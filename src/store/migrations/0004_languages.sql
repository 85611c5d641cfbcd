-- Languages a person speaks (issue 9): a JSON array like tags. Documents written before this
-- version hold none, so every existing row starts empty.
ALTER TABLE people ADD COLUMN languages TEXT NOT NULL DEFAULT '[]';
