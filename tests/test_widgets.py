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
