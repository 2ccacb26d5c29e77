"""Clinical rule engine: symptom catalog, rule table, pure evaluation and patient prompts."""
