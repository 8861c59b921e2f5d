"""Rule classes, one per file; discovered by the registry."""
