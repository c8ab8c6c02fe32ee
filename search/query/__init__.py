"""Reading the index: typed filters (:mod:`.filters`), similar products (:mod:`.similar`), the
search box and its fusion (:mod:`.box`), facet counts (:mod:`.facets`) and query understanding
(:mod:`.understanding`)."""
