"""The baselines a comparison must beat: honest ones, never strawmen."""


def test_tfidf_baseline_is_a_real_baseline():
    """Well above chance on topic (words name the topic), deterministic, one flag per
    labelled test sentence."""
    from helpers.baselines import tfidf_correctness
    from helpers.data import load_sentences

    data = load_sentences()
    first = tfidf_correctness(data, ["topic", "sentiment"])
    assert first["topic"].shape == (len(data["test"]),) and first["topic"].mean() > 0.6
    assert (tfidf_correctness(data, ["topic"])["topic"] == first["topic"]).all()
