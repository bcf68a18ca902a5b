"""The screenplay as a Fountain file (fountain.io), exactly as the writer wrote it."""

from __future__ import annotations

from app.core.export.base import ExportJob, in_thread


def screenplay_text(job: ExportJob) -> str:
    text = job.run.script.screenplay if job.run.script else ""
    return text if text.endswith("\n") else text + "\n"


async def write_fountain(job: ExportJob) -> None:
    text = screenplay_text(job)
    await in_thread(job, job.temp.write_text, text, encoding="utf-8", newline="\n")
