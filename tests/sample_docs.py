"""The ids of the sample corpus's documents (paths under corpus/), shared by the tests."""

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

PDF = "rules/certificate_management_measures.pdf"
DOCX = "notices/1x_pilot_plan.docx"
HTML = "notices/pilot_work_notice.html"
TXT = "notices/production_education_notice.txt"
MD = "papers/1x_pilot_review.md"
LAW_2018 = "laws/vocational_education_measures_2018_gbk.txt"
LAW_2021 = "laws/vocational_education_measures_2021_gbk.txt"
AMEND = "notices/certificate_measures_amendment.txt"
