"""Demo data for `triage demo`: the bundled sample support mailbox."""
