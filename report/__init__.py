"""The report stage: one HTML page for a workspace (:mod:`h2s2r.report.page`)."""
