"""What runs cost, in the window's words: the estimate before a run, GPU time after.

The core measures and reckons (``Run.stage_times``, ``app.core.estimate``) and says
it in English for the CLI; these pure functions say the same in the person's
language (context ``Costs``). GPU seconds are what RunPod billed (its
``executionTime``); queue time is its ``delayTime``, cold starts included.
Money is only ever shown from the price per GPU second the person set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication

from app.core.estimate import Estimate
from app.core.models import Run, Shot, Stage, StageTimes
from app.ui.statuses import decimal


def stage_name(stage: str) -> str:
    """A stage of a run that costs something, as a person calls it."""
    translate = QCoreApplication.translate
    return {Stage.WRITING_SCRIPT.value: translate("Costs", "script"),
            Stage.PLANNING_SCENES.value: translate("Costs", "scene plan"),
            Stage.RENDERING_SHOTS.value: translate("Costs", "shots")}.get(
        stage, stage.replace("_", " "))


def money_text(dollars: float) -> str:
    """US dollars, to the cent; a fraction of a cent says so rather than "$0.00"."""
    translate = QCoreApplication.translate
    if 0 < dollars < 0.005:
        return translate("Costs", "less than $0.01")
    return translate("Costs", "$%1").replace("%1", decimal(dollars, 2))


def run_stage_times(run: Run, shots: Iterable[Shot] | None = None) -> dict[str, StageTimes]:
    """``run.stage_times()``, with ``shots`` (the cards' newer states) instead of its own."""
    if shots is not None:
        run = run.model_copy(update={"shots": list(shots)})
    return run.stage_times()


def billed(times: dict[str, StageTimes]) -> dict[str, StageTimes]:
    """The stages that ran cloud jobs (a draft run has none)."""
    return {stage: t for stage, t in times.items() if t.jobs or t.gpu_s or t.queue_s}


def run_cost_text(times: dict[str, StageTimes], price_per_gpu_s: float | None = None) -> str:
    """One line for the run's header: GPU and queue time in total (and money when a price
    is set); empty when the run ran no cloud job."""
    paid = billed(times)
    if not paid:
        return ""
    translate = QCoreApplication.translate
    gpu = sum(t.gpu_s for t in paid.values())
    queue = sum(t.queue_s for t in paid.values())
    text = translate("Costs", "Cost: %1 GPU s, %2 s queued").replace(
        "%1", decimal(gpu)).replace("%2", decimal(queue))
    if price_per_gpu_s is not None:
        text += translate("Costs", " · about %1").replace(
            "%1", money_text(gpu * price_per_gpu_s))
    return text


def run_cost_tooltip(times: dict[str, StageTimes]) -> str:
    """Each stage's jobs, GPU, queue and wall time, one line each, then the total."""
    paid = billed(times)
    if not paid:
        return ""
    translate = QCoreApplication.translate
    lines = [translate("Costs", "What RunPod billed, by stage:")]
    for stage, t in paid.items():
        lines.append(translate("Costs", "%1: %2 jobs, %3 GPU s, %4 s queued, %5 s wall")
                     .replace("%1", stage_name(stage)).replace("%2", str(t.jobs))
                     .replace("%3", decimal(t.gpu_s)).replace("%4", decimal(t.queue_s))
                     .replace("%5", decimal(t.wall_s)))
    jobs = sum(t.jobs for t in paid.values())
    lines.append(translate("Costs", "In all: %1 jobs, %2 GPU s, %3 s queued")
                 .replace("%1", str(jobs))
                 .replace("%2", decimal(sum(t.gpu_s for t in paid.values())))
                 .replace("%3", decimal(sum(t.queue_s for t in paid.values()))))
    lines.append(translate("Costs", "Failed attempts and earlier versions count too: they "
                           "were paid for."))
    return "\n".join(lines)


def history_cost_text(run: Run) -> str:
    """The GPU time a run in the history list cost; empty for one that ran offline."""
    if not run.gpu_seconds:
        return ""
    return QCoreApplication.translate("Costs", "%1 GPU s").replace(
        "%1", decimal(run.gpu_seconds))


# The estimate before a run.


def estimate_text(estimate: Estimate) -> str:
    """The line beside the Generate button."""
    translate = QCoreApplication.translate
    text = translate("Costs", "Estimate: %1 GPU jobs, about %2 GPU s").replace(
        "%1", str(estimate.jobs)).replace("%2", decimal(estimate.gpu_seconds, 0))
    if estimate.cost is None:
        return text + translate("Costs", " · set a price in Settings to see the cost")
    return text + translate("Costs", " · about %1").replace("%1", money_text(estimate.cost))


def estimate_tooltip(estimate: Estimate) -> str:
    translate = QCoreApplication.translate
    lines = [translate("Costs", "Shots: %1 (%2)").replace("%1", str(estimate.shots))
             .replace("%2", basis_text(estimate.shots_basis))]
    if estimate.shot_jobs:
        lines.append(translate("Costs", "Each shot: about %1 GPU s (%2)")
                     .replace("%1", decimal(estimate.shot_gpu_s))
                     .replace("%2", basis_text(estimate.shot_basis)))
    if estimate.writer_jobs:
        lines.append(translate("Costs", "Writer: %1 jobs of about %2 GPU s (%3)")
                     .replace("%1", str(estimate.writer_jobs))
                     .replace("%2", decimal(estimate.writer_gpu_s))
                     .replace("%3", basis_text(estimate.writer_basis)))
    if estimate.price_per_gpu_s is None:
        lines.append(translate("Costs", "No price set: enter the price per GPU second in "
                               "File › Settings to see the cost in dollars."))
    else:
        lines.append(translate("Costs", "Price: $%1 per GPU second")
                     .replace("%1", f"{estimate.price_per_gpu_s:g}"))
    if estimate.capped and estimate.budget_gpu_s is not None:
        lines.append(translate("Costs", "The budget of %1 GPU s will stop the run early.")
                     .replace("%1", decimal(estimate.budget_gpu_s, 0)))
    if estimate.script_shots is not None and estimate.script_shots > estimate.shots:
        lines.append(translate("Costs", "The whole script: %1 scenes, about %2 shots, about "
                               "%3 GPU s").replace("%1", str(estimate.script_scenes))
                     .replace("%2", str(estimate.script_shots))
                     .replace("%3", decimal(estimate.script_gpu_seconds or 0.0, 0)))
    lines.append(translate("Costs", "The estimate learns from your finished runs."))
    return "\n".join(lines)


_COUNTED = (  # the core's words with a number of runs in them (``estimate._runs``)
    (re.compile(r"^the median of your last (\d+) runs$"), "the median of your last %1 runs"),
    (re.compile(r"^your last (\d+) runs on it$"), "your last %1 runs on it"),
    (re.compile(r"^your last (\d+) runs$"), "your last %1 runs"),
)


def basis_text(basis: str) -> str:
    """What a number of the estimate rests on (``Estimate.*_basis``), translated; words
    this function does not know are shown as the core wrote them."""
    translate = QCoreApplication.translate
    fixed = {"at most, as asked": translate("Costs", "at most, as asked"),
             "the most your recent runs had, within the limit asked":
                 translate("Costs", "the most your recent runs had, within the limit asked"),
             "a typical storyboard": translate("Costs", "a typical storyboard"),
             "the scenes to storyboard": translate("Costs", "the scenes to storyboard"),
             "no GPU": translate("Costs", "no GPU"),
             "a stated default until you have runs":
                 translate("Costs", "a stated default until you have runs"),
             "a stated default": translate("Costs", "a stated default"),
             "the median of your last run": translate("Costs", "your last run"),
             "your last run on it": translate("Costs", "your last run on it"),
             "your last run": translate("Costs", "your last run")}
    if basis in fixed:
        return fixed[basis]
    for pattern, _english in _COUNTED:
        match = pattern.match(basis)
        if match:
            n = match.group(1)
            words = {"the median of your last %1 runs":
                         translate("Costs", "the median of your last %1 runs"),
                     "your last %1 runs on it": translate("Costs", "your last %1 runs on it"),
                     "your last %1 runs": translate("Costs", "your last %1 runs")}[_english]
            return words.replace("%1", n)
    return basis


def offline_text(writer_elsewhere: bool) -> str:
    """The estimate's place when no part runs on RunPod."""
    translate = QCoreApplication.translate
    if writer_elsewhere:
        return translate("Costs", "No RunPod GPU jobs")
    return translate("Costs", "Offline: free")
