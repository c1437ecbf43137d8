"""policy.face_likeness on plain data: faces given as their candidate cameos,
the usable set, the two strengths; and policy.images.judge_nudity on recorded
NudeNet outputs (real nude pictures cannot be had legitimately for tests, so
the decision is tested on detections in the detector's own labels and score
range, and the detector itself on real pictures in tests/cameos/test_upload_checks.py)."""

from __future__ import annotations

from policy.face_likeness import (
    MATCH_DISTANCE,
    OUTPUT_SENTENCE,
    REFERENCE_SENTENCE,
    Candidate,
    judge_output_faces,
    judge_reference_faces,
    matched_cameos,
    owner_of_face,
)
from policy.images import judge_nudity


def c(cameo_id: str, distance: float) -> Candidate:
    return Candidate(cameo_id=cameo_id, distance=distance)


def test_a_face_belongs_to_its_nearest_cameo_within_the_threshold():
    assert owner_of_face([c("a", 0.55), c("b", 0.31)]) == c("b", 0.31)
    assert owner_of_face([c("a", MATCH_DISTANCE), c("b", 0.7)]) is None  # the threshold itself is not a match
    assert owner_of_face([]) is None
    assert matched_cameos([[c("a", 0.3)], [c("b", 0.9)], [c("a", 0.2), c("c", 0.5)]]) == ["a"]


def test_outputs_refuse_only_a_registered_face_that_may_not_be_used():
    assert judge_output_faces([], set()).allowed
    assert judge_output_faces([[]], set()).allowed  # a generated stranger
    assert judge_output_faces([[c("mine", 0.2)]], {"mine"}).allowed
    refused = judge_output_faces([[c("mine", 0.2)], [c("theirs", 0.4)]], {"mine"})
    assert not refused.allowed and refused.category == "real_person" and refused.face == 1
    assert refused.reason == OUTPUT_SENTENCE and "theirs" not in refused.reason
    # the nearest decides: a face nearer my cameo than theirs is mine
    assert judge_output_faces([[c("theirs", 0.5), c("mine", 0.3)]], {"mine"}).allowed
    assert not judge_output_faces([[c("theirs", 0.3), c("mine", 0.5)]], {"mine"}).allowed
    # far from every cameo: nobody's
    assert judge_output_faces([[c("theirs", 0.65)]], set()).allowed


def test_references_need_every_face_to_be_a_usable_cameo():
    assert judge_reference_faces([], set()).allowed  # no face at all
    assert judge_reference_faces([[c("mine", 0.25)]], {"mine"}).allowed
    unknown = judge_reference_faces([[]], {"mine"})  # a real face that is nobody's cameo
    assert not unknown.allowed and unknown.category == "real_person" and unknown.reason == REFERENCE_SENTENCE
    assert not judge_reference_faces([[c("theirs", 0.25)]], {"mine"}).allowed
    assert not judge_reference_faces([[c("mine", 0.2)], [c("mine", 0.7)]], {"mine"}).allowed


# NudeNet's output for pictures of each kind, as (class, score) pairs in its own labels
RECORDED = {
    "exposed breast": [("FACE_FEMALE", 0.81), ("FEMALE_BREAST_EXPOSED", 0.72), ("BELLY_EXPOSED", 0.55)],
    "exposed genitals, weak": [("MALE_GENITALIA_EXPOSED", 0.36)],
    "bikini": [("FACE_FEMALE", 0.77), ("FEMALE_BREAST_COVERED", 0.68), ("BELLY_EXPOSED", 0.61)],
    "shirtless man": [("FACE_MALE", 0.83), ("MALE_BREAST_EXPOSED", 0.74), ("ARMPITS_EXPOSED", 0.42)],
    "portrait": [("FACE_FEMALE", 0.84)],
    "nothing": [],
}


def test_the_nudity_decision_on_recorded_detector_outputs():
    def refused(name: str, strict: bool) -> bool:
        return not judge_nudity(RECORDED[name], strict=strict).allowed

    assert refused("exposed breast", False) and refused("exposed breast", True)
    assert not refused("exposed genitals, weak", False) and refused("exposed genitals, weak", True)
    assert not refused("bikini", False) and refused("bikini", True)  # covered parts refuse a likeness only
    for name in ("shirtless man", "portrait", "nothing"):
        assert not refused(name, False) and not refused(name, True)
    decision = judge_nudity(RECORDED["exposed breast"])
    assert decision.category == "sexual" and decision.reason
