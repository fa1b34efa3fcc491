"""Function calling: the tools the model may call, their guardrails and audit log."""
