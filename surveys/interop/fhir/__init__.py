"""FHIR R4 in and out: Questionnaire import and export, QuestionnaireResponse export and import.

Everything read or written is validated with fhir.resources (validation).
"""
