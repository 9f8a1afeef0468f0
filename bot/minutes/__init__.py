"""Meeting minutes: transcripts, threads, channels and online meetings summarised for managers.

``sources`` turns what was asked for into lines and the access of its source; ``writer`` extracts
and merges with the model (structured output); ``service`` decides, audits and delivers.
"""
