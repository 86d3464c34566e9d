"""Session records and what is read from them: progress, flags, the chart, FHIR and CSV exports."""
