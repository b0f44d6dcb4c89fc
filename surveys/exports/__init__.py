"""Research exports: what leaves the study, by pseudonym only (docs/exports.md).

spec.py      ExportSpec / ExportStats: the choices of one export, storable as a dict
access.py    who may export a study, and which sites' participants they get
catalogue.py the variables of a questionnaire over all its versions (item codes, option union, scores)
source.py    the responses to export, streamed from the database, with dates de-identified
writers.py   export_write / export_count / export_filename / export_media_type: every format
"""
