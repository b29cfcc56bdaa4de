"""Where mail comes from: IMAP accounts and local archives."""
