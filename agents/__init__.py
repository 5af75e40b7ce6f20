"""The agency agent: API for document systems, durable outbox, inbox and receipts."""
