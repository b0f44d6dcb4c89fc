"""REDCap data dictionary (CSV, the 18 standard columns) in and out.

Imported into FHIR R4 Questionnaires (dictionary_import), exported from a published version (dictionary_export).
"""
