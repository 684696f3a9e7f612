"""Reports: the JSON record of truth (:mod:`manualbp.report.model`) and its views."""

from manualbp.report.merge import merge_reports
from manualbp.report.model import SCHEMA_VERSION, Report, read_report

__all__ = ["SCHEMA_VERSION", "Report", "merge_reports", "read_report"]
