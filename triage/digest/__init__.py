"""The digest for support leads: build (data), redact (masking) and render (text, Markdown, HTML, JSON)."""
