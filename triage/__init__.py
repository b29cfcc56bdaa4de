"""triage: watches a support mailbox and shows a support lead where customers are being failed."""

__version__ = "0.1.0"
