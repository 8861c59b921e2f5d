"""The rule book: rules, findings and verdicts, editions, workload numbers, and the verifier
that applies them (no Ansible imports)."""
