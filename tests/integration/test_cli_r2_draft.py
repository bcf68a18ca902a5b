"""Issue 4, item 7: with only the four R2 variables set (no RunPod), the draft renderer
draws every shot and its images go to R2 under ``runs/<run_id>/shots/<shot_id>/<attempt>.png``;
the CLI shows them from the preview cache and writes nothing to the local blob store."""

from __future__ import annotations

from pathlib import Path

from tests.integration.support import (
    S3_SECRET_KEY,
    one_run,
    png_size,
    sha256_file,
    storyreel,
)


def test_draft_images_go_to_r2_when_only_r2_is_configured(s3, bucket, home):
    result = storyreel("run", "--text", "A fox steals the moon from a sleeping village.",
                       "--json", "--max-shots", "4", "--seed", "5", env=s3.r2_env(bucket))

    assert result.returncode == 0, result.stderr
    run = one_run(result)
    assert run["status"] == "completed"
    assert run["shots_done"] == run["shot_count"] == 4
    assert "draft" in result.stderr and "RunPod" not in result.stderr  # the draft renderer drew
    expected = sorted(f"runs/{run['run_id']}/shots/{shot['shot_id']}/1.png"
                      for shot in run["shots"])
    assert s3.keys(bucket) == expected
    cache = Path(home) / "cache"
    for shot in run["shots"]:
        image = shot["image"]
        assert (image["store"], image["bucket"]) == ("r2", bucket)
        assert image["key"] == f"runs/{run['run_id']}/shots/{shot['shot_id']}/1.png"
        assert shot["job_id"] is None  # no RunPod job behind it
        path = Path(shot["image_path"])
        assert path.is_relative_to(cache) and path.is_file()  # the preview cache's copy
        assert sha256_file(path) == image["sha256"]
        data = s3.get(bucket, image["key"])
        assert data == path.read_bytes()
        assert png_size(data) == (image["width"], image["height"])
    blobs = Path(home) / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    assert S3_SECRET_KEY not in result.stdout + result.stderr
