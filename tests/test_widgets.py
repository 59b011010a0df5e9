import ipywidgets as widgets
import pytest

from helpers.widgets import explore_similarity, similarity_explorer


def test_explorer_handler_ranks_sentences(real_encoder):
    text = "The striker scored a late goal.\nThe bank raised interest rates.\n\n"
    result = explore_similarity(real_encoder, text, "Who won the football match?", k=2)
    assert result.sentences == text.split("\n")[:2]
    assert result.matrix.shape == (2, 2)
    assert result.neighbours["sentence"].iloc[0] == "The striker scored a late goal."


@pytest.mark.parametrize(("text", "query", "message"), [
    ("  \n ", "q", "type at least one sentence"),
    ("one sentence", "   ", "the query is empty"),
])
def test_explorer_handler_rejects_empty_input(tiny_encoder, text, query, message):
    with pytest.raises(ValueError, match=message):
        explore_similarity(tiny_encoder, text, query)


def test_explorer_widget_builds_and_updates(tiny_encoder, capsys):
    """Outside a kernel the Output widget passes prints through to stdout."""
    app = similarity_explorer(tiny_encoder, ["alpha beta", "gamma delta"], query="alpha")
    assert isinstance(app, widgets.VBox)
    assert "Nearest to: 'alpha'" in capsys.readouterr().out
    app.children[1].value = ""  # an empty query shows a message instead of raising
    assert "the query is empty" in capsys.readouterr().out


def test_prediction_widget_handler_and_app(tiny_model_dir, capsys):
    from helpers import SentenceEncoder
    from helpers.data import SENTENCE_TASKS
    from helpers.multitask import MultiTaskModel
    from helpers.widgets import predict_sentence, prediction_widget

    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
    result = predict_sentence(model, "  The soup was cold.  ")
    assert set(result) == {"topic", "sentiment"}
    with pytest.raises(ValueError, match="type a sentence first"):
        predict_sentence(model, " ")
    app = prediction_widget(model, "Lovely beach.")
    assert "topic: " in capsys.readouterr().out
    app.children[0].value = ""
    assert "type a sentence first" in capsys.readouterr().out


def test_explorer_refreshes_on_every_control(tiny_encoder, capsys):
    app = similarity_explorer(tiny_encoder, ["alpha beta", "gamma delta", "beta gamma"],
                              query="alpha")
    text_box, _, k_slider = app.children[:3]
    capsys.readouterr()
    k_slider.value = 1
    assert "Nearest to: 'alpha'" in capsys.readouterr().out
    text_box.value = "one more\nand another"
    assert "Nearest to: 'alpha'" in capsys.readouterr().out


@pytest.fixture
def two_models(tiny_model_dir):
    from helpers import SentenceEncoder
    from helpers.data import SENTENCE_TASKS
    from helpers.multitask import MultiTaskModel

    return {name: MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
            for name in ("frozen", "fine-tuned")}


def test_comparison_widget_shows_both_models(two_models, capsys):
    from helpers.widgets import compare_predictions, comparison_widget

    table = compare_predictions(two_models, "The ferry left late.")
    assert list(table.index) == [(task, name) for task in ("topic", "sentiment")
                                 for name in two_models]
    assert ((table["p"] > 0) & (table["p"] <= 1)).all()
    app = comparison_widget(two_models, "The ferry left late.")
    app.children[0].value = " "
    assert "type a sentence first" in capsys.readouterr().out


def test_error_browser_filters_mistakes_by_labels(two_models, small_data, capsys):
    from helpers.mistakes import wrong_predictions
    from helpers.widgets import ANY, error_browser, filter_mistakes

    model, rows = two_models["frozen"], small_data["validation"]
    table = wrong_predictions(model, rows)
    assert (table["true"] != table["predicted"]).all() and table["loss"].is_monotonic_decreasing
    negative = filter_mistakes(table, "sentiment", true="negative")
    assert (negative["true"] == "negative").all()
    topic = filter_mistakes(table, "topic", ANY, ANY, rows=100)
    assert len(topic) == (table["task"] == "topic").sum()
    with pytest.raises(ValueError, match="unknown task 'topci'"):
        filter_mistakes(table, "topci")
    app = error_browser(model, rows)
    task_box, true_box, _ = app.children[0].children
    task_box.value = "sentiment"
    assert true_box.options == (ANY, "negative", "neutral", "positive")
    out = capsys.readouterr().out
    assert "shown (highest loss first)" in out or "no such mistakes" in out
