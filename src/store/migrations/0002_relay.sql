-- Schema 2: where this device syncs. Filled in by `groundwork join`.
ALTER TABLE sync_state ADD COLUMN relay_url TEXT;
ALTER TABLE sync_state ADD COLUMN team_id TEXT;
ALTER TABLE sync_state ADD COLUMN relay_device_id TEXT;
ALTER TABLE sync_state ADD COLUMN token TEXT;
