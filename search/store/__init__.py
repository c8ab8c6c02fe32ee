"""The index in Redis: the connection (:mod:`.connection`), the schema of one version
(:mod:`.schema`), the versions and the alias (:mod:`.versions`), and the product documents
(:mod:`.documents`)."""
