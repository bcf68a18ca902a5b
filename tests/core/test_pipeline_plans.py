from app.core.models import Scene, ScenePlan, ShotPlan, ShotType
from app.core.pipeline import limit_shots


def plans(scenes: int, shots: int) -> list[ScenePlan]:
    return [
        ScenePlan(scene=Scene(index=s, heading=f"INT. ROOM {s} - DAY"),
                  shots=[ShotPlan(shot_type=ShotType.MEDIUM, description=f"{s}.{i}")
                         for i in range(1, shots + 1)])
        for s in range(1, scenes + 1)
    ]


def test_no_limit_or_a_large_one_keeps_everything():
    p = plans(3, 2)
    assert limit_shots(p, None) is p
    assert limit_shots(p, 6) is p


def test_the_limit_is_spread_over_scenes_in_story_order():
    kept = limit_shots(plans(3, 4), 7)
    assert [[s.description for s in k.shots] for k in kept] == [
        ["1.1", "1.2", "1.3"], ["2.1", "2.2"], ["3.1", "3.2"]]
