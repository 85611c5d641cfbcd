-- A commitment counts towards a campaign target by choice (issue 9): the target's label, or
-- none. Commitments recorded before hold none; reports still count one whose words equal a
-- target's label (src/report.rs), so nothing that counted stops counting.
ALTER TABLE commitments ADD COLUMN target TEXT;
