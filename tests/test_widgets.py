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
