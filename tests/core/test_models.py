from app.core.models import (
    ImageRef,
    Run,
    RunCounts,
    Shot,
    ShotStatus,
    ShotType,
    ShotVersion,
    StageTimes,
    derive_seed,
    shot_id_for,
    shot_number,
)


def test_shot_numbers_follow_storyboard_convention_skipping_i_and_o():
    assert [shot_number(12, i) for i in (1, 2, 8, 9, 13, 14)] == [
        "12A", "12B", "12H", "12J", "12N", "12P"]
    assert shot_number(1, 24) == "1Z"
    assert shot_number(1, 25) == "1AA"


def test_shot_ids_are_key_safe_and_sort_in_story_order():
    ids = [shot_id_for(s, i) for s in (1, 2, 10) for i in (1, 2, 11)]
    assert ids == sorted(ids)
    assert all(c.isalnum() or c == "-" for c in "".join(ids))


def test_derived_seeds_are_stable_and_distinct():
    a = [derive_seed(7, shot_id_for(1, i)) for i in range(1, 50)]
    assert a == [derive_seed(7, shot_id_for(1, i)) for i in range(1, 50)]
    assert len(set(a)) == len(a)
    assert derive_seed(7, "s01-01") != derive_seed(8, "s01-01")
    assert derive_seed(7, "s01-01", version=1) != derive_seed(7, "s01-01")
    assert all(0 <= s < 2**31 for s in a)


def test_run_documents_leave_shots_out_and_tally_counts_them():
    run = Run(idea="x")
    run.shots = [
        Shot(run_id=run.run_id, shot_id=shot_id_for(1, i), scene=1, index=i,
             number=shot_number(1, i), shot_type=ShotType.WIDE, description="d",
             status=status, timings={"gpu_s": 1.5})
        for i, status in enumerate([ShotStatus.DONE, ShotStatus.FAILED, ShotStatus.DONE], 1)
    ]
    run.tally()
    assert (run.shot_count, run.shots_done, run.shots_failed, run.gpu_seconds) == (3, 2, 1, 4.5)
    assert "shots" not in run.model_dump(mode="json")


def test_run_counts_kept_shot_by_shot_match_a_full_tally():
    run = Run(idea="x", stages={"writing_script": StageTimes(jobs=1, gpu_s=2.25, queue_s=1.0),
                                "rendering_shots": StageTimes(wall_s=9.0)})
    run.shots = [Shot(run_id=run.run_id, shot_id=shot_id_for(1, i), scene=1, index=i,
                      number=shot_number(1, i), shot_type=ShotType.WIDE, description="d")
                 for i in range(1, 6)]
    counts = RunCounts(run)
    image = ImageRef(store="local", bucket="b", key="k", width=1, height=1, seed=1, sha256="0" * 64,
                     bytes=1)
    landings = [
        (0, ShotStatus.DONE, {"gpu_s": 1.5, "queue_s": 0.25}, []),
        (1, ShotStatus.FAILED, {"failed_gpu_s": 0.75, "failed_jobs": 2}, []),
        (2, ShotStatus.DONE, {"gpu_s": 0.5},
         [ShotVersion(attempt=1, image=image, prompt="p", seed=1, timings={"gpu_s": 3.0})]),
        (1, ShotStatus.DONE, {"gpu_s": 1.0, "failed_gpu_s": 0.75, "failed_jobs": 2}, []),
        (0, ShotStatus.CANCELLED, {"gpu_s": 1.5, "queue_s": 0.25}, []),  # landed again
    ]
    for index, status, timings, versions in landings:
        shot = run.shots[index]
        shot.status, shot.timings, shot.versions = status, timings, versions
        counts.land(shot)
        kept = (run.shot_count, run.shots_done, run.shots_failed, run.gpu_seconds,
                run.queue_seconds)
        run.tally()
        assert kept == (run.shot_count, run.shots_done, run.shots_failed, run.gpu_seconds,
                        run.queue_seconds)
    assert (run.shots_done, run.shots_failed, run.gpu_seconds) == (2, 0, 2.25 + 1.5 + 1.75 + 3.5)
